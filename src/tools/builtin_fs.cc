// fs.read, fs.write, fs.list, fs.stat, fs.delete: files under the roots named
// in [tools.fs], every path resolved beneath the root's O_PATH fd with
// openat2(RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_SYMLINKS).
//
// Why no symlinks at all (not only none leading out): RESOLVE_BENEATH alone
// lets a symlink inside the root point at another place inside it, and an
// agent that may write under the root could then swap a directory for a
// symlink between an operator's check and its use; refusing every symlink
// keeps the rule "what the path names is what is touched" simple. The
// kernel (not this code) guarantees that no component resolves outside the
// root, including ".." and a component swapped for a symlink during the
// call, because each openat2 resolves the whole path atomically.
//
// Writes are atomic: a temp file is created with O_EXCL in the target's
// directory (itself opened beneath the root), written, fsynced, renamed over
// the target with renameat on that directory fd, and the directory fsynced.
// The final component of a write or delete is a plain name acted on
// relative to that directory fd, so it cannot be redirected either.
#include <dirent.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <random>

#include "common/text.h"
#include "common/unique_fd.h"
#include "tools/builtin.h"

namespace aikernel::tools {
namespace {

using nlohmann::json;

struct Root {
  FsRoot config;
  UniqueFd fd;  // O_PATH | O_DIRECTORY
};

using Roots = std::map<std::string, std::shared_ptr<Root>, std::less<>>;

std::string Errno(int e) { return std::strerror(e); }

// The call's error for a failed resolution of `path` under `root`.
Status PathError(int e, const std::string& root, const std::string& path, const char* op) {
  const std::string where = absl::StrCat("args.path: '", path, "' under root '", root, "'");
  switch (e) {
    case EXDEV:
      return absl::InvalidArgumentError(absl::StrCat(where, " leads outside the root"));
    case ELOOP:
      return absl::InvalidArgumentError(
          absl::StrCat(where, " goes through a symlink (symlinks are not followed under roots)"));
    case ENOENT:
      return absl::NotFoundError(absl::StrCat(where, ": no such file or directory"));
    case ENOTDIR:
      return absl::FailedPreconditionError(absl::StrCat(where, ": not a directory"));
    case EISDIR:
      return absl::FailedPreconditionError(absl::StrCat(where, ": is a directory"));
    case EEXIST:
      return absl::AlreadyExistsError(absl::StrCat(where, ": exists"));
    case ENOTEMPTY:
      return absl::FailedPreconditionError(absl::StrCat(where, ": directory is not empty"));
    case EACCES:
    case EPERM:
    case EROFS:
      return absl::PermissionDeniedError(absl::StrCat(where, ": ", op, ": ", Errno(e)));
    case ENOSPC:
    case EDQUOT:
      return absl::ResourceExhaustedError(absl::StrCat(where, ": ", op, ": ", Errno(e)));
    default:
      return absl::InternalError(absl::StrCat(where, ": ", op, ": ", Errno(e)));
  }
}

constexpr uint64_t kResolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_SYMLINKS;

// Opens `rel` beneath `root` (an empty path or "." is the root itself).
StatusOr<UniqueFd> OpenBeneath(const Root& root, const std::string& rel, uint64_t flags,
                               uint64_t mode = 0) {
  open_how how{};
  how.flags = flags | O_CLOEXEC;
  how.mode = mode;
  how.resolve = kResolve;
  const std::string p = rel.empty() ? "." : rel;
  for (;;) {
    long fd = syscall(SYS_openat2, root.fd.get(), p.c_str(), &how, sizeof(how));
    if (fd >= 0) return UniqueFd(static_cast<int>(fd));
    // EAGAIN: a concurrent rename raced the resolution; the kernel asks to retry.
    if (errno == EAGAIN || errno == EINTR) continue;
    return PathError(errno, root.config.name, rel, "open");
  }
}

struct Target {
  std::shared_ptr<Root> root;
  std::string path;  // as given
};

StatusOr<Target> ReadTarget(const Roots& roots, const json& args, bool write) {
  Target t;
  const std::string name = args.value("root", "");
  auto it = roots.find(name);
  if (it == roots.end()) {
    std::string known;
    for (const auto& [n, _] : roots) absl::StrAppend(&known, known.empty() ? "" : ", ", n);
    return absl::InvalidArgumentError(
        absl::StrCat("args.root: no root named '", name, "' (configured: ", known, ")"));
  }
  t.root = it->second;
  if (write && !t.root->config.writable) {
    return absl::PermissionDeniedError(
        absl::StrCat("args.root: root '", name, "' is read-only ([tools.fs] writable = false)"));
  }
  t.path = args.value("path", "");
  if (!t.path.empty() && t.path.front() == '/') {
    return absl::InvalidArgumentError(absl::StrCat(
        "args.path: '", t.path, "' is absolute; paths are relative to the root"));
  }
  if (t.path.find('\0') != std::string::npos) {
    return absl::InvalidArgumentError("args.path: contains a NUL byte");
  }
  return t;
}

// "a/b/c" -> {"a/b", "c"}; "c" -> {"", "c"}. INVALID_ARGUMENT when the last
// component is not a plain name (".", "..", empty).
StatusOr<std::pair<std::string, std::string>> SplitParent(const std::string& path) {
  std::string p = path;
  while (p.size() > 1 && p.back() == '/') p.pop_back();
  size_t slash = p.rfind('/');
  std::string dir = slash == std::string::npos ? "" : p.substr(0, slash);
  std::string base = slash == std::string::npos ? p : p.substr(slash + 1);
  if (base.empty() || base == "." || base == "..") {
    return absl::InvalidArgumentError(
        absl::StrCat("args.path: '", path, "' does not end in a file name"));
  }
  return std::make_pair(dir, base);
}

const char* TypeName(mode_t m) {
  if (S_ISREG(m)) return "file";
  if (S_ISDIR(m)) return "directory";
  if (S_ISLNK(m)) return "symlink";
  return "other";
}

json StatJson(const struct stat& st) {
  char mode[8];
  snprintf(mode, sizeof(mode), "%04o", st.st_mode & 07777);
  return {{"type", TypeName(st.st_mode)},
          {"size", static_cast<int64_t>(st.st_size)},
          {"mode", mode},
          {"mtime_ns", int64_t{st.st_mtim.tv_sec} * 1'000'000'000 + st.st_mtim.tv_nsec}};
}

Status WriteAll(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return absl::InternalError(absl::StrCat("write: ", Errno(errno)));
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  return absl::OkStatus();
}

// ------------------------------------------------------------------ tools

StatusOr<ToolResult> Read(const Roots& roots, const BuiltinOptions& o, const json& args) {
  AIK_ASSIGN_OR_RETURN(Target t, ReadTarget(roots, args, false));
  AIK_ASSIGN_OR_RETURN(UniqueFd fd, OpenBeneath(*t.root, t.path, O_RDONLY | O_NOCTTY | O_NONBLOCK));
  struct stat st {};
  if (fstat(fd.get(), &st) != 0) return PathError(errno, t.root->config.name, t.path, "fstat");
  if (!S_ISREG(st.st_mode)) return PathError(EISDIR, t.root->config.name, t.path, "read");
  const int64_t offset = args.value("offset", int64_t{0});
  const bool ranged = args.contains("length");
  const int64_t want = ranged ? args["length"].get<int64_t>() : st.st_size - offset;
  if (want > o.fs_max_read_bytes) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "args.path: '", t.path, "' has ", std::max<int64_t>(st.st_size - offset, 0),
        " bytes to read, more than [tools.fs] max_read_bytes = ", o.fs_max_read_bytes,
        "; ask for a range with offset and length"));
  }
  std::string data(static_cast<size_t>(std::max<int64_t>(want, 0)), '\0');
  size_t got = 0;
  while (got < data.size()) {
    ssize_t n = pread(fd.get(), data.data() + got, data.size() - got,
                      static_cast<off_t>(offset + static_cast<int64_t>(got)));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return PathError(errno, t.root->config.name, t.path, "read");
    if (n == 0) break;
    got += static_cast<size_t>(n);
  }
  data.resize(got);
  const std::string encoding = args.value("encoding", "utf8");
  if (encoding == "utf8" && !ValidUtf8(data)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "args.encoding: '", t.path, "' is not valid UTF-8; read it with \"encoding\": \"base64\""));
  }
  ToolResult r;
  r.content = {{"root", t.root->config.name},
               {"path", t.path},
               {"size", static_cast<int64_t>(st.st_size)},
               {"offset", offset},
               {"bytes", got},
               {"eof", offset + static_cast<int64_t>(got) >= st.st_size},
               {"encoding", encoding},
               {"content", encoding == "utf8" ? data : Base64Encode(data)}};
  return r;
}

