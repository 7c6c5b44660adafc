// bench_dispatch: the governed no-op against a raw gRPC echo, same run, same
// transport, same client.
//
// Governed: Admin.Ping through the real aikerneld, started here as a
// subprocess on a temp state dir (authenticate, authorize, execute, audit
// durable before the reply), once with audit.synchronous = "full" and once
// with "normal".
// Raw: the echo peer of bench/common/raw_echo.h (an Admin service whose Ping
// only echoes, served by a child process on its own Unix socket, connections
// adopted as the daemon adopts them, no kernel behind it). Both servers are
// out of this process, so the clients here are the same in every cell.
// Clients: 1 and 4 threads, one connection each (a socket connected here and
// given to grpc::CreateInsecureChannelFromFd), each calling Ping in a loop
// for --seconds (default 3) after a short warm-up. Prints calls/s, p50/p99,
// governed/raw ratios next to the targets, and per call the server's CPU
// time and context switches (/proc of the daemon or the raw child) and this
// process's CPU. Asserts nothing.
//
//   bench_dispatch [--seconds S] [--aikerneld PATH] [--baseline PATH] [--mode full|normal]
//                  [--threads N] [--audit-extra 'checkpoint_every_ms = 86400000']
//                  [--raw-variants SPEC,SPEC,...] [--rounds N] [--client-args SPEC]
//                  [--gap-us N]
// (--mode and --threads narrow the run, e.g. to profile one cell.
// --baseline runs the governed cells a second time against another aikerneld
// binary, e.g. one built from main before a change, for a before/after in
// the same run.)
// --raw-variants measures the raw echo under other server set-ups first
// (bench/common/raw_variants.h: sync pollers and queues, channel arguments,
// a hand-rolled async server), each against gRPC's default sync server,
// alternating for --rounds (default 2) so they share the machine's load;
// then the governed cells as usual unless --raw-only. --client-args gives
// every client channel those arguments; --gap-us makes each client idle that
// long after every call (calls made after client and server went idle).
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
using aikernel::bench::PrintHeader;
using aikernel::bench::PrintRow;
using aikernel::bench::RawServer;
[[noreturn]] void Die(const std::string& what) { aikernel::bench::DieWith(what); }

aikernel::bench::ClientSetup g_client;

Cell Measure(const std::string& socket_path, int threads, double seconds, pid_t server) {
  return aikernel::bench::Measure(socket_path, threads, seconds, PingCaller(), server, g_client);
}

