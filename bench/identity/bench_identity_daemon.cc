// bench_identity_daemon: JWT-SVID issue and validate, and X.509-SVID issue,
// per second through a real aikerneld, next to the same operations at the
// library (identity::NodeCA in this process) measured in the same run.
//
// Through the daemon means what an agent gets: this binary starts aikerneld
// (bench/common/bench_daemon.h; the shipped policy set, audit synchronous
// full and then normal), runs itself as an agent (Admin.RunAgent, so the
// kernel spawns it confined and binds its SPIFFE ID to the socketpair), and
// in agent mode calls Identity.FetchJWTSVID / ValidateJWTSVID /
// FetchX509SVID over AIKERNEL_FD on 1 and 2 threads: SDK, gRPC,
// Kernel::Dispatch (authenticate, Cedar, execute, audit record durable
// before each reply), the CA. The agent prints its figures to stdout (its
// log), which the bench reads back. Prints figures and the ratio
// daemon/library; asserts nothing. Needs root (aikerneld spawns agents).
//
//   bench_identity_daemon [--seconds S]
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "aikernel/client.h"
#include "common/bench_daemon.h"
#include "identity/ops.h"

using namespace std::chrono_literals;
using aikernel::bench::Cell;
using aikernel::bench::DieWith;
using aikernel::bench::Figures;
using aikernel::bench::kOps;
using aikernel::bench::kThreads;
using aikernel::bench::Run;

namespace {

// Agent mode: the calls over the kernel connection the daemon gave us.
int AgentMain(double seconds) {
  auto c = aikernel::Client::Connect({});
  if (!c.ok()) {
    std::printf("connect-error %s\n", c.status().ToString().c_str());
    return 2;
  }
  aikernel::Client& client = **c;
  auto tok = client.FetchJWTSVID({"bench"});
  if (!tok.ok()) {
    std::printf("fetch-error %s\n", tok.status().ToString().c_str());
    return 3;
  }
  const std::string token = tok->token;
  auto cells = Run(seconds, [&](int i, int, uint64_t) -> std::string {
    if (i == 0) {
      auto r = client.FetchJWTSVID({"bench"});
      return r.ok() ? "" : r.status().ToString();
    }
    if (i == 1) {
      auto r = client.ValidateJWTSVID(token, "bench");
      return !r.ok() ? r.status().ToString() : r->valid ? "" : r->reason;
    }
    auto r = client.FetchX509SVID();
    return r.ok() ? "" : r.status().ToString();
  });
  for (const auto& [name, by_threads] : cells) {
    for (const auto& [t, cell] : by_threads) {
      std::printf("row|%s|%d|%.1f|%.3f|%.3f|%llu|%s\n", name.c_str(), t, cell.rate, cell.p50,
                  cell.p99, static_cast<unsigned long long>(cell.errors),
                  cell.first_error.c_str());
    }
  }
  std::printf("bench-done\n");
  std::fflush(stdout);
  return 0;
}

// The agent's rows from its log.
Figures Parse(const std::string& log) {
  Figures out;
  std::istringstream in(log);
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("row|", 0) != 0) continue;
    std::vector<std::string> f;
    std::stringstream ls(line.substr(4));
    for (std::string x; std::getline(ls, x, '|');) f.push_back(x);
    if (f.size() < 6) continue;
    Cell c;
    c.rate = std::atof(f[2].c_str());
    c.p50 = std::atof(f[3].c_str());
    c.p99 = std::atof(f[4].c_str());
    c.errors = std::strtoull(f[5].c_str(), nullptr, 10);
    if (f.size() > 6) c.first_error = f[6];
    out[f[0]][std::atoi(f[1].c_str())] = c;
  }
  return out;
}

std::string Load() {
  double l[3] = {0, 0, 0};
  if (getloadavg(l, 3) != 3) return "unknown";
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%.2f %.2f %.2f", l[0], l[1], l[2]);
  return buf;
}

}  // namespace

