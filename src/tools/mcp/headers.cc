#include "tools/mcp/headers.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>

#include "common/unique_fd.h"

namespace aikernel::tools::mcp {

namespace {

constexpr size_t kMaxSecretBytes = 8192;

bool TokenChar(char ch) {
  if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9')) {
    return true;
  }
  return std::strchr("!#$%&'*+-.^_`|~", ch) != nullptr && ch != '\0';
}

std::string Lower(std::string s) {
  for (char& ch : s) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  return s;
}

bool OwnedByTransport(const std::string& name) {
  static const char* const kOwned[] = {"content-type",  "accept",           "mcp-session-id",
                                       "mcp-protocol-version", "last-event-id", "host",
                                       "content-length", "transfer-encoding", "connection",
                                       "expect"};
  std::string l = Lower(name);
  for (const char* o : kOwned) {
    if (l == o) return true;
  }
  return false;
}

}  // namespace

Status ValidateHeaders(const std::vector<HttpHeader>& headers) {
  std::vector<std::string> seen;
  for (const HttpHeader& h : headers) {
    const std::string key = "headers." + h.name;
    if (h.name.empty()) return absl::InvalidArgumentError("headers: an empty header name");
    for (char ch : h.name) {
      if (ch == '\r' || ch == '\n' || ch == '\0') {
        return absl::InvalidArgumentError("headers: a header name contains CR, LF or NUL");
      }
      if (!TokenChar(ch)) {
        return absl::InvalidArgumentError(
            absl::StrCat(key, ": not an HTTP header name (letters, digits and !#$%&'*+-.^_`|~)"));
      }
    }
    if (OwnedByTransport(h.name)) {
      return absl::InvalidArgumentError(
          absl::StrCat(key, ": the transport sets this header itself"));
    }
    std::string l = Lower(h.name);
    for (const std::string& s : seen) {
      if (s == l) return absl::InvalidArgumentError(absl::StrCat(key, ": given twice"));
    }
    seen.push_back(l);
    if (h.value.find_first_of(std::string("\r\n\0", 3)) != std::string::npos) {
      return absl::InvalidArgumentError(
          absl::StrCat(key, ": the value contains CR, LF or NUL", h.secret ? " (from its file)" : ""));
    }
  }
  return absl::OkStatus();
}

StatusOr<std::string> ReadHeaderSecret(const std::string& path) {
  if (path.empty() || path[0] != '/') {
    return absl::InvalidArgumentError(absl::StrCat("'", path, "' is not an absolute path"));
  }
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK));
  if (!fd.valid()) {
    int e = errno;
    if (e == ELOOP) return absl::FailedPreconditionError(path + " is a symlink, not a regular file");
    return absl::FailedPreconditionError(absl::StrCat("cannot open ", path, ": ", std::strerror(e)));
  }
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) {
    return absl::FailedPreconditionError(absl::StrCat("cannot stat ", path, ": ", std::strerror(errno)));
  }
  if (!S_ISREG(st.st_mode)) return absl::FailedPreconditionError(path + " is not a regular file");
  if (st.st_uid != 0 && st.st_uid != ::geteuid()) {
    return absl::FailedPreconditionError(absl::StrCat(
        path, " is owned by uid ", st.st_uid, ": it must be owned by root or the daemon's uid (",
        ::geteuid(), ")"));
  }
  if ((st.st_mode & 0077) != 0) {
    char mode[8];
    std::snprintf(mode, sizeof(mode), "%04o", static_cast<unsigned>(st.st_mode & 07777));
    return absl::FailedPreconditionError(absl::StrCat(
        path, " has mode ", mode, ": it must not be group- or world-accessible (chmod 600)"));
  }
  std::string out;
  char buf[1024];
  for (;;) {
    ssize_t n = ::read(fd.get(), buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      return absl::FailedPreconditionError(absl::StrCat("cannot read ", path, ": ", std::strerror(errno)));
    }
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
    if (out.size() > kMaxSecretBytes) {
      return absl::FailedPreconditionError(
          absl::StrCat(path, " is larger than ", kMaxSecretBytes, " bytes"));
    }
  }
  while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) out.pop_back();
  if (out.empty()) return absl::FailedPreconditionError(path + " is empty");
  return out;
}

std::vector<std::string> ShownHeaders(const std::vector<HttpHeader>& headers) {
  std::vector<std::string> out;
  for (const HttpHeader& h : headers) {
    out.push_back(absl::StrCat(h.name, ": ", h.secret ? "<secret>" : h.value));
  }
  return out;
}

}  // namespace aikernel::tools::mcp