StatusOr<ToolResult> Write(const Roots& roots, const BuiltinOptions& o, const json& args) {
  AIK_ASSIGN_OR_RETURN(Target t, ReadTarget(roots, args, true));
  AIK_ASSIGN_OR_RETURN(auto parts, SplitParent(t.path));
  const auto& [dir, base] = parts;
  std::string data = args.value("content", "");
  if (args.value("encoding", "utf8") == "base64") {
    std::string raw;
    if (!Base64Decode(data, &raw)) return absl::InvalidArgumentError("args.content: not base64");
    data = std::move(raw);
  }
  if (static_cast<int64_t>(data.size()) > o.fs_max_write_bytes) {
    return absl::ResourceExhaustedError(absl::StrCat("args.content: ", data.size(),
                                                     " bytes, more than [tools.fs] "
                                                     "max_write_bytes = ",
                                                     o.fs_max_write_bytes));
  }
  AIK_ASSIGN_OR_RETURN(UniqueFd dirfd, OpenBeneath(*t.root, dir, O_RDONLY | O_DIRECTORY));
  const bool exclusive = !args.value("overwrite", true);
  struct stat old {};
  if (fstatat(dirfd.get(), base.c_str(), &old, AT_SYMLINK_NOFOLLOW) == 0) {
    if (exclusive) return PathError(EEXIST, t.root->config.name, t.path, "write");
    if (!S_ISREG(old.st_mode)) {
      return absl::FailedPreconditionError(absl::StrCat(
          "args.path: '", t.path, "' is a ", TypeName(old.st_mode), ", not a file"));
    }
  }
  std::mt19937_64 rng(std::random_device{}());
  const std::string tmp = absl::StrCat(".aik-write-", rng(), ".tmp");
  mode_t mode = 0640;
  if (args.contains("mode")) {  // the schema's pattern: three or four octal digits
    mode = 0;
    for (char c : args["mode"].get<std::string>()) mode = mode * 8 + static_cast<mode_t>(c - '0');
  }
  int raw = openat(dirfd.get(), tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW,
                   mode);
  if (raw < 0) return PathError(errno, t.root->config.name, t.path, "create temp file");
  UniqueFd fd(raw);
  fchmod(fd.get(), mode);  // not narrowed by the daemon's umask
  Status st = WriteAll(fd.get(), data);
  if (st.ok() && fsync(fd.get()) != 0) st = absl::InternalError("fsync: " + Errno(errno));
  if (st.ok()) {
    // RENAME_NOREPLACE keeps "overwrite": false atomic against a racing create.
    unsigned flags = exclusive ? RENAME_NOREPLACE : 0;
    if (renameat2(dirfd.get(), tmp.c_str(), dirfd.get(), base.c_str(), flags) != 0) {
      st = PathError(errno, t.root->config.name, t.path, "rename");
    }
  }
  if (!st.ok()) {
    unlinkat(dirfd.get(), tmp.c_str(), 0);
    return st;
  }
  fsync(dirfd.get());  // the rename itself survives a crash
  ToolResult r;
  r.content = {{"root", t.root->config.name}, {"path", t.path}, {"bytes", data.size()}};
  return r;
}