int main(int argc, char** argv) {
  double seconds = 2;
  bool agent = false;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--seconds") && i + 1 < argc) {
      seconds = std::atof(argv[++i]);
    } else if (!std::strcmp(argv[i], "--agent")) {
      agent = true;
    } else {
      std::fprintf(stderr, "usage: %s [--seconds S]\n", argv[0]);
      return 2;
    }
  }
  if (agent) return AgentMain(seconds);
  if (geteuid() != 0) DieWith("needs root (aikerneld spawns confined agents)");
  char tmpl[] = "/tmp/aik-bench-idd-XXXXXX";
  if (mkdtemp(tmpl) == nullptr) DieWith("mkdtemp");
  const std::string dir = tmpl;
  chmod(dir.c_str(), 0755);  // agents (uid 65534) reach their workdirs below
  const std::string self = std::filesystem::read_symlink("/proc/self/exe").string();

  std::printf("bench_identity_daemon: %.1f s per cell; load average at start %s\n", seconds,
              Load().c_str());
  std::printf("%-7s %-18s %3s %12s %9s %9s %12s %8s\n", "audit", "operation", "thr",
              "daemon /s", "p50 ms", "p99 ms", "library /s", "ratio");
  for (const char* sync : {"full", "normal"}) {
    const std::string ddir = dir + "/" + sync;
    Figures through;
    {
      aikernel::bench::BenchDaemon d(
          AIK_AIKERNELD_PATH, ddir,
          "[node]\nname = \"bench\"\n[daemon]\nlogs_dir = \"" + ddir + "/logs\"\n[audit]\n"
          "synchronous = \"" + std::string(sync) + "\"\n",
          {"--policy-dir", AIK_SOURCE_DIR "/config"});
      aikernel::ClientOptions o;
      o.socket_path = d.socket();
      o.default_timeout = 60s;
      auto c = aikernel::Client::Connect(o);
      if (!c.ok()) DieWith("connect: " + c.status().ToString());
      aikernel::AgentSpec spec;
      spec.name = "idbench";
      spec.command = self;
      char secs[32];
      std::snprintf(secs, sizeof(secs), "%g", seconds);
      spec.args = {"--agent", "--seconds", secs};
      auto r = (*c)->RunAgent(spec);
      if (!r.ok()) DieWith("RunAgent: " + r.status().ToString());
      // Follow its log until it says it is done (or the stream ends).
      std::string log;
      aikernel::AgentLogOptions lo;
      lo.follow = true;
      auto lr = (*c)->AgentLogs(
          "idbench", lo,
          [&](std::string_view data) {
            log.append(data);
            return log.find("bench-done") == std::string::npos &&
                   log.find("-error") == std::string::npos;
          },
          {.timeout = std::chrono::milliseconds(static_cast<int64_t>(seconds * 20000) + 120000)});
      if (!lr.ok()) DieWith("AgentLogs: " + lr.status().ToString() + "\n" + log);
      if (log.find("bench-done") == std::string::npos) DieWith("the agent failed:\n" + log);
      through = Parse(log);
    }
    // The library peer, right after, on the same (idle) machine state.
    auto lib = aikernel::bench::LibraryFigures(ddir, seconds);
    for (const char* op : kOps) {
      for (int t : kThreads) {
        const Cell& a = through[op][t];
        const Cell& b = lib[op][t];
        std::printf("%-7s %-18s %3d %12.0f %9.3f %9.3f %12.0f %7.2fx\n", sync, op, t, a.rate,
                    a.p50, a.p99, b.rate, b.rate > 0 ? a.rate / b.rate : 0.0);
        if (a.errors) {
          std::printf("        (%llu failed: %s)\n", static_cast<unsigned long long>(a.errors),
                      a.first_error.c_str());
        }
      }
    }
    std::fflush(stdout);
  }
  std::printf("load average at end %s\n", Load().c_str());
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
  return 0;
}
