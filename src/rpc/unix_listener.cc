#include "rpc/unix_listener.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include <spdlog/spdlog.h>

namespace aikernel::rpc {
namespace {

std::string Errno(const char* what, const std::string& path) {
  return absl::StrCat(what, " ", path, ": ", std::strerror(errno));
}

StatusOr<sockaddr_un> Address(const std::string& path) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.empty() || path.size() >= sizeof(addr.sun_path)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "socket path '", path, "' must be 1..", sizeof(addr.sun_path) - 1,
        " bytes"));
  }
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  return addr;
}

// Removes a stale socket file left by a daemon that died, but never one a
// live daemon still listens on, and never a file that is not a socket.
Status ClearStale(const std::string& path, const sockaddr_un& addr) {
  struct stat st {};
  if (lstat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return absl::OkStatus();
    return absl::FailedPreconditionError(Errno("cannot stat", path));
  }
  if (!S_ISSOCK(st.st_mode)) {
    return absl::FailedPreconditionError(
        absl::StrCat(path, " exists and is not a socket; refusing to replace it"));
  }
  UniqueFd probe(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (probe.valid() &&
      connect(probe.get(), reinterpret_cast<const sockaddr*>(&addr),
              sizeof(addr)) == 0) {
    return absl::FailedPreconditionError(absl::StrCat(
        "another daemon is listening on ", path, "; refusing to start"));
  }
  if (unlink(path.c_str()) != 0 && errno != ENOENT) {
    return absl::FailedPreconditionError(Errno("cannot remove stale socket", path));
  }
  return absl::OkStatus();
}

}  // namespace

StatusOr<std::unique_ptr<UnixListener>> UnixListener::Bind(
    boost::asio::io_context& io, const ListenerOptions& options) {
  AIK_ASSIGN_OR_RETURN(sockaddr_un addr, Address(options.path));
  std::error_code ec;
  auto parent = std::filesystem::path(options.path).parent_path();
  if (!parent.empty()) {
    std::filesystem::create_directories(parent, ec);
    if (ec) {
      return absl::FailedPreconditionError(absl::StrCat(
          "cannot create socket directory ", parent.string(), ": ", ec.message()));
    }
  }
  AIK_RETURN_IF_ERROR(ClearStale(options.path, addr));
  UniqueFd fd(socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd.valid()) return absl::InternalError(Errno("socket() for", options.path));
  // No umask juggling here: the umask is process-wide, and a child cloned
  // by another thread in that window inherited it. The daemon runs under
  // umask 0027, so the socket is never group- or world-writable (and so not
  // connectable by others) before the chmod below sets the configured mode.
  int rc = bind(fd.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof(addr));
  if (rc != 0) return absl::FailedPreconditionError(Errno("cannot bind", options.path));
  if (options.gid != static_cast<gid_t>(-1) &&
      chown(options.path.c_str(), static_cast<uid_t>(-1), options.gid) != 0) {
    return absl::FailedPreconditionError(Errno("cannot set group of", options.path));
  }
  if (chmod(options.path.c_str(), options.mode) != 0) {
    return absl::FailedPreconditionError(Errno("cannot chmod", options.path));
  }
  if (listen(fd.get(), options.backlog) != 0) {
    return absl::FailedPreconditionError(Errno("cannot listen on", options.path));
  }
  return std::unique_ptr<UnixListener>(
      new UnixListener(io, std::move(fd), options.path));
}

UnixListener::UnixListener(boost::asio::io_context& io, UniqueFd fd,
                           std::string path)
    : path_(std::move(path)), sd_(io, fd.release()) {}

UnixListener::~UnixListener() { Close(); }

void UnixListener::Start(OnAccept on_accept) {
  on_accept_ = std::move(on_accept);
  Arm();
}

void UnixListener::Arm() {
  sd_.async_wait(boost::asio::posix::stream_descriptor::wait_read,
                 [this](const boost::system::error_code& ec) {
                   if (ec || closed_) return;
                   // Drain the backlog: every ready connection, then re-arm.
                   for (;;) {
                     int c = accept4(sd_.native_handle(), nullptr, nullptr,
                                     SOCK_NONBLOCK | SOCK_CLOEXEC);
                     if (c < 0) {
                       if (errno == EINTR) continue;
                       if (errno != EAGAIN && errno != EWOULDBLOCK) {
                         spdlog::warn("accept on {}: {}", path_, std::strerror(errno));
                       }
                       break;
                     }
                     on_accept_(UniqueFd(c));
                   }
                   Arm();
                 });
}

void UnixListener::Close() {
  if (closed_) return;
  closed_ = true;
  boost::system::error_code ignored;
  sd_.close(ignored);
  unlink(path_.c_str());
}

}  // namespace aikernel::rpc
