// rpc::UnixListener: the daemon's Unix socket, accepted by the daemon itself.
//
// The daemon, not gRPC, accepts connections so it can read each peer's
// credentials before any byte of a request is parsed. Bind() creates the
// socket file (mode and group from config), refusing to steal the path from
// a live daemon; Start() accepts on the Boost.Asio loop and passes each new
// connection, already O_NONBLOCK|O_CLOEXEC as gRPC requires, to the
// callback. Not thread-safe: use from the loop's thread. Close() stops
// accepting and removes the socket file; the destructor calls it.
#pragma once

#include <sys/types.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <functional>
#include <memory>
#include <string>

#include "common/status.h"
#include "common/unique_fd.h"

namespace aikernel::rpc {

struct ListenerOptions {
  std::string path;
  mode_t mode = 0660;
  gid_t gid = static_cast<gid_t>(-1);  // -1: keep the daemon's group
  int backlog = 256;
};

class UnixListener {
 public:
  using OnAccept = std::function<void(UniqueFd)>;

  static StatusOr<std::unique_ptr<UnixListener>> Bind(
      boost::asio::io_context& io, const ListenerOptions& options);
  ~UnixListener();

  void Start(OnAccept on_accept);
  void Close();
  const std::string& path() const { return path_; }

 private:
  UnixListener(boost::asio::io_context& io, UniqueFd fd, std::string path);
  void Arm();

  std::string path_;
  boost::asio::posix::stream_descriptor sd_;
  OnAccept on_accept_;
  bool closed_ = false;
};

}  // namespace aikernel::rpc
