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

extern char** environ;

namespace {

namespace pb = ::aikernel::v1;
using Clock = std::chrono::steady_clock;

[[noreturn]] void Die(const std::string& what) {
  std::fprintf(stderr, "bench_dispatch: %s\n", what.c_str());
  std::exit(1);
}

sockaddr_un Addr(const std::string& path) {
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  if (path.size() >= sizeof(a.sun_path)) Die("socket path too long: " + path);
  std::memcpy(a.sun_path, path.c_str(), path.size() + 1);
  return a;
}

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

// ------------------------------------------------------------ the daemon

class Daemon {
 public:
  Daemon(const std::string& binary, const std::string& dir, const std::string& synchronous,
         const std::string& audit_extra)
      : dir_(dir), socket_(dir + "/aikernel.sock") {
    std::filesystem::create_directories(dir);
    std::ofstream(dir + "/aikerneld.toml") << "[node]\nname = \"bench\"\n[daemon]\nlog_level = "
                                              "\"warn\"\n[audit]\nsynchronous = \""
                                           << synchronous << "\"\n"
                                           << audit_extra << "\n";
    std::string notify = dir + "/notify.sock";
    int nfd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_un na = Addr(notify);
    unlink(notify.c_str());
    if (bind(nfd, reinterpret_cast<sockaddr*>(&na), sizeof(na)) != 0) Die("bind notify socket");

    std::vector<std::string> args = {binary,          "--foreground", "--config",
                                     dir + "/aikerneld.toml", "--state-dir", dir + "/state",
                                     "--socket",      socket_,
                                     "--policy-dir",  AIK_POLICY_DIR};
    std::vector<std::string> env;
    for (char** e = environ; *e; ++e) {
      if (std::strncmp(*e, "NOTIFY_SOCKET=", 14) != 0) env.emplace_back(*e);
    }
    env.push_back("NOTIFY_SOCKET=" + notify);
    std::vector<char*> argv, envp;
    for (auto& s : args) argv.push_back(s.data());
    argv.push_back(nullptr);
    for (auto& s : env) envp.push_back(s.data());
    envp.push_back(nullptr);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    std::string log = dir + "/daemon.log";
    posix_spawn_file_actions_addopen(&fa, 2, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (posix_spawn(&pid_, binary.c_str(), &fa, nullptr, argv.data(), envp.data()) != 0) {
      Die("cannot start " + binary);
    }
    posix_spawn_file_actions_destroy(&fa);
    int pidfd = static_cast<int>(syscall(SYS_pidfd_open, pid_, 0));
    auto deadline = Clock::now() + std::chrono::seconds(60);
    for (;;) {
      pollfd p[2] = {{nfd, POLLIN, 0}, {pidfd, POLLIN, 0}};
      int left = static_cast<int>(
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count());
      if (left <= 0 || poll(p, 2, left) <= 0) Die("aikerneld did not get ready; see " + log);
      if (p[1].revents) Die("aikerneld exited at start-up; see " + log);
      char buf[1024];
      ssize_t n = recv(nfd, buf, sizeof(buf), 0);
      if (n > 0 && ("\n" + std::string(buf, n) + "\n").find("\nREADY=1\n") != std::string::npos) {
        break;
      }
    }
    close(pidfd);
    close(nfd);
  }
  ~Daemon() {
    kill(pid_, SIGTERM);
    int st = 0;
    waitpid(pid_, &st, 0);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
      std::fprintf(stderr, "bench_dispatch: aikerneld exited with status %d\n", st);
    }
  }
  const std::string& socket() const { return socket_; }

 private:
  std::string dir_, socket_;
  pid_t pid_ = -1;
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
      Daemon d(binary, dir + "/daemon-" + m.sync, m.sync, audit_extra);
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