StatusOr<ToolResult> List(const Roots& roots, const BuiltinOptions& o, const json& args) {
  AIK_ASSIGN_OR_RETURN(Target t, ReadTarget(roots, args, false));
  AIK_ASSIGN_OR_RETURN(UniqueFd fd, OpenBeneath(*t.root, t.path, O_RDONLY | O_DIRECTORY));
  const int64_t max = std::min<int64_t>(args.value("max_entries", o.fs_max_list_entries),
                                        o.fs_max_list_entries);
  int dup_fd = fcntl(fd.get(), F_DUPFD_CLOEXEC, 0);
  DIR* d = dup_fd < 0 ? nullptr : fdopendir(dup_fd);
  if (d == nullptr) {
    if (dup_fd >= 0) close(dup_fd);
    return PathError(errno, t.root->config.name, t.path, "opendir");
  }
  std::vector<json> entries;
  bool truncated = false;
  while (dirent* e = readdir(d)) {
    std::string name = e->d_name;
    if (name == "." || name == "..") continue;
    if (static_cast<int64_t>(entries.size()) >= max) {
      truncated = true;
      break;
    }
    struct stat st {};
    json entry = {{"name", name}};
    if (fstatat(fd.get(), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0) {
      entry["type"] = TypeName(st.st_mode);
      entry["size"] = static_cast<int64_t>(st.st_size);
    }
    entries.push_back(std::move(entry));
  }
  closedir(d);
  std::sort(entries.begin(), entries.end(),
            [](const json& a, const json& b) { return a["name"] < b["name"]; });
  ToolResult r;
  r.content = {{"root", t.root->config.name},
               {"path", t.path},
               {"entries", entries},
               {"truncated", truncated}};
  return r;
}

StatusOr<ToolResult> Stat(const Roots& roots, const json& args) {
  AIK_ASSIGN_OR_RETURN(Target t, ReadTarget(roots, args, false));
  AIK_ASSIGN_OR_RETURN(UniqueFd fd, OpenBeneath(*t.root, t.path, O_PATH));
  struct stat st {};
  if (fstat(fd.get(), &st) != 0) return PathError(errno, t.root->config.name, t.path, "fstat");
  ToolResult r;
  r.content = StatJson(st);
  r.content["root"] = t.root->config.name;
  r.content["path"] = t.path;
  return r;
}

StatusOr<ToolResult> Delete(const Roots& roots, const json& args) {
  AIK_ASSIGN_OR_RETURN(Target t, ReadTarget(roots, args, true));
  AIK_ASSIGN_OR_RETURN(auto parts, SplitParent(t.path));
  const auto& [dir, base] = parts;
  AIK_ASSIGN_OR_RETURN(UniqueFd dirfd, OpenBeneath(*t.root, dir, O_RDONLY | O_DIRECTORY));
  struct stat st {};
  if (fstatat(dirfd.get(), base.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
    return PathError(errno, t.root->config.name, t.path, "stat");
  }
  const bool is_dir = S_ISDIR(st.st_mode);
  if (unlinkat(dirfd.get(), base.c_str(), is_dir ? AT_REMOVEDIR : 0) != 0) {
    return PathError(errno, t.root->config.name, t.path, "unlink");
  }
  fsync(dirfd.get());
  ToolResult r;
  r.content = {{"root", t.root->config.name}, {"path", t.path}, {"deleted", TypeName(st.st_mode)}};
  return r;
}

constexpr char kRootPath[] = R"("root":{"type":"string","minLength":1,"description":"a root named in [tools.fs]"},
  "path":{"type":"string","description":"relative to the root; no symlinks, no way out"})";

std::string Schema(const std::string& extra, const char* required = R"(["root","path"])") {
  return absl::StrCat(R"({"type":"object","properties":{)", kRootPath, extra,
                      R"(},"required":)", required, R"(,"additionalProperties":false})");
}

}  // namespace

