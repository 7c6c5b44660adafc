// The raw gRPC echo peer and the closed-loop measurement shared by the
// benchmarks that compare a governed call with it (bench_dispatch,
// bench_tools). Header-only.
//
// RawServer: an aikernel.v1.Admin service whose Ping only echoes, served by
// a CHILD process (the benchmark's own binary re-executed with --serve-raw)
// with a sync gRPC server on its own Unix socket; the child accepts each
// connection and hands it to gRPC with AddInsecureChannelFromFd
// (O_NONBLOCK), exactly as the daemon does, with no kernel behind it.
// Why a child: gRPC's poller is process-global, so a server in the
// benchmark's process has its idle sync-server threads pick up the
// clients' socket events and wake the client thread, an extra hop on
// every measured call that the governed cells (server in aikerneld) do not
// pay the same way. With both servers out of process every cell measures
// the same client. A benchmark using RawServer calls ServeRawIfAsked()
// first thing in main().
// Measure: `threads` clients, one connection each (a socket connected here
// and given to grpc::CreateInsecureChannelFromFd), each making calls in a
// loop for `seconds` after a 300 ms warm-up; calls/s, p50/p99, and, when
// given the server's pid, the server's CPU time and context switches per
// call over the measured phase (ServerUsage) and the client's own CPU per call.
#pragma once

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <grpcpp/create_channel_posix.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/server_posix.h>

#include "aikernel/v1/admin.grpc.pb.h"
#include "bench/common/bench_daemon.h"
#include "bench/common/raw_variants.h"

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

// The fds RawServer hands its child: the listening socket and the write end
// of the readiness pipe.
constexpr int kRawListenFd = 3;
constexpr int kRawReadyFd = 4;
constexpr const char* kServeRawFlag = "--serve-raw";

