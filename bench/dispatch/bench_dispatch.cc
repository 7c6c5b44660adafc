// bench_dispatch: the governed no-op against a raw gRPC echo, same run, same
// transport.
//
// Governed: Admin.Ping through the real aikerneld, started here as a
// subprocess on a temp state dir (authenticate, authorize, execute, audit
// durable before the reply), once with audit.synchronous = "full" and once
// with "normal".
// Raw: an aikernel.v1.Admin service whose Ping only echoes, served by this
// process with a sync gRPC server on its own Unix socket: this process
// accepts each connection and hands it to gRPC with AddInsecureChannelFromFd
// (O_NONBLOCK), exactly as the daemon does, with no kernel behind it.
// Clients: 1 and 4 threads, one connection each (a socket connected here and
// given to grpc::CreateInsecureChannelFromFd), each calling Ping in a loop
// for --seconds (default 3) after a short warm-up. Prints calls/s, p50/p99
// and governed/raw ratios next to the targets. Asserts nothing.
//
//   bench_dispatch [--seconds S] [--aikerneld PATH] [--mode full|normal] [--threads N]
//                  [--audit-extra 'checkpoint_every_ms = 86400000']
// (--mode and --threads narrow the run, e.g. to profile one cell.)
// The daemon decides every call with its Cedar authorizer over the shipped
// policy set (config/policies/default.cedar, via --policy-dir), as deployed.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <grpcpp/create_channel_posix.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/server_posix.h>

#include "aikernel/v1/admin.grpc.pb.h"
#include "bench/common/bench_daemon.h"

namespace {

namespace pb = ::aikernel::v1;
using Clock = std::chrono::steady_clock;

using aikernel::bench::BenchDaemon;
[[noreturn]] void Die(const std::string& what) { aikernel::bench::DieWith(what); }
sockaddr_un Addr(const std::string& path) { return aikernel::bench::UnixAddr(path); }

int ConnectUnix(const std::string& path) {
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un a = Addr(path);
  if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0) {
    Die("connect " + path + ": " + std::strerror(errno));
  }
  fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
  return fd;
}

// ------------------------------------------------------------ raw server

class EchoAdmin final : public pb::Admin::Service {
  grpc::Status Ping(grpc::ServerContext*, const pb::PingRequest* req,
                    pb::PingResponse* resp) override {
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
    if (!server_) Die("raw gRPC server failed to start");
    listen_fd_ = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un a = Addr(path_);
    unlink(path_.c_str());
    if (bind(listen_fd_, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0 ||
        listen(listen_fd_, 64) != 0) {
      Die("bind/listen " + path_ + ": " + std::strerror(errno));
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

// ------------------------------------------------------------- measuring

struct Cell {
  double calls_per_s = 0;
  double p50_us = 0, p99_us = 0;
  uint64_t errors = 0;
};

Cell Measure(const std::string& socket_path, int threads, double seconds) {
  std::vector<std::unique_ptr<pb::Admin::Stub>> stubs;
  for (int t = 0; t < threads; ++t) {
    auto ch = grpc::CreateInsecureChannelFromFd("bench", ConnectUnix(socket_path));
    stubs.push_back(pb::Admin::NewStub(ch));
  }
  std::atomic<int> phase{0};  // 0 warm-up, 1 measure, 2 stop
  std::vector<std::vector<uint32_t>> lat(threads);
  std::vector<uint64_t> errors(threads, 0);
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      pb::PingRequest req;
      req.set_payload("bench-ping");
      pb::PingResponse resp;
      lat[t].reserve(200000);
      for (;;) {
        int ph = phase.load(std::memory_order_relaxed);
        if (ph == 2) break;
        grpc::ClientContext ctx;
        auto t0 = Clock::now();
        grpc::Status s = stubs[t]->Ping(&ctx, req, &resp);
        auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - t0).count();
        if (ph != 1) continue;
        if (!s.ok()) {
          ++errors[t];
          continue;
        }
        lat[t].push_back(static_cast<uint32_t>(std::min<int64_t>(ns / 100, UINT32_MAX)));
      }
    });
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // warm-up (timed phase, not readiness)
  auto start = Clock::now();
  phase = 1;
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  phase = 2;
  double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
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

void PrintRow(const char* name, int threads, const Cell& c, const Cell* raw, const char* target) {
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

}  // namespace

int main(int argc, char** argv) {
  double seconds = 3.0;
  std::string binary = AIK_AIKERNELD_PATH;
  std::string only_mode;
  int only_threads = 0;
  std::string audit_extra;  // extra [audit] lines, e.g. to rule checkpoints out
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--seconds" && i + 1 < argc) {
      seconds = std::atof(argv[++i]);
    } else if (a == "--aikerneld" && i + 1 < argc) {
      binary = argv[++i];
    } else if (a == "--mode" && i + 1 < argc) {
      only_mode = argv[++i];
    } else if (a == "--audit-extra" && i + 1 < argc) {
      audit_extra = argv[++i];
    } else if (a == "--threads" && i + 1 < argc) {
      only_threads = std::atoi(argv[++i]);
    } else {
      std::fprintf(stderr,
                   "usage: bench_dispatch [--seconds S] [--aikerneld PATH] [--mode full|normal] "
                   "[--threads N] [--audit-extra TOML]\n");
      return 2;
    }
  }
  signal(SIGPIPE, SIG_IGN);
  char tmpl[] = "/tmp/aik-bench-XXXXXX";
  if (!mkdtemp(tmpl)) Die("mkdtemp failed");
  const std::string dir = tmpl;

