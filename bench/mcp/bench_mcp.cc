// bench_mcp: what the kernel adds to an MCP tools/call.
//
// Direct: this process spawns server-everything (node) with pipes, does the
// MCP handshake and calls tools/call echo in a loop, one at a time, reading
// each answer line: the cost of the server itself plus stdio.
// Kernel: the real aikerneld with the same server program mounted as
// [[mcp]] "everything", called with the SDK (Client::CallTool
// "everything.echo"): gRPC over the Unix socket, Kernel::Dispatch
// (authenticate, schema check, Cedar, execute = the gRPC thread writes the
// JSON-RPC line to the server's stdin and reads the answer from its stdout
// itself (StdioLane), audit durable before the reply).
// Run once with audit.synchronous "full" and once "normal" (the ledger's
// fsync is most of the difference under "full").
// In the same daemon, interleaved with the echo calls, Admin.Ping (the
// governed no-op) so the MCP part can be told from the kernel's own cost.
// Prints p50/p99 of each and the difference, and the load (/proc/loadavg).
// The direct call is also run with the server idle 300 us between calls
// (kPaceUs), about as through the kernel, and the difference to that shown.
//
//   bench_mcp [--calls N] [--warmup N] [--baseline PATH]
//   (default 2000 calls each after 1000 warm-up calls: node's JIT needs
//   them; --baseline: the kernel rows again with another aikerneld, same
//   run, for before/after)
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "aikernel/client.h"
#include "bench/common/bench_daemon.h"
#include "mcp/npm_servers.h"

namespace {

using Clock = std::chrono::steady_clock;
using nlohmann::json;
using aikernel::bench::DieWith;

struct Stats {
  double p50_us = 0, p99_us = 0;
};

Stats Summarize(std::vector<double> us) {
  std::sort(us.begin(), us.end());
  return {us[us.size() / 2], us[std::min(us.size() - 1, us.size() * 99 / 100)]};
}

std::string Load() {
  std::ifstream in("/proc/loadavg");
  std::string a, b, c;
  in >> a >> b >> c;
  return a + " " + b + " " + c;
}

// The server as a child with pipes; line-at-a-time JSON-RPC.
class DirectServer {
 public:
  explicit DirectServer(const std::vector<std::string>& args) {
    int in[2], out[2];
    if (pipe2(in, O_CLOEXEC) != 0 || pipe2(out, O_CLOEXEC) != 0) DieWith("pipe2");
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, in[0], 0);
    posix_spawn_file_actions_adddup2(&fa, out[1], 1);
    posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
    std::vector<std::string> a = args;
    std::vector<char*> argv;
    for (auto& s : a) argv.push_back(s.data());
    argv.push_back(nullptr);
    char* envp[] = {const_cast<char*>("PATH=/usr/bin:/bin"), nullptr};
    if (posix_spawn(&pid_, argv[0], &fa, nullptr, argv.data(), envp) != 0) DieWith("spawn node");
    posix_spawn_file_actions_destroy(&fa);
    close(in[0]);
    close(out[1]);
    to_ = in[1];
    from_ = out[0];
  }
  ~DirectServer() {
    close(to_);
    close(from_);
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
  }
  void Send(const json& j) {
    std::string s = j.dump() + "\n";
    if (write(to_, s.data(), s.size()) != static_cast<ssize_t>(s.size())) DieWith("write");
  }
  // The next message with this id (skipping notifications).
  json Await(int64_t id) {
    for (;;) {
      size_t nl;
      while ((nl = buf_.find('\n')) == std::string::npos) {
        char b[65536];
        ssize_t n = read(from_, b, sizeof(b));
        if (n <= 0) DieWith("server closed stdout");
        buf_.append(b, static_cast<size_t>(n));
      }
      json j = json::parse(buf_.substr(0, nl));
      buf_.erase(0, nl + 1);
      if (j.contains("id") && j["id"] == id) return j;
    }
  }

 private:
  pid_t pid_ = -1;
  int to_ = -1, from_ = -1;
  std::string buf_;
};

std::vector<double> RunDirect(const std::string& entry, int calls, int warmup, int gap_us = 0) {
  DirectServer s({"/usr/bin/node", entry});
  s.Send({{"jsonrpc", "2.0"}, {"id", 1}, {"method", "initialize"},
          {"params", {{"protocolVersion", "2025-06-18"}, {"capabilities", json::object()},
                      {"clientInfo", {{"name", "bench"}, {"version", "1"}}}}}});
  s.Await(1);
  s.Send({{"jsonrpc", "2.0"}, {"method", "notifications/initialized"}});
  std::vector<double> us;
  int64_t id = 2;
  for (int i = 0; i < warmup + calls; ++i, ++id) {
    // Idle between calls, as the server is between calls through the kernel
    // (node's event loop then sleeps and wakes per call).
    if (gap_us > 0) std::this_thread::sleep_for(std::chrono::microseconds(gap_us));
    auto t0 = Clock::now();
    s.Send({{"jsonrpc", "2.0"}, {"id", id}, {"method", "tools/call"},
            {"params", {{"name", "echo"}, {"arguments", {{"message", "bench"}}}}}});
    json r = s.Await(id);
    auto t1 = Clock::now();
    if (!r.contains("result")) DieWith("direct echo failed: " + r.dump());
    if (i >= warmup) us.push_back(std::chrono::duration<double, std::micro>(t1 - t0).count());
  }
  return us;
}

