// bench_dispatch: the governed no-op against a raw gRPC echo, same run, same
// transport.
//
// Governed: Admin.Ping through the real aikerneld, started here as a
// subprocess on a temp state dir (authenticate, authorize, execute, audit
// durable before the reply), once with audit.synchronous = "full" and once
// with "normal".
// Raw: the echo peer of bench/common/raw_echo.h (an Admin service whose Ping
// only echoes, on this process's own Unix socket, connections adopted as the
// daemon adopts them, no kernel behind it).
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

#include "bench/common/raw_echo.h"

namespace {

using aikernel::bench::BenchDaemon;
using aikernel::bench::Cell;
using aikernel::bench::PingCaller;
using aikernel::bench::PrintRow;
using aikernel::bench::RawServer;
[[noreturn]] void Die(const std::string& what) { aikernel::bench::DieWith(what); }

Cell Measure(const std::string& socket_path, int threads, double seconds) {
  return aikernel::bench::Measure(socket_path, threads, seconds, PingCaller());
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
