// bench_agents: what running agents costs, through the real aikerneld.
//
// 1. Spawn latency of a default-profile agent until its first call reaches
//    the kernel: Admin.RunAgent is sent at t0; the agent (first_call_agent)
//    calls Kernel.Whoami over its inherited fd; t1 is the time the kernel
//    received that call, read from its audit record (QueryAudit, follow).
//    Against `bwrap --unshare-all --die-with-parent --ro-bind / / /bin/true`
//    until exit, interleaved in the same run (skipped, and said so, when
//    bwrap is not installed). Note the two are not the same work: ours
//    includes the RPC, the daemon's bookkeeping, a gRPC connection and a
//    round trip from inside the sandbox; bwrap's ends at exit. The agent is
//    linked statically (aik_link_sdk_static); the same agent linked to the
//    shared gRPC/protobuf/absl libraries is timed too, interleaved.
//    Also the same static probe under bwrap, calling Whoami through the
//    daemon's socket: the same agent-side work, for a fair peer.
// 2. 1,000 idle agents (idle_agent.cc with 4 threads each, default profile,
//    all uid 65534): the daemon's RSS growth per agent, the threads running
//    in them, and the wall time of `aictl agent ls`.
//
//   bench_agents [--iterations N] [--idle N]
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "aikernel/client.h"

extern char** environ;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