  std::printf("bench_dispatch: Admin.Ping governed (real aikerneld: Cedar authorizer over %s, "
              "durable audit) vs raw gRPC echo, Unix socket, fd-adopted connections, sync "
              "servers; %.1f s per cell, %u cores\n\n",
              AIK_POLICY_DIR "/policies", seconds, std::thread::hardware_concurrency());
  std::printf("%-22s %7s %11s %10s %10s %9s  %s\n", "path", "threads", "calls/s", "p50 us",
              "p99 us", "ratio", "target");

  RawServer raw(dir + "/raw.sock");
  struct Mode {
    const char* sync;
    const char* target1;
    const char* target4;
  } modes[] = {{"full", "", ">= 0.70x raw (4 threads, FULL)"},
               {"normal", ">= 0.80x raw (1 thread, NORMAL)", ""}};
  for (const Mode& m : modes) {
    if (!only_mode.empty() && only_mode != m.sync) continue;
    const bool do1 = only_threads == 0 || only_threads == 1;
    const bool do4 = only_threads == 0 || only_threads == 4;
    Cell r1, r4, g1, g4;
    if (do1) r1 = Measure(raw.path(), 1, seconds);
    if (do4) r4 = Measure(raw.path(), 4, seconds);
    {
      BenchDaemon d(binary, dir + "/daemon-" + m.sync,
                    std::string("[node]\nname = \"bench\"\n[daemon]\nlog_level = \"warn\"\n"
                                "[audit]\nsynchronous = \"") +
                        m.sync + "\"\n" + audit_extra + "\n",
                    {"--policy-dir", AIK_POLICY_DIR});
      if (do1) g1 = Measure(d.socket(), 1, seconds);
      if (do4) g4 = Measure(d.socket(), 4, seconds);
    }
    std::string name = std::string("governed ") + m.sync;
    if (do1) {
      PrintRow("raw echo", 1, r1, nullptr, "");
      PrintRow(name.c_str(), 1, g1, &r1, m.target1);
    }
    if (do4) {
      PrintRow("raw echo", 4, r4, nullptr, "");
      PrintRow(name.c_str(), 4, g4, &r4, m.target4);
    }
    std::fflush(stdout);
  }
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
  return 0;
}