// In a child started by RawServer, once `server` is up: says so on
// kRawReadyFd, then hands every connection accepted on kRawListenFd to it
// (O_NONBLOCK, as the daemon does) until killed. `who` names it in errors.
[[noreturn]] inline void ServeAcceptedConnections(grpc::Server* server, const char* who) {
  if (write(kRawReadyFd, "R", 1) != 1) DieWith(std::string(who) + ": readiness pipe");
  close(kRawReadyFd);
  for (;;) {
    int c = accept4(kRawListenFd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (c < 0) {
      if (errno == EINTR) continue;
      DieWith(std::string(who) + ": accept: " + std::strerror(errno));
    }
    grpc::AddInsecureChannelFromFd(server, c);
  }
}

// In the child (argv[1] == --serve-raw, argv[2] the server spec of
// raw_variants.h, empty for gRPC's default sync server): serves the echo on
// kRawListenFd until killed and never returns. Otherwise returns at once.
inline void ServeRawIfAsked(int argc, char** argv) {
  if (argc < 2 || std::strcmp(argv[1], kServeRawFlag) != 0) return;
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  ServeRawSpec(argc > 2 ? argv[2] : "",
               [](grpc::Server* server) { ServeAcceptedConnections(server, "raw server"); });
}

class RawServer {
 public:
  // Binds and listens on `path` here, then starts this binary again with
  // --serve-raw to serve it, and returns once the child's server is up.
  // `spec`: the server set-up (raw_variants.h); empty for gRPC's defaults.
  explicit RawServer(std::string path, const std::string& spec = "")
      : RawServer(std::move(path), {kServeRawFlag, spec}, "the raw echo server") {}
  // The same for another server of this binary's: `args` follow argv[0]
  // (the child calls ServeAcceptedConnections once its server is up);
  // `what` names it in errors.
  RawServer(std::string path, const std::vector<std::string>& args, const std::string& what)
      : path_(std::move(path)) {
    int listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un a = UnixAddr(path_);
    unlink(path_.c_str());
    if (bind(listen_fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0 ||
        listen(listen_fd, 64) != 0) {
      DieWith("bind/listen " + path_ + ": " + std::strerror(errno));
    }
    int ready[2];
    if (pipe2(ready, O_CLOEXEC) != 0) DieWith("pipe2");
    char self[4096];
    ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
    if (n <= 0) DieWith("readlink /proc/self/exe");
    self[n] = '\0';
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, listen_fd, kRawListenFd);
    posix_spawn_file_actions_adddup2(&fa, ready[1], kRawReadyFd);
    std::vector<std::string> tail = args;
    std::vector<char*> argv = {self};
    for (std::string& arg : tail) argv.push_back(arg.data());
    argv.push_back(nullptr);
    if (posix_spawn(&pid_, self, &fa, nullptr, argv.data(), environ) != 0) {
      DieWith("cannot start " + what);
    }
    posix_spawn_file_actions_destroy(&fa);
    close(listen_fd);
    close(ready[1]);
    int pidfd = static_cast<int>(syscall(SYS_pidfd_open, pid_, 0));
    pollfd p[2] = {{ready[0], POLLIN, 0}, {pidfd, POLLIN, 0}};
    char c = 0;
    if (poll(p, 2, 60'000) <= 0 || read(ready[0], &c, 1) != 1 || c != 'R') {
      DieWith(what + " did not start");
    }
    close(ready[0]);
    close(pidfd);
  }
  ~RawServer() {
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
    unlink(path_.c_str());
  }
  RawServer(const RawServer&) = delete;
  RawServer& operator=(const RawServer&) = delete;
  const std::string& path() const { return path_; }
  pid_t pid() const { return pid_; }

 private:
  std::string path_;
  pid_t pid_ = -1;
};

// A process's CPU time and context switches over an interval, from /proc:
// the CPU time of all its threads (ended ones included, /proc/PID/stat), and
// the switches of each thread alive at the end (/proc/PID/task/T/status,
// minus the count at the start for threads that were already there). A
// thread that ended inside the interval is missing from the switch count,
// so Stop() also says how many did. (perf stat -p was tried: attached to
// aikerneld it more than doubled the CPU per call it was measuring.)
class ServerUsage {
 public:
  explicit ServerUsage(pid_t pid) : base_("/proc/" + std::to_string(pid)) {
    cpu0_ = CpuSeconds();
    switches0_ = ThreadSwitches();
  }
  void Stop(double* cpu_s, double* switches, int* threads_ended) {
    *cpu_s = CpuSeconds() - cpu0_;
    std::map<std::string, uint64_t> now = ThreadSwitches();
    uint64_t total = 0;
    for (const auto& [tid, n] : now) {
      auto it = switches0_.find(tid);
      total += n - (it == switches0_.end() ? 0 : it->second);
    }
    *threads_ended = 0;
    for (const auto& [tid, n] : switches0_) *threads_ended += now.count(tid) == 0 ? 1 : 0;
    *switches = static_cast<double>(total);
  }

 private:
  double CpuSeconds() const {
    std::ifstream in(base_ + "/stat");
    std::string line;
    std::getline(in, line);
    // Fields after "(comm)" start at field 3 (state); utime, stime are 14, 15.
    const size_t close = line.rfind(')');
    if (close == std::string::npos) return 0;
    std::istringstream rest(line.substr(close + 2));
    std::string f;
    unsigned long long utime = 0, stime = 0;
    for (int field = 3; field <= 15 && rest >> f; ++field) {
      if (field == 14) utime = std::stoull(f);
      if (field == 15) stime = std::stoull(f);
    }
    return static_cast<double>(utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
  }
  std::map<std::string, uint64_t> ThreadSwitches() const {
    std::map<std::string, uint64_t> out;
    DIR* d = opendir((base_ + "/task").c_str());
    if (d == nullptr) return out;
    while (dirent* e = readdir(d)) {
      if (e->d_name[0] == '.') continue;
      std::ifstream in(base_ + "/task/" + e->d_name + "/status");
      uint64_t n = 0;
      for (std::string line; std::getline(in, line);) {
        if (line.rfind("voluntary_ctxt_switches:", 0) == 0 ||
            line.rfind("nonvoluntary_ctxt_switches:", 0) == 0) {
          n += std::stoull(line.substr(line.find(':') + 1));
        }
      }
      out[e->d_name] = n;
    }
    closedir(d);
    return out;
  }

  std::string base_;
  double cpu0_ = 0;
  std::map<std::string, uint64_t> switches0_;
};

inline double SelfCpuSeconds() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
         static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

struct Cell {
  double calls_per_s = 0;
  double p50_us = 0, p99_us = 0;
  uint64_t errors = 0;
  // Per measured call; negative when not measured (no server pid given).
  double server_cpu_us = -1;
  double server_switches = -1;
  int server_threads_ended = 0;  // the switch count misses these threads
  double client_cpu_us = -1;
};

// One client's call: makes one call on its channel; false on error.
using CallOnce = std::function<bool()>;
// Builds a client's CallOnce over `channel` (called once per thread).
using MakeCaller = std::function<CallOnce(std::shared_ptr<grpc::Channel> channel)>;

// How the clients call: their channel arguments (raw_variants.h's client
// options) and an idle gap after each call (0: back to back), so a call can
// be measured as it is made after the client and server have gone idle.
struct ClientSetup {
  std::string args;
  int gap_us = 0;
};

inline Cell Measure(const std::string& socket_path, int threads, double seconds,
                    const MakeCaller& make, pid_t server_pid = -1,
                    const ClientSetup& setup = {}) {
  std::vector<CallOnce> callers;
  for (int t = 0; t < threads; ++t) {
    callers.push_back(make(grpc::CreateCustomInsecureChannelFromFd(
        "bench", ConnectUnix(socket_path), ClientArgs(ParseRawSpec(setup.args, false)))));
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
        if (setup.gap_us > 0) std::this_thread::sleep_for(std::chrono::microseconds(setup.gap_us));
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
  std::unique_ptr<ServerUsage> usage;
  if (server_pid > 0) usage = std::make_unique<ServerUsage>(server_pid);
  const double client0 = SelfCpuSeconds();
  auto start = std::chrono::steady_clock::now();
  phase = 1;
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  phase = 2;
  double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  double server_cpu_s = 0, server_switches = -1;
  int threads_ended = 0;
  if (usage) usage->Stop(&server_cpu_s, &server_switches, &threads_ended);
  const double client1 = SelfCpuSeconds();
  for (auto& th : pool) th.join();
  std::vector<uint32_t> all;
  Cell c;
  for (int t = 0; t < threads; ++t) {
    all.insert(all.end(), lat[t].begin(), lat[t].end());
    c.errors += errors[t];
  }
  if (all.empty()) return c;
  std::sort(all.begin(), all.end());
  const double calls = static_cast<double>(all.size());
  c.calls_per_s = calls / elapsed;
  c.p50_us = all[all.size() / 2] / 10.0;
  c.p99_us = all[std::min(all.size() - 1, all.size() * 99 / 100)] / 10.0;
  c.client_cpu_us = (client1 - client0) * 1e6 / calls;
  if (server_pid > 0) {
    c.server_cpu_us = server_cpu_s * 1e6 / calls;
    c.server_switches = server_switches / calls;
    c.server_threads_ended = threads_ended;
  }
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

inline void PrintHeader() {
  std::printf("%-26s %7s %9s %8s %8s %8s %8s %8s %7s  %s\n", "path", "threads", "calls/s",
              "p50 us", "p99 us", "ratio", "srv us/c", "srv cs/c", "cli us/c", "target");
}

inline void PrintRow(const char* name, int threads, const Cell& c, const Cell* raw,
                     const char* target) {
  std::printf("%-26s %7d %9.0f %8.1f %8.1f", name, threads, c.calls_per_s, c.p50_us, c.p99_us);
  if (raw && raw->calls_per_s > 0) {
    std::printf(" %7.2fx", c.calls_per_s / raw->calls_per_s);
  } else {
    std::printf(" %8s", "");
  }
  if (c.server_cpu_us >= 0) {
    std::printf(" %8.1f", c.server_cpu_us);
  } else {
    std::printf(" %8s", "");
  }
  if (c.server_switches >= 0) {
    std::printf(" %7.2f%c", c.server_switches, c.server_threads_ended > 0 ? '+' : ' ');
  } else {
    std::printf(" %8s", "");
  }
  if (c.client_cpu_us >= 0) {
    std::printf(" %7.1f", c.client_cpu_us);
  } else {
    std::printf(" %7s", "");
  }
  std::printf("  %s", target);
  if (c.errors) std::printf("  (%llu errors)", static_cast<unsigned long long>(c.errors));
  std::printf("\n");
}

}  // namespace aikernel::bench