StatusOr<std::vector<BuiltinTool>> FsTools(const BuiltinOptions& o) {
  if (o.fs_roots.empty()) return std::vector<BuiltinTool>{};
  auto roots = std::make_shared<Roots>();
  for (const FsRoot& r : o.fs_roots) {
    int fd = open(r.path.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
      return absl::InvalidArgumentError(absl::StrCat("tools.fs.roots: root '", r.name, "' (",
                                                     r.path, "): ", Errno(errno)));
    }
    auto root = std::make_shared<Root>();
    root->config = r;
    root->fd = UniqueFd(fd);
    roots->emplace(r.name, std::move(root));
  }
  std::vector<BuiltinTool> out;
  auto add = [&](const char* name, const char* desc, const std::string& schema, auto fn) {
    BuiltinTool t;
    t.tool = MakeBuiltinTool(name, desc, schema.c_str());
    t.call = [roots, o, fn](const json& args, const CallContext&) { return fn(*roots, o, args); };
    out.push_back(std::move(t));
  };
  add("fs.read",
      "Read a file under a configured root: UTF-8 text, or base64 with encoding \"base64\". "
      "At most [tools.fs] max_read_bytes per call; ask for a range with offset and length.",
      Schema(R"(,"offset":{"type":"integer","minimum":0},"length":{"type":"integer","minimum":0},
        "encoding":{"enum":["utf8","base64"]})"),
      Read);
  add("fs.write",
      "Write a file under a writable root, atomically (temp file, fsync, rename). content is "
      "UTF-8 text, or base64 with encoding \"base64\"; overwrite false refuses an existing file.",
      Schema(R"(,"content":{"type":"string"},"encoding":{"enum":["utf8","base64"]},
        "overwrite":{"type":"boolean"},"mode":{"type":"string","pattern":"^0?[0-7]{3}$"})",
             R"(["root","path","content"])"),
      Write);
  add("fs.list", "List a directory under a root: name, type and size of each entry.",
      Schema(R"(,"max_entries":{"type":"integer","minimum":1})", R"(["root"])"),
      List);
  add("fs.stat", "Type, size, mode and modification time of a path under a root.", Schema(""),
      [](const Roots& r, const BuiltinOptions&, const json& a) { return Stat(r, a); });
  add("fs.delete", "Delete a file or an empty directory under a writable root.", Schema(""),
      [](const Roots& r, const BuiltinOptions&, const json& a) { return Delete(r, a); });
  return out;
}

}  // namespace aikernel::tools