// Each raw server set-up in `specs` (and gRPC's default, first), 1 and 4
// client threads, `rounds` times alternating; one row per set-up and round.
void MeasureRawVariants(const std::string& dir, const std::vector<std::string>& specs,
                        int rounds, double seconds) {
  std::vector<std::string> all = {""};
  all.insert(all.end(), specs.begin(), specs.end());
  for (int round = 1; round <= rounds; ++round) {
    for (const std::string& spec : all) {
      RawServer raw(dir + "/variant.sock", spec);
      const Cell c1 = Measure(raw.path(), 1, seconds, raw.pid());
      const Cell c4 = Measure(raw.path(), 4, seconds, raw.pid());
      const std::string name = "raw " + (spec.empty() ? std::string("default") : spec) +
                               " r" + std::to_string(round);
      PrintRow(name.c_str(), 1, c1, nullptr, "");
      PrintRow(name.c_str(), 4, c4, nullptr, "");
      std::fflush(stdout);
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  aikernel::bench::ServeRawIfAsked(argc, argv);
  double seconds = 3.0;
  std::string binary = AIK_AIKERNELD_PATH;
  std::string baseline;
  std::string only_mode;
  int only_threads = 0;
  std::string audit_extra;  // extra [audit] lines, e.g. to rule checkpoints out
  std::vector<std::string> raw_variants;
  int rounds = 2;
  bool raw_only = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--seconds" && i + 1 < argc) {
      seconds = std::atof(argv[++i]);
    } else if (a == "--aikerneld" && i + 1 < argc) {
      binary = argv[++i];
    } else if (a == "--baseline" && i + 1 < argc) {
      baseline = argv[++i];
    } else if (a == "--mode" && i + 1 < argc) {
      only_mode = argv[++i];
    } else if (a == "--audit-extra" && i + 1 < argc) {
      audit_extra = argv[++i];
    } else if (a == "--threads" && i + 1 < argc) {
      only_threads = std::atoi(argv[++i]);
    } else if (a == "--raw-variants" && i + 1 < argc) {
      raw_variants = aikernel::bench::SplitOn(argv[++i], ',');
      for (const std::string& v : raw_variants) aikernel::bench::ParseRawSpec(v, true);
    } else if (a == "--rounds" && i + 1 < argc) {
      rounds = std::atoi(argv[++i]);
    } else if (a == "--raw-only") {
      raw_only = true;
    } else if (a == "--client-args" && i + 1 < argc) {
      g_client.args = argv[++i];
      aikernel::bench::ParseRawSpec(g_client.args, false);
    } else if (a == "--gap-us" && i + 1 < argc) {
      g_client.gap_us = std::atoi(argv[++i]);
    } else {
      std::fprintf(stderr,
                   "usage: bench_dispatch [--seconds S] [--aikerneld PATH] [--baseline PATH] "
                   "[--mode full|normal] "
                   "[--threads N] [--audit-extra TOML] [--raw-variants SPEC,...] "
                   "[--rounds N] [--raw-only] [--client-args SPEC] [--gap-us N]\n");
      return 2;
    }
  }
  signal(SIGPIPE, SIG_IGN);
  char tmpl[] = "/tmp/aik-bench-XXXXXX";
  if (!mkdtemp(tmpl)) Die("mkdtemp failed");
  const std::string dir = tmpl;

  std::printf("bench_dispatch: Admin.Ping governed (real aikerneld: Cedar authorizer over %s, "
              "durable audit) vs raw gRPC echo (child process), Unix socket, fd-adopted "
              "connections, sync servers; %.1f s per cell, %u cores\n",
              AIK_POLICY_DIR "/policies", seconds, std::thread::hardware_concurrency());
  std::printf("srv us/c, srv cs/c: the server process's CPU time and context switches per call "
              "(+: server threads ended meanwhile, their switches not counted); cli us/c: this "
              "(client) process's CPU per call\n\n");
  if (!g_client.args.empty() || g_client.gap_us > 0) {
    std::printf("clients: channel arguments '%s', idle %d us after each call\n\n",
                g_client.args.c_str(), g_client.gap_us);
  }
  PrintHeader();
  if (!raw_variants.empty()) {
    MeasureRawVariants(dir, raw_variants, rounds, seconds);
    if (raw_only) {
      std::error_code ec;
      std::filesystem::remove_all(dir, ec);
      return 0;
    }
  }

  RawServer raw(dir + "/raw.sock");
  struct Mode {
    const char* sync;
    const char* target1;
    const char* target4;
  } modes[] = {{"full", "", ">= 0.70x raw (4 threads, FULL)"},
               {"normal", ">= 0.80x raw (1 thread, NORMAL)", ""}};
  struct Daemon {
    std::string label;
    std::string binary;
  };
  std::vector<Daemon> daemons = {{"governed", binary}};
  if (!baseline.empty()) daemons.push_back({"baseline", baseline});
  for (const Mode& m : modes) {
    if (!only_mode.empty() && only_mode != m.sync) continue;
    const bool do1 = only_threads == 0 || only_threads == 1;
    const bool do4 = only_threads == 0 || only_threads == 4;
    Cell r1, r4;
    if (do1) r1 = Measure(raw.path(), 1, seconds, raw.pid());
    if (do4) r4 = Measure(raw.path(), 4, seconds, raw.pid());
    std::vector<std::pair<Cell, Cell>> governed;
    for (const Daemon& dm : daemons) {
      BenchDaemon d(dm.binary, dir + "/" + dm.label + "-" + m.sync,
                    std::string("[node]\nname = \"bench\"\n[daemon]\nlog_level = \"warn\"\n"
                                "[audit]\nsynchronous = \"") +
                        m.sync + "\"\n" + audit_extra + "\n",
                    {"--policy-dir", AIK_POLICY_DIR});
      Cell g1, g4;
      if (do1) g1 = Measure(d.socket(), 1, seconds, d.pid());
      if (do4) g4 = Measure(d.socket(), 4, seconds, d.pid());
      governed.emplace_back(g1, g4);
    }
    for (int threads : {1, 4}) {
      if (threads == 1 ? !do1 : !do4) continue;
      const Cell& r = threads == 1 ? r1 : r4;
      PrintRow("raw echo", threads, r, nullptr, "");
      for (size_t k = 0; k < daemons.size(); ++k) {
        const Cell& g = threads == 1 ? governed[k].first : governed[k].second;
        const std::string name = daemons[k].label + " " + m.sync;
        PrintRow(name.c_str(), threads, g, &r, threads == 1 ? m.target1 : m.target4);
      }
    }
    std::fflush(stdout);
  }
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
  return 0;
}