namespace {

pid_t g_daemon = -1;  // stopped by Die too, so a failed run leaves no daemon

[[noreturn]] void Die(const std::string& why) {
  std::fprintf(stderr, "bench_agents: %s\n", why.c_str());
  if (g_daemon > 0) {
    kill(g_daemon, SIGTERM);
    waitpid(g_daemon, nullptr, 0);
  }
  std::exit(1);
}

int64_t RealNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

pid_t Spawn(const std::vector<std::string>& args, const std::string& log,
            const std::vector<std::string>& extra_env = {}) {
  std::vector<std::string> env;
  for (char** e = environ; *e; ++e) {
    if (std::strncmp(*e, "NOTIFY_SOCKET=", 14) != 0 && std::strncmp(*e, "AIKERNEL_", 9) != 0) {
      env.emplace_back(*e);
    }
  }
  env.insert(env.end(), extra_env.begin(), extra_env.end());
  std::vector<std::string> a = args;
  std::vector<char*> argv, envp;
  for (auto& s : a) argv.push_back(s.data());
  argv.push_back(nullptr);
  for (auto& s : env) envp.push_back(s.data());
  envp.push_back(nullptr);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 1, log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  posix_spawn_file_actions_addopen(&fa, 2, log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  pid_t pid = -1;
  if (posix_spawn(&pid, a[0].c_str(), &fa, nullptr, argv.data(), envp.data()) != 0) pid = -1;
  posix_spawn_file_actions_destroy(&fa);
  return pid;
}

int Wait(pid_t pid) {
  int st = 0;
  while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
  }
  return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

class Daemon {
 public:
  explicit Daemon(const std::string& dir) : dir_(dir), socket_(dir + "/aikernel.sock") {
    std::filesystem::create_directories(dir);
    std::ofstream(dir + "/aikerneld.toml")
        << "[node]\nname = \"bench\"\n[daemon]\nlog_level = \"warn\"\nlogs_dir = \"" << dir
        << "/logs\"\n[audit]\nsynchronous = \"normal\"\n[agents]\nmax_running = 5000\n"
           "memory_budget_bytes = 1125899906842624\nspecs_dir = \""
        << dir << "/agents\"\n";
    std::string notify = dir + "/notify.sock";
    int nfd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_un na{};
    na.sun_family = AF_UNIX;
    std::strncpy(na.sun_path, notify.c_str(), sizeof(na.sun_path) - 1);
    unlink(notify.c_str());
    if (bind(nfd, reinterpret_cast<sockaddr*>(&na), sizeof(na)) != 0) Die("bind notify socket");
    pid_ = Spawn({AIK_AIKERNELD_PATH, "--foreground", "--config", dir + "/aikerneld.toml",
                  "--state-dir", dir + "/state", "--socket", socket_,
                  // The shipped policy set: operators may run agents.
                  "--policy-dir", AIK_POLICY_DIR},
                 dir + "/daemon.log", {"NOTIFY_SOCKET=" + notify});
    if (pid_ < 0) Die("cannot start aikerneld");
    g_daemon = pid_;
    int pidfd = static_cast<int>(syscall(SYS_pidfd_open, pid_, 0));
    auto deadline = Clock::now() + 60s;
    for (;;) {
      pollfd p[2] = {{nfd, POLLIN, 0}, {pidfd, POLLIN, 0}};
      int left = static_cast<int>(
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count());
      if (left <= 0 || poll(p, 2, left) <= 0) Die("aikerneld did not get ready; see " + dir + "/daemon.log");
      if (p[1].revents) Die("aikerneld exited at start-up; see " + dir + "/daemon.log");
      char buf[1024];
      ssize_t n = recv(nfd, buf, sizeof(buf), 0);
      if (n > 0 && ("\n" + std::string(buf, n) + "\n").find("\nREADY=1\n") != std::string::npos) break;
    }
    close(pidfd);
    close(nfd);
  }
  ~Daemon() {
    kill(pid_, SIGTERM);
    Wait(pid_);
    g_daemon = -1;
  }
  const std::string& socket() const { return socket_; }
  pid_t pid() const { return pid_; }
  long RssKiB() const {
    std::ifstream in("/proc/" + std::to_string(pid_) + "/status");
    std::string line;
    while (std::getline(in, line)) {
      if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
    }
    return -1;
  }

 private:
  std::string dir_, socket_;
  pid_t pid_ = -1;
};

// What first_call_agent printed: "aik-probe start=.. main=.. connected=.. reply=..".
struct ProbeStamps {
  int64_t start = 0, main = 0, connected = 0, reply = 0;
};

// Waits (bounded) for the agent to exit, then reads its stamps from its log.
bool ReadProbeStamps(aikernel::Client& client, const std::string& name, const std::string& log,
                     ProbeStamps* out) {
  for (int i = 0; i < 5000; ++i) {
    auto info = client.InspectAgent(name);
    if (!info.ok()) return false;
    if (info->state != aikernel::AgentState::kRunning &&
        info->state != aikernel::AgentState::kStarting)
      break;
    usleep(1000);
  }
  std::ifstream in(log);
  std::string line;
  while (std::getline(in, line)) {
    long long s = 0, m = 0, c = 0, r = 0;
    if (std::sscanf(line.c_str(), "aik-probe start=%lld main=%lld connected=%lld reply=%lld", &s,
                    &m, &c, &r) == 4) {
      *out = {s, m, c, r};
      return true;
    }
  }
  return false;
}

// Threads each idle agent starts besides its main thread.
constexpr int kIdleThreads = 4;

double Pct(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t i = static_cast<size_t>(p / 100.0 * (v.size() - 1) + 0.5);
  return v[std::min(i, v.size() - 1)];
}

}  // namespace

int main(int argc, char** argv) {
  int iterations = 50, idle = 1000;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string a = argv[i];
    if (a == "--iterations") iterations = std::atoi(argv[i + 1]);
    else if (a == "--idle") idle = std::atoi(argv[i + 1]);
    else Die("usage: bench_agents [--iterations N] [--idle N]");
  }
  if (geteuid() != 0) Die("needs root (aikerneld spawns confined agents)");
  char tmpl[] = "/tmp/aik-bench-agents-XXXXXX";
  if (!mkdtemp(tmpl)) Die("mkdtemp");
  const std::string dir = tmpl;
  // Agents (uid 65534) must reach their workdirs under <dir>/state/agents.
  chmod(dir.c_str(), 0755);
  const std::string bwrap = "/usr/bin/bwrap";
  const bool have_bwrap = access(bwrap.c_str(), X_OK) == 0;