struct KernelRun {
  std::vector<double> echo_us;  // everything.echo through the kernel
  std::vector<double> ping_us;  // Admin.Ping, the governed no-op, same daemon
};

KernelRun RunKernel(const std::string& aikerneld, const std::string& entry,
                    const std::string& mode, int calls, int warmup) {
  const std::string dir =
      std::filesystem::temp_directory_path() / ("bench-mcp-" + std::to_string(getpid()) + mode);
  std::filesystem::create_directories(dir);
  std::filesystem::permissions(dir, std::filesystem::perms(0755));
  std::string config = "[node]\nname = \"bench\"\n[daemon]\nlogs_dir = \"" + dir +
                       "/logs\"\n[audit]\nsynchronous = \"" + mode +
                       "\"\n[agents]\nenabled = false\n\n[[mcp]]\nname = \"everything\"\n"
                       "command = \"/usr/bin/node\"\nargs = [\"" + entry + "\"]\n";
  KernelRun run;
  {
    aikernel::bench::BenchDaemon d(aikerneld, dir, config,
                                   {"--policy-dir", AIK_POLICY_DIR});
    aikernel::ClientOptions o;
    o.socket_path = dir + "/aikernel.sock";
    auto c = aikernel::Client::Connect(o);
    if (!c.ok()) DieWith("connect: " + c.status().ToString());
    // Interleaved, so both see the same load.
    for (int i = 0; i < warmup + calls; ++i) {
      auto t0 = Clock::now();
      auto r = (*c)->CallTool("everything.echo", R"({"message":"bench"})");
      auto t1 = Clock::now();
      if (!r.ok()) DieWith("kernel echo failed: " + r.status().ToString());
      auto p = (*c)->Ping("bench");
      auto t2 = Clock::now();
      if (!p.ok()) DieWith("ping failed: " + p.status().ToString());
      if (i >= warmup) {
        run.echo_us.push_back(std::chrono::duration<double, std::micro>(t1 - t0).count());
        run.ping_us.push_back(std::chrono::duration<double, std::micro>(t2 - t1).count());
      }
    }
  }
  std::filesystem::remove_all(dir);
  return run;
}

}  // namespace

// The direct call again, with the server idle between calls for about as
// long as it is between calls made through the kernel (which interleaves
// a Ping): a server that sleeps between requests answers slower than one
// fed back to back, and that is not the kernel's cost.
constexpr int kPaceUs = 300;

int main(int argc, char** argv) {
  int calls = 2000, warmup = 1000;
  std::string baseline;
  for (int i = 1; i + 1 < argc; ++i) {
    if (std::strcmp(argv[i], "--calls") == 0) calls = std::atoi(argv[++i]);
    else if (std::strcmp(argv[i], "--warmup") == 0) warmup = std::atoi(argv[++i]);
    else if (std::strcmp(argv[i], "--baseline") == 0) baseline = argv[++i];
  }
  std::string why;
  const std::string modules = aikernel::testing::EnsureMcpServers(&why);
  if (modules.empty()) {
    std::printf("bench_mcp: skipped: %s\n", why.c_str());
    return 0;
  }
  const std::string entry = aikernel::testing::EverythingEntry(modules);
  std::printf("bench_mcp: tools/call everything.echo, %d sequential calls each (after %d "
              "warm-up), load before: %s\n",
              calls, warmup, Load().c_str());
  Stats direct = Summarize(RunDirect(entry, calls, warmup));
  Stats paced = Summarize(RunDirect(entry, calls, warmup, kPaceUs));
  std::printf("%-36s %10s %10s %12s\n", "path", "p50 us", "p99 us", "p50 added");
  std::printf("%-36s %10.1f %10.1f %12s\n", "direct (stdio, this process)", direct.p50_us,
              direct.p99_us, "-");
  std::printf("%-36s %10.1f %10.1f %12s\n", "direct, idle 300 us between calls", paced.p50_us,
              paced.p99_us, "-");
  struct Daemon {
    const char* label;
    std::string path;
  };
  std::vector<Daemon> daemons = {{"", AIK_AIKERNELD_PATH}};
  if (!baseline.empty()) daemons.push_back({"baseline ", baseline});
  for (const char* mode : {"normal", "full"}) {
    for (const Daemon& dm : daemons) {
      KernelRun run = RunKernel(dm.path, entry, mode, calls, warmup);
      Stats k = Summarize(run.echo_us);
      Stats p = Summarize(run.ping_us);
      std::string name = std::string(dm.label) + "kernel (SDK->aikerneld, " + mode + ")";
      std::printf("%-36s %10.1f %10.1f %12.1f\n", name.c_str(), k.p50_us, k.p99_us,
                  k.p50_us - direct.p50_us);
      name = std::string("  governed no-op Admin.Ping, ") + mode;
      std::printf("%-36s %10.1f %10.1f %12s\n", name.c_str(), p.p50_us, p.p99_us, "-");
      std::printf("  MCP part (kernel - direct - no-op): %.1f us p50\n",
                  k.p50_us - direct.p50_us - p.p50_us);
      std::printf("  added against the paced direct call: %.1f us p50\n",
                  k.p50_us - paced.p50_us);
    }
  }
  Stats direct2 = Summarize(RunDirect(entry, calls, warmup));
  std::printf("%-36s %10.1f %10.1f %12s\n", "direct again (drift check)", direct2.p50_us,
              direct2.p99_us, "-");
  std::printf("target: the kernel adds under 100 us p50. load after: %s\n", Load().c_str());
  return 0;
}
