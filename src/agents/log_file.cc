#include "agents/log_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

namespace aikernel::agents {
namespace {

Status Errno(const std::string& what) {
  return absl::UnavailableError(absl::StrCat(what, ": ", std::strerror(errno)));
}

std::string Rotated(const std::string& path, int n) { return path + "." + std::to_string(n); }

}  // namespace

Status LogFile::Open() {
  fd_.reset(::open(path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640));
  if (!fd_.valid() && errno == ENOENT) {
    std::error_code ec;
    std::filesystem::create_directories(std::filesystem::path(path_).parent_path(), ec);
    fd_.reset(::open(path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640));
  }
  if (!fd_.valid()) return Errno("open " + path_);
  struct stat st {};
  if (fstat(fd_.get(), &st) == 0) size_ = st.st_size;
  return absl::OkStatus();
}

Status LogFile::Rotate() {
  fd_.reset();
  if (keep_ <= 0) {
    if (truncate(path_.c_str(), 0) != 0 && errno != ENOENT) return Errno("truncate " + path_);
  } else {
    unlink(Rotated(path_, keep_).c_str());
    for (int i = keep_ - 1; i >= 1; --i) rename(Rotated(path_, i).c_str(), Rotated(path_, i + 1).c_str());
    if (rename(path_.c_str(), Rotated(path_, 1).c_str()) != 0 && errno != ENOENT) {
      return Errno("rename " + path_);
    }
  }
  size_ = 0;
  return Open();
}

Status LogFile::Write(std::string_view data) {
  if (!fd_.valid()) AIK_RETURN_IF_ERROR(Open());
  if (size_ > 0 && size_ + static_cast<int64_t>(data.size()) > max_bytes_) {
    AIK_RETURN_IF_ERROR(Rotate());
  }
  while (!data.empty()) {
    ssize_t n = ::write(fd_.get(), data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return Errno("write " + path_);
    }
    size_ += n;
    data.remove_prefix(static_cast<size_t>(n));
  }
  return absl::OkStatus();
}

void LogFile::RemoveAll() {
  fd_.reset();
  for (const auto& f : Files()) unlink(f.c_str());
}

std::vector<std::string> LogFile::Files() const {
  std::vector<std::string> out;
  for (int i = std::max(keep_, 0); i >= 1; --i) {
    if (access(Rotated(path_, i).c_str(), F_OK) == 0) out.push_back(Rotated(path_, i));
  }
  if (access(path_.c_str(), F_OK) == 0) out.push_back(path_);
  return out;
}

namespace {

// Reads fd from *offset to its current end, emitting chunks. false: emit
// asked to stop.
bool Drain(int fd, off_t* offset, const std::function<bool(const std::string&)>& emit) {
  char buf[32768];
  for (;;) {
    ssize_t n = pread(fd, buf, sizeof(buf), *offset);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return true;
    *offset += n;
    if (!emit(std::string(buf, static_cast<size_t>(n)))) return false;
  }
}

}  // namespace

Status FollowLog(const std::string& path, const FollowOptions& o, LogNotifier* notifier,
                 const std::function<bool(const std::string&)>& emit,
                 const std::function<bool()>& stop) {
  if (o.include_rotated) {
    for (int i = 64; i >= 1; --i) {
      std::string r = path + "." + std::to_string(i);
      UniqueFd fd(::open(r.c_str(), O_RDONLY | O_CLOEXEC));
      if (!fd.valid()) continue;
      off_t off = 0;
      if (!Drain(fd.get(), &off, emit)) return absl::OkStatus();
    }
  }
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  off_t off = 0;
  ino_t ino = 0;
  if (fd.valid()) {
    struct stat st {};
    fstat(fd.get(), &st);
    ino = st.st_ino;
    if (o.tail_bytes >= 0 && st.st_size > o.tail_bytes) off = st.st_size - o.tail_bytes;
    if (!Drain(fd.get(), &off, emit)) return absl::OkStatus();
  }
  if (!o.follow) return absl::OkStatus();
  uint64_t gen = notifier->generation();
  while (!stop()) {
    gen = notifier->Wait(gen, std::chrono::milliseconds(250));
    if (fd.valid() && !Drain(fd.get(), &off, emit)) return absl::OkStatus();
    // Rotated (or created) since: finish the old file above, start the new.
    struct stat st {};
    if (::stat(path.c_str(), &st) == 0 && (!fd.valid() || st.st_ino != ino)) {
      UniqueFd next(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
      if (next.valid()) {
        fd = std::move(next);
        ino = st.st_ino;
        off = 0;
        if (!Drain(fd.get(), &off, emit)) return absl::OkStatus();
      }
    } else if (fd.valid() && ::stat(path.c_str(), &st) == 0 && st.st_size < off) {
      off = 0;  // truncated in place (keep = 0)
    }
  }
  return absl::OkStatus();
}

}  // namespace aikernel::agents
