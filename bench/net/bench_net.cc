// bench_net: agent -> agent messages across two aikerneld on loopback, durable
// at both ends (audit and messages.db synchronous = "full"), against a raw
// gRPC unary call over the same kind of mTLS link (rpc::PeerServer and the
// peer credentials, node certificates from identity::NodeCA) in the same run.
//
// Node A runs agent "alice" (aik_bench_msg_agent send ... THREADS), node B
// agent "bob" (recv). Figures: alice's Send latency (durable on A), the end
// to end rate (alice's first send to bob's last receipt) and bob's send ->
// receipt latency p50/p99; then the raw unary call's rate and p50/p99 with
// the same number of client threads; each daemon's CPU time per message
// (/proc/PID/stat, as perf stat's task-clock). Prints; asserts nothing.
//
//   bench_net [MESSAGES] [THREADS]     (defaults 20000, 32)
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <map>
#include <thread>

#include "aikernel/client.h"
#include "bench/common/bench_daemon.h"
#include "bench/net/raw_mtls.h"

namespace {

using aikernel::bench::BenchDaemon;
using aikernel::bench::DieWith;


std::unique_ptr<aikernel::Client> Connect(const std::string& socket) {
  aikernel::ClientOptions o;
  o.socket_path = socket;
  o.connect_timeout = std::chrono::milliseconds(10000);
  o.default_timeout = std::chrono::milliseconds(60000);
  auto c = aikernel::Client::Connect(o);
  if (!c.ok()) DieWith("connect " + socket + ": " + c.status().ToString());
  return std::move(*c);
}

// key=value fields of the agent's line starting with `tag`, waiting for it.
std::map<std::string, std::string> WaitLine(aikernel::Client& c, const std::string& agent,
                                            const std::string& tag) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::minutes(5);
  while (std::chrono::steady_clock::now() < deadline) {
    std::string log;
    aikernel::AgentLogOptions o;
    aikernel::CallOptions call;
    call.timeout = std::chrono::seconds(10);
    auto r = c.AgentLogs(agent, o, [&](std::string_view d) {
      log.append(d);
      return true;
    }, call);
    size_t at = log.find(tag);
    if (at != std::string::npos) {
      std::string line = log.substr(at, log.find('\n', at) - at);
      std::map<std::string, std::string> kv;
      size_t p = 0;
      while ((p = line.find(' ', p)) != std::string::npos) {
        ++p;
        size_t eq = line.find('=', p), end = line.find(' ', p);
        if (eq == std::string::npos || (end != std::string::npos && eq > end)) continue;
        kv[line.substr(p, eq - p)] = line.substr(eq + 1, end == std::string::npos ? end : end - eq - 1);
      }
      return kv;
    }
    if (log.find("-error") != std::string::npos || log.find("terminate called") != std::string::npos) {
      DieWith(agent + ": " + log);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  DieWith(agent + " never printed " + tag);
}

// The peer listener on any free loopback port (FederationBundle tells which).
std::string Config(const std::string& dir, const std::string& node) {
  return "[node]\nname = \"" + node + "\"\n[daemon]\nlogs_dir = \"" + dir +
         "/logs\"\n[audit]\nsynchronous = \"full\"\n[msg]\nsynchronous = \"full\"\n"
         "[agents]\nspecs_dir = \"" + dir + "/specs\"\n[peer]\nlisten = \"127.0.0.1:0\"\n";
}

}  // namespace

int main(int argc, char** argv) {
  const int messages = argc > 1 ? std::atoi(argv[1]) : 20000;
  const int threads = argc > 2 ? std::atoi(argv[2]) : 32;
  char tmpl[] = "/tmp/aik-bench-net-XXXXXX";
  if (mkdtemp(tmpl) == nullptr) DieWith("mkdtemp");
  const std::string dir = tmpl;
  chmod(dir.c_str(), 0755);  // agents (uid 65534) reach their workdirs
  std::filesystem::create_directories(dir + "/policy/policies");
  std::filesystem::copy_file(AIK_POLICY_DIR "/policies/default.cedar",
                             dir + "/policy/policies/default.cedar");
  std::ofstream(dir + "/policy/policies/federation.cedar")
      << "permit(principal is Agent, action == Action::\"msg.send\", resource is Agent)\n"
         "  when { context.remote };\n"
         "permit(principal is Agent, action == Action::\"msg.receive\", resource is Agent)\n"
         "  when { context.remote && context.peer == \"a\" };\n";
  for (const char* n : {"a", "b"}) std::filesystem::create_directories(dir + "/" + n + "/specs");
  BenchDaemon a(AIK_AIKERNELD_PATH, dir + "/a", Config(dir + "/a", "na"),
                {"--policy-dir", dir + "/policy"});
  BenchDaemon b(AIK_AIKERNELD_PATH, dir + "/b", Config(dir + "/b", "nb"),
                {"--policy-dir", dir + "/policy"});
  auto ca = Connect(a.socket());
  auto cb = Connect(b.socket());
  auto ba = ca->FederationBundle();
  auto bb = cb->FederationBundle();
  if (!ba.ok() || !bb.ok()) DieWith("bundle");
  aikernel::PeerInfo to_b, to_a;
  to_b.name = "b";
  to_b.address = bb->listen_address;
  to_b.bundle_pem = bb->bundle_pem;
  to_a.name = "a";
  to_a.address = ba->listen_address;
  to_a.bundle_pem = ba->bundle_pem;
  if (!ca->AddPeer(to_b).ok() || !cb->AddPeer(to_a).ok()) DieWith("peer add");

  aikernel::AgentSpec bob;
  bob.name = "bob";
  bob.command = AIK_BENCH_AGENT_PATH;
  bob.args = {"recv", std::to_string(messages)};
  // RLIMIT_NPROC counts every thread of the agents' uid (65534) on the
  // host; the sender's threads and gRPC's need more than the default 64.
  bob.limits.pids = 4096;
  // The memory limit is RLIMIT_AS without a cgroup memory controller: each
  // thread's stack and malloc arena count, so give the threads room.
  bob.limits.memory_bytes = uint64_t{4} << 30;
  // glibc reserves 64 MiB of address space per malloc arena (up to 8 per
  // core), which RLIMIT_AS counts: one arena is plenty for these agents.
  bob.env = {{"MALLOC_ARENA_MAX", "1"}};
  if (auto r = cb->RunAgent(bob); !r.ok()) DieWith("run bob: " + r.status().ToString());
  aikernel::AgentSpec alice;
  alice.name = "alice";
  alice.command = AIK_BENCH_AGENT_PATH;
  alice.args = {"send", "spiffe://nb/agent/bob", std::to_string(messages),
                std::to_string(threads)};
  alice.limits.pids = 4096;
  alice.limits.memory_bytes = uint64_t{4} << 30;
  alice.env = bob.env;
  const double cpu_a0 = aikernel::bench::CpuSeconds(a.pid());
  const double cpu_b0 = aikernel::bench::CpuSeconds(b.pid());
  if (auto r = ca->RunAgent(alice); !r.ok()) DieWith("run alice: " + r.status().ToString());
  auto sent = WaitLine(*ca, "alice", "send-done");
  auto got = WaitLine(*cb, "bob", "recv-done");
  // Daemons only (the agents are processes of their own): what each message
  // costs the node's CPU, which the other builds on this host share.
  const double cpu_a = aikernel::bench::CpuSeconds(a.pid()) - cpu_a0;
  const double cpu_b = aikernel::bench::CpuSeconds(b.pid()) - cpu_b0;
  const double t0 = std::stod(sent["t0"]);
  const double last = std::stod(got["last"]);
  const double e2e = (last - t0) / 1e9;

  std::printf("bench_net: %d messages of 64 bytes, agent alice@na -> agent bob@nb, %d sender "
              "threads, audit and messages.db synchronous=full on both nodes, mTLS on loopback\n",
              messages, threads);
  std::printf("  Send (agent -> kernel A, durable)        %8.0f msgs/s  p50 %7s us  p99 %7s us"
              "  (errors %s)\n",
              std::stod(sent["n"]) / std::stod(sent["secs"]), sent["p50_us"].c_str(),
              sent["p99_us"].c_str(), sent["errors"].c_str());
  std::printf("  end to end (first send -> last receipt)  %8.0f msgs/s  send->receipt p50 %s us"
              "  p99 %s us  (target >= 5,000 msgs/s)\n",
              std::stod(got["n"]) / e2e, got["p50_us"].c_str(), got["p99_us"].c_str());
  std::printf("  daemon CPU per message (user+sys)        A %.0f us  B %.0f us  both %.0f us\n",
              cpu_a / messages * 1e6, cpu_b / messages * 1e6, (cpu_a + cpu_b) / messages * 1e6);
  double p50 = 0, p99 = 0;
  const int calls = std::max(messages, 20000);
  const double raw = aikernel::bench::RawUnaryOverMtls(calls, threads, dir, &p50, &p99);
  std::printf("  raw gRPC unary over mTLS (%d threads)      %8.0f calls/s  p50 %7.0f us  p99 %7.0f us\n",
              threads, raw, p50, p99);
  std::printf("  ratio end-to-end / raw unary: %.3f\n", (std::stod(got["n"]) / e2e) / raw);
  std::filesystem::remove_all(dir);
  return 0;
}
