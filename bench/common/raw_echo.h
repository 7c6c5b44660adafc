// The raw gRPC echo peer and the closed-loop measurement shared by the
// benchmarks that compare a governed call with it (bench_dispatch,
// bench_tools). Header-only.
//
// RawServer: an aikernel.v1.Admin service whose Ping only echoes, served by
// this process with a sync gRPC server on its own Unix socket; the process
// accepts each connection and hands it to gRPC with AddInsecureChannelFromFd
// (O_NONBLOCK), exactly as the daemon does, with no kernel behind it.
// Measure: `threads` clients, one connection each (a socket connected here
// and given to grpc::CreateInsecureChannelFromFd), each making calls in a
// loop for `seconds` after a 300 ms warm-up; calls/s and p50/p99.
#pragma once

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <grpcpp/create_channel_posix.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/server_posix.h>

#include "aikernel/v1/admin.grpc.pb.h"
#include "bench/common/bench_daemon.h"

namespace aikernel::bench {

inline int ConnectUnix(const std::string& path) {
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un a = UnixAddr(path);
  if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0) {
    DieWith("connect " + path + ": " + std::strerror(errno));
  }
  fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
  return fd;
}

class EchoAdmin final : public ::aikernel::v1::Admin::Service {
  grpc::Status Ping(grpc::ServerContext*, const ::aikernel::v1::PingRequest* req,
                    ::aikernel::v1::PingResponse* resp) override {
    resp->set_payload(req->payload());
    return grpc::Status::OK;
  }
};

class RawServer {
 public:
  explicit RawServer(std::string path) : path_(std::move(path)) {
    grpc::ServerBuilder b;
    b.RegisterService(&service_);
    server_ = b.BuildAndStart();
    if (!server_) DieWith("raw gRPC server failed to start");
    listen_fd_ = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un a = UnixAddr(path_);
    unlink(path_.c_str());
    if (bind(listen_fd_, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0 ||
        listen(listen_fd_, 64) != 0) {
      DieWith("bind/listen " + path_ + ": " + std::strerror(errno));
    }
    acceptor_ = std::thread([this] {
      for (;;) {
        int c = accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (c < 0) {
          if (errno == EINTR) continue;
          return;  // listen_fd_ shut down
        }
        grpc::AddInsecureChannelFromFd(server_.get(), c);
      }
    });
  }
  ~RawServer() {
    shutdown(listen_fd_, SHUT_RDWR);
    acceptor_.join();
    close(listen_fd_);
    server_->Shutdown(std::chrono::system_clock::now());
    unlink(path_.c_str());
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  EchoAdmin service_;
  std::unique_ptr<grpc::Server> server_;
  int listen_fd_ = -1;
  std::thread acceptor_;
};

struct Cell {
  double calls_per_s = 0;
  double p50_us = 0, p99_us = 0;
  uint64_t errors = 0;
};

// One client's call: makes one call on its channel; false on error.
using CallOnce = std::function<bool()>;
// Builds a client's CallOnce over `channel` (called once per thread).
using MakeCaller = std::function<CallOnce(std::shared_ptr<grpc::Channel> channel)>;

inline Cell Measure(const std::string& socket_path, int threads, double seconds,
                    const MakeCaller& make) {
  std::vector<CallOnce> callers;
  for (int t = 0; t < threads; ++t) {
    callers.push_back(make(grpc::CreateInsecureChannelFromFd("bench", ConnectUnix(socket_path))));
  }
  std::atomic<int> phase{0};  // 0 warm-up, 1 measure, 2 stop
  std::vector<std::vector<uint32_t>> lat(threads);
  std::vector<uint64_t> errors(threads, 0);
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      lat[t].reserve(200000);
      for (;;) {
        int ph = phase.load(std::memory_order_relaxed);
        if (ph == 2) break;
        auto t0 = std::chrono::steady_clock::now();
        bool ok = callers[t]();
        auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                      std::chrono::steady_clock::now() - t0)
                      .count();
        if (ph != 1) continue;
        if (!ok) {
          ++errors[t];
          continue;
        }
        lat[t].push_back(static_cast<uint32_t>(std::min<int64_t>(ns / 100, UINT32_MAX)));
      }
    });
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // warm-up (timed phase, not readiness)
  auto start = std::chrono::steady_clock::now();
  phase = 1;
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  phase = 2;
  double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  for (auto& th : pool) th.join();
  std::vector<uint32_t> all;
  Cell c;
  for (int t = 0; t < threads; ++t) {
    all.insert(all.end(), lat[t].begin(), lat[t].end());
    c.errors += errors[t];
  }
  if (all.empty()) return c;
  std::sort(all.begin(), all.end());
  c.calls_per_s = static_cast<double>(all.size()) / elapsed;
  c.p50_us = all[all.size() / 2] / 10.0;
  c.p99_us = all[std::min(all.size() - 1, all.size() * 99 / 100)] / 10.0;
  return c;
}

// Admin.Ping with a fixed payload: the raw echo's call, and the governed no-op's.
inline MakeCaller PingCaller() {
  return [](std::shared_ptr<grpc::Channel> ch) -> CallOnce {
    struct State {
      std::unique_ptr<::aikernel::v1::Admin::Stub> stub;
      ::aikernel::v1::PingRequest req;
      ::aikernel::v1::PingResponse resp;
    };
    auto s = std::make_shared<State>();
    s->stub = ::aikernel::v1::Admin::NewStub(ch);
    s->req.set_payload("bench-ping");
    return [s] {
      grpc::ClientContext ctx;
      return s->stub->Ping(&ctx, s->req, &s->resp).ok();
    };
  };
}

inline void PrintRow(const char* name, int threads, const Cell& c, const Cell* raw,
                     const char* target) {
  std::printf("%-22s %7d %11.0f %10.1f %10.1f", name, threads, c.calls_per_s, c.p50_us, c.p99_us);
  if (raw && raw->calls_per_s > 0) {
    std::printf(" %8.2fx", c.calls_per_s / raw->calls_per_s);
  } else {
    std::printf(" %9s", "");
  }
  std::printf("  %s", target);
  if (c.errors) std::printf("  (%llu errors)", static_cast<unsigned long long>(c.errors));
  std::printf("\n");
}

}  // namespace aikernel::bench