  std::vector<double> bwrap_ms, bwrap_probe_ms;
  long rss_before = 0, rss_after = 0;
  double ls_ms = -1;
  int idle_running = 0;
  {
    Daemon d(dir);
    aikernel::ClientOptions o;
    o.socket_path = d.socket();
    o.default_timeout = 60s;
    auto c = aikernel::Client::Connect(o);
    if (!c.ok()) Die("connect: " + c.status().ToString());
    aikernel::Client& client = **c;

    std::printf("bench_agents: %d spawns of a default-profile agent until its first call reaches "
                "the kernel%s\n",
                iterations, have_bwrap ? ", interleaved with bwrap" : "");
    // One spawn of `command` until its first call reaches the kernel.
    struct Times {
      std::vector<double> total, rpc, exec_to_call;
      // The probe's own stamps (first_call_agent.cc), when it printed them.
      std::vector<double> to_spawn, spawn_to_exec, exec_to_main, main_to_connected,
          connected_to_call;
    };
    auto measure = [&](const std::string& name, const std::string& command, Times* out) {
      aikernel::AgentSpec spec;
      spec.name = name;
      spec.command = command;
      // Find this agent's Whoami in the ledger as it becomes durable.
      const std::string want = "agent:spiffe://bench/agent/" + spec.name + "#";
      aikernel::AuditFilter f;
      f.action = "kernel.whoami";
      f.follow = true;
      f.last = true;
      f.limit = 1;
      int64_t t_call = 0;
      std::stop_source stop;
      const int64_t t0 = RealNs();
      auto r = client.RunAgent(spec);
      if (!r.ok()) Die("RunAgent: " + r.status().ToString());
      const int64_t t_rpc = RealNs();
      const int64_t t_spawned = r->instance.started_at ? r->instance.started_at->time_since_epoch().count() : 0;
      aikernel::CallOptions call;
      call.stop = stop.get_token();
      call.timeout = 30s;
      auto q = client.QueryAudit(
          f,
          [&](const aikernel::AuditRecord& rec) {
            if (rec.principal.rfind(want, 0) == 0) {
              t_call = rec.time.time_since_epoch().count();
              return false;
            }
            return true;
          },
          call);
      if (t_call == 0) {
        auto info = client.InspectAgent(spec.name);
        Die("agent " + spec.name + " never called the kernel (" + q.status().ToString() + "); " +
            (info.ok() ? std::string(aikernel::AgentStateName(info->state)) + ": " + info->reason
                       : info.status().ToString()));
      }
      out->total.push_back(static_cast<double>(t_call - t0) / 1e6);
      out->rpc.push_back(static_cast<double>(t_rpc - t0) / 1e6);
      if (t_spawned) out->exec_to_call.push_back(static_cast<double>(t_call - t_spawned) / 1e6);
      if (t_spawned) {
        ProbeStamps ps;
        if (ReadProbeStamps(client, spec.name, dir + "/logs/agents/" + spec.name + ".log", &ps)) {
          auto ms = [](int64_t a, int64_t b) { return static_cast<double>(b - a) / 1e6; };
          out->to_spawn.push_back(ms(t0, t_spawned));
          out->spawn_to_exec.push_back(ms(t_spawned, ps.start));
          out->exec_to_main.push_back(ms(ps.start, ps.main));
          out->main_to_connected.push_back(ms(ps.main, ps.connected));
          out->connected_to_call.push_back(ms(ps.connected, t_call));
        }
      }
      auto rm = client.RemoveAgent(spec.name, true);
      if (!rm.ok()) Die("RemoveAgent: " + rm.status().ToString());
    };
    Times ours, shared;
    for (int i = 0; i < iterations; ++i) {
      measure("first-" + std::to_string(i), AIK_FIRST_CALL_AGENT, &ours);
      measure("shared-" + std::to_string(i), AIK_FIRST_CALL_AGENT_SHARED, &shared);
      if (have_bwrap) {
        auto b0 = Clock::now();
        pid_t pid = Spawn({bwrap, "--unshare-all", "--die-with-parent", "--ro-bind", "/", "/",
                           "/bin/true"},
                          dir + "/bwrap.log");
        int rc = Wait(pid);
        if (rc != 0) Die("bwrap exited " + std::to_string(rc) + "; see " + dir + "/bwrap.log");
        bwrap_ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - b0).count());
        // The same static probe under bwrap, calling Whoami through the
        // daemon's socket: the same work on the agent's side, less
        // confinement and no daemon bookkeeping on the kernel's side.
        const int64_t t0 = RealNs();
        pid = Spawn({bwrap, "--unshare-all", "--die-with-parent", "--ro-bind", "/", "/",
                     AIK_FIRST_CALL_AGENT},
                    dir + "/bwrap.log", {"AIKERNEL_SOCKET=" + d.socket()});
        rc = Wait(pid);
        if (rc != 0) Die("bwrap probe exited " + std::to_string(rc) + "; see " + dir + "/bwrap.log");
        aikernel::AuditFilter f;
        f.action = "kernel.whoami";
        f.last = true;
        f.limit = 1;
        int64_t t_call = 0;
        auto q = client.QueryAudit(f, [&](const aikernel::AuditRecord& rec) {
          if (rec.principal.rfind("agent:", 0) != 0) t_call = rec.time.time_since_epoch().count();
          return false;
        });
        if (t_call == 0) Die("the bwrap probe's Whoami is not in the ledger: " + q.status().ToString());
        bwrap_probe_ms.push_back(static_cast<double>(t_call - t0) / 1e6);
      }
    }
    auto row = [](const char* what, const std::vector<double>& v) {
      std::printf("  %-44s p50 %7.2f ms   p99 %7.2f ms\n", what, Pct(v, 50), Pct(v, 99));
    };
    row("aikernel agent (RunAgent -> first call)", ours.total);
    row("  of which RunAgent RPC (spawn, state.db)", ours.rpc);
    row("  of which spawn start -> first call", ours.exec_to_call);
    row("  RunAgent sent -> spawn start (RPC, policy)", ours.to_spawn);
    row("  spawn start -> agent's first instruction", ours.spawn_to_exec);
    row("  -> main (the agent's static initialisers)", ours.exec_to_main);
    row("  -> Client::Connect returned", ours.main_to_connected);
    row("  -> its Whoami received by the kernel", ours.connected_to_call);
    row("same agent linked to the shared libraries", shared.total);
    row("  of which spawn start -> first call", shared.exec_to_call);
    row("  spawn start -> agent's first instruction", shared.spawn_to_exec);
    row("  -> main (loader and static initialisers)", shared.exec_to_main);
    const std::vector<double>& ours_ms = ours.total;
    if (have_bwrap) {
      std::printf("  %-44s p50 %7.2f ms   p99 %7.2f ms\n", "bwrap --unshare-all ... /bin/true",
                  Pct(bwrap_ms, 50), Pct(bwrap_ms, 99));
      std::printf("  ratio p50 aikernel/bwrap: %.2f\n", Pct(ours_ms, 50) / Pct(bwrap_ms, 50));
      std::printf("  %-44s p50 %7.2f ms   p99 %7.2f ms\n", "bwrap ... same probe, Whoami via the socket",
                  Pct(bwrap_probe_ms, 50), Pct(bwrap_probe_ms, 99));
      std::printf("  ratio p50 aikernel/bwrap with the probe: %.2f\n",
                  Pct(ours_ms, 50) / Pct(bwrap_probe_ms, 50));
    } else {
      std::printf("  bwrap column skipped: %s is not installed (apt-get install bubblewrap; "
                  "scripts/deps does)\n",
                  bwrap.c_str());
    }

    // 2. idle agents
    rss_before = d.RssKiB();
    auto s0 = Clock::now();
    for (int i = 0; i < idle; ++i) {
      aikernel::AgentSpec spec;
      spec.name = "idle-" + std::to_string(i);
      spec.command = AIK_IDLE_AGENT;
      spec.args = {std::to_string(kIdleThreads)};
      spec.limits.memory_bytes = 64 << 20;
      auto r = client.RunAgent(spec);
      if (!r.ok()) Die("RunAgent " + spec.name + ": " + r.status().ToString());
    }
    double spawn_s = std::chrono::duration<double>(Clock::now() - s0).count();
    auto list = client.ListAgents();
    if (!list.ok()) Die("ListAgents: " + list.status().ToString());
    for (const auto& a : list->agents) idle_running += a.state == aikernel::AgentState::kRunning;
    // Started is not enough: an agent whose threads hit a limit exits.
    int64_t threads_up = 0;
    for (const auto& a : list->agents) {
      if (a.state != aikernel::AgentState::kRunning || a.instance.pid <= 0) continue;
      std::string task = "/proc/" + std::to_string(a.instance.pid) + "/task/";
      // The init's child is the agent: count its threads.
      std::ifstream children(task + std::to_string(a.instance.pid) + "/children");
      pid_t agent = 0;
      if (children >> agent) {
        std::error_code ec;
        auto it = std::filesystem::directory_iterator("/proc/" + std::to_string(agent) + "/task", ec);
        if (!ec) threads_up += std::distance(it, std::filesystem::directory_iterator());
      }
    }
    rss_after = d.RssKiB();
    std::vector<double> ls_times;
    for (int i = 0; i < 5; ++i) {
      auto l0 = Clock::now();
      pid_t pid = Spawn({AIK_AICTL_PATH, "--socket", d.socket(), "agent", "ls"}, "/dev/null");
      Wait(pid);
      ls_times.push_back(std::chrono::duration<double, std::milli>(Clock::now() - l0).count());
    }
    ls_ms = Pct(ls_times, 50);
    std::printf("bench_agents: %d idle agents (idle_agent with %d threads, default profile, all "
                "uid 65534) started in %.1f s, %d running, %ld threads in them\n",
                idle, kIdleThreads, spawn_s, idle_running, static_cast<long>(threads_up));
    std::printf("  daemon RSS %ld KiB -> %ld KiB: %.1f KiB per agent\n", rss_before, rss_after,
                idle > 0 ? static_cast<double>(rss_after - rss_before) / idle : 0.0);
    std::printf("  aictl agent ls (%zu agents): median %.1f ms of 5\n", list->agents.size(), ls_ms);
  }
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
  return 0;
}
