// aictl agent run | ls | inspect | stop | kill | restart | logs | rm: the
// Admin agent calls (docs/agents.md). `run --spec FILE` reads the same TOML
// the daemon reads from its agents/ directory (checked here first, so a bad
// file is reported with its line before anything is sent).
#include <pthread.h>
#include <signal.h>
#include <string.h>

#include <cmath>
#include <fstream>
#include <iostream>
#include <memory>
#include <sstream>
#include <thread>

#include "cli/cli.h"
#include "cli/format.h"
#include "cli/interrupt.h"
#include "cli/session.h"
#include "cli/timeparse.h"
#include "cli/views.h"
// Last: it brings absl's aikernel::Status, which would make the SDK's
// aikernel::Status ambiguous in the declarations above.
#include "agents/spec.h"

namespace aikernel::cli {

using json = nlohmann::ordered_json;
using std::chrono::milliseconds;

namespace {

// ----------------------------------------------------------- presentation

int64_t Ns(const std::optional<Timestamp>& t) { return t ? t->time_since_epoch().count() : 0; }

std::string When(const std::optional<Timestamp>& t) {
  return t ? FormatRfc3339(Ns(t), 3) : std::string("-");
}

std::string Ago(const std::optional<Timestamp>& t) {
  if (!t) return "-";
  return FormatDurationHuman(NowNs() - Ns(t)) + " ago";
}

std::string Bytes(uint64_t b) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double v = static_cast<double>(b);
  int u = 0;
  while (v >= 1024 && u < 4 && std::fmod(v, 1024) == 0) {
    v /= 1024;
    ++u;
  }
  std::ostringstream o;
  o << v << units[u];
  return o.str();
}

json Opt(const std::optional<Timestamp>& t) {
  return t ? json(FormatRfc3339(Ns(t), 9)) : json(nullptr);
}

json CallQuotaJson(const AgentCallQuota& q) {
  return {{"per_minute", q.per_minute}, {"per_hour", q.per_hour}, {"total", q.total}};
}

json QuotasJson(const AgentQuotas& q) {
  json actions = json::object();
  for (const auto& [a, aq] : q.actions) actions[a] = CallQuotaJson(aq);
  return {{"calls", CallQuotaJson(q.calls)},
          {"bytes_per_minute", q.bytes_per_minute},
          {"bytes_per_hour", q.bytes_per_hour},
          {"tool_calls", q.tool_calls},
          {"actions", actions}};
}

// "calls 60/min, memory.write 10/h, tool calls 100 total", or "none".
std::string QuotasText(const AgentQuotas& q) {
  std::string out;
  auto add = [&](const std::string& what, uint64_t v, const char* unit) {
    if (v != 0) out += (out.empty() ? "" : ", ") + what + " " + std::to_string(v) + unit;
  };
  auto calls = [&](const std::string& what, const AgentCallQuota& c) {
    add(what, c.per_minute, "/min");
    add(what, c.per_hour, "/h");
    add(what, c.total, " total");
  };
  calls("calls", q.calls);
  add("request bytes", q.bytes_per_minute, "/min");
  add("request bytes", q.bytes_per_hour, "/h");
  add("tool calls", q.tool_calls, " total");
  for (const auto& [a, aq] : q.actions) calls(a, aq);
  return out.empty() ? "none" : out;
}

json SpecJson(const AgentSpec& s) {
  json env = json::object();
  for (const auto& [k, v] : s.env) env[k] = v;
  return {{"name", s.name},
          {"command", s.command},
          {"args", s.args},
          {"env", env},
          {"workdir", s.workdir},
          {"groups", s.groups},
          {"priority", s.priority ? json(*s.priority) : json(nullptr)},
          {"profile", s.profile},
          {"uid", s.uid},
          {"gid", s.gid},
          {"stop_grace_ms", s.stop_grace.count()},
          {"restart",
           {{"policy", RestartPolicyName(s.restart.policy)},
            {"backoff_initial_ms", s.restart.backoff_initial.count()},
            {"backoff_max_ms", s.restart.backoff_max.count()},
            {"max_restarts",
             s.restart.max_restarts ? json(*s.restart.max_restarts) : json(nullptr)},
            {"window_ms", s.restart.window.count()}}},
          {"limits",
           {{"memory_bytes", s.limits.memory_bytes},
            {"pids", s.limits.pids},
            {"cpu", s.limits.cpu},
            {"open_files", s.limits.open_files},
            {"timeout_ms", s.limits.timeout.count()}}},
          {"quotas", QuotasJson(s.quotas)}};
}

json AgentJson(const AgentStatus& a) {
  json j = {{"name", a.spec.name},
            {"state", AgentStateName(a.state)},
            {"reason", a.reason},
            {"exit_code", a.exit_code},
            {"signal", a.signal},
            {"queue_position", a.queue_position},
            {"restarts", a.restarts},
            {"restart_at", Opt(a.restart_at)},
            {"created_at", Opt(a.created_at)},
            {"state_since", Opt(a.state_since)},
            {"spiffe_id", a.spiffe_id},
            {"confinement", a.confinement},
            {"log_path", a.log_path},
            {"instance",
             {{"id", a.instance.id},
              {"pid", a.instance.pid},
              {"started_at", Opt(a.instance.started_at)},
              {"ended_at", Opt(a.instance.ended_at)},
              {"exit_code", a.instance.exit_code},
              {"signal", a.instance.signal},
              {"reason", a.instance.reason}}},
            {"spec", SpecJson(a.spec)}};
  if (a.audit_sequence != 0) j["audit_sequence"] = a.audit_sequence;
  return j;
}

std::string StateText(const AgentStatus& a) {
  std::string s = AgentStateName(a.state);
  if (a.state == AgentState::kExited) {
    s += a.signal != 0 ? "(signal " + std::to_string(a.signal) + ")"
                       : "(" + std::to_string(a.exit_code) + ")";
  }
  if (a.restart_at) {
    int64_t in = Ns(a.restart_at) - NowNs();
    s += ", restart in " + FormatDurationHuman(in < 0 ? 0 : in);
  }
  return s;
}

std::string AgentText(const AgentStatus& a) {
  const AgentSpec& s = a.spec;
  std::string cmd = s.command;
  for (const auto& x : s.args) cmd += " " + x;
  std::string env;
  for (const auto& [k, v] : s.env) env += (env.empty() ? "" : " ") + k + "=" + v;
  std::string groups;
  for (const auto& g : s.groups) groups += (groups.empty() ? "" : ",") + g;
  std::vector<std::pair<std::string, std::string>> f = {
      {"name", s.name},
      {"state", StateText(a)},
      {"reason", a.reason.empty() ? "-" : a.reason},
      {"since", When(a.state_since)},
      {"queue position", a.queue_position ? std::to_string(a.queue_position) : "-"},
      {"spiffe id", a.spiffe_id},
      {"command", cmd},
      {"env", env.empty() ? "-" : env},
      {"workdir", s.workdir},
      {"groups", groups.empty() ? "-" : groups},
      {"priority", s.priority ? std::to_string(*s.priority) : "-"},
      {"profile", s.profile},
      {"uid:gid", std::to_string(s.uid) + ":" + std::to_string(s.gid)},
      {"restart", std::string(RestartPolicyName(s.restart.policy)) + ", backoff " +
                      FormatDurationHuman(s.restart.backoff_initial.count() * 1'000'000) + ".." +
                      FormatDurationHuman(s.restart.backoff_max.count() * 1'000'000) + ", at most " +
                      std::to_string(s.restart.max_restarts.value_or(0)) + " per " +
                      FormatDurationHuman(s.restart.window.count() * 1'000'000) + " (" +
                      std::to_string(a.restarts) + " so far)"},
      {"limits", "memory " + Bytes(s.limits.memory_bytes) + ", pids " +
                     std::to_string(s.limits.pids) + ", cpu " +
                     (s.limits.cpu < 0 ? std::string("unlimited")
                                       : std::to_string(s.limits.cpu).substr(0, 4)) +
                     ", open files " + std::to_string(s.limits.open_files) + ", timeout " +
                     (s.limits.timeout.count() ? FormatDurationHuman(s.limits.timeout.count() *
                                                                     1'000'000)
                                               : std::string("none"))},
      {"quotas", QuotasText(s.quotas)},
      {"confinement", a.confinement.empty() ? "-" : a.confinement},
      {"log", a.log_path},
  };
  if (!a.instance.id.empty()) {
    std::string end = "running";
    if (a.instance.ended_at) {
      end = "ended " + When(a.instance.ended_at) + ", " +
            (a.instance.signal ? "signal " + std::to_string(a.instance.signal)
                               : "exit code " + std::to_string(a.instance.exit_code));
      if (!a.instance.reason.empty()) end += " (" + a.instance.reason + ")";
    }
    f.emplace_back("instance", a.instance.id + "  pid " + std::to_string(a.instance.pid) +
                                   "  started " + When(a.instance.started_at) + "  " + end);
  }
  if (a.audit_sequence) f.emplace_back("audit record", "#" + std::to_string(a.audit_sequence));
  return RenderFields(f);
}

// ------------------------------------------------------------- arguments

struct RunArgs {
  std::string spec_file;
  std::string name;
  std::vector<std::string> command;  // command and args
  std::vector<std::string> env;      // K=V
  std::string workdir;
  std::vector<std::string> groups;
  int priority = 50;
  std::string profile;
  uint32_t uid = 0, gid = 0;
  std::string restart;  // no, on-failure, always
  std::string backoff_initial, backoff_max, restart_window, stop_grace, wall_timeout;
  uint32_t max_restarts = 0;
  std::string memory;
  uint64_t pids = 0;
  double cpu = 0;
  uint64_t open_files = 0;
  bool replace = false;
  CLI::App* app = nullptr;
};

bool Given(const CLI::App* app, const char* opt) { return app->count(opt) > 0; }

std::optional<milliseconds> Dur(const std::string& text, const char* flag, std::string* err) {
  std::string e;
  auto ns = ParseDuration(text, &e);
  if (!ns) {
    *err = std::string(flag) + ": " + e;
    return std::nullopt;
  }
  return milliseconds(*ns / 1'000'000);
}

std::optional<uint64_t> ParseBytes(const std::string& text, std::string* err) {
  size_t pos = 0;
  uint64_t v = 0;
  try {
    v = std::stoull(text, &pos);
  } catch (...) {
    *err = "--memory: '" + text + "' is not a size (e.g. 256M, 1G, 1048576)";
    return std::nullopt;
  }
  std::string unit = text.substr(pos);
  uint64_t mul = 1;
  if (unit.empty() || unit == "B") mul = 1;
  else if (unit == "K" || unit == "KiB" || unit == "k") mul = 1ull << 10;
  else if (unit == "M" || unit == "MiB") mul = 1ull << 20;
  else if (unit == "G" || unit == "GiB") mul = 1ull << 30;
  else {
    *err = "--memory: unknown unit '" + unit + "' (B, K, M, G)";
    return std::nullopt;
  }
  return v * mul;
}

// The spec file, read with the daemon's own parser, as an SDK spec.
bool LoadSpecFile(const std::string& path, AgentSpec* out, std::string* err) {
  std::ifstream in(path);
  if (!in) {
    *err = path + ": cannot read";
    return false;
  }
  std::stringstream buf;
  buf << in.rdbuf();
  auto parsed = agents::ParseSpecToml(buf.str(), path);
  if (!parsed.ok()) {
    *err = std::string(parsed.status().message());
    return false;
  }
  const agents::AgentSpec& s = *parsed;
  out->name = s.name;
  out->command = s.command;
  out->args = s.args;
  out->env = s.env;
  out->workdir = s.workdir;
  out->groups = s.groups;
  out->priority = static_cast<int>(s.priority);
  out->profile = s.profile;
  out->uid = s.uid < 0 ? 0 : static_cast<uint32_t>(s.uid);
  out->gid = s.gid < 0 ? 0 : static_cast<uint32_t>(s.gid);
  out->stop_grace = milliseconds(s.stop_grace_ms);
  out->restart.policy = static_cast<RestartPolicy>(static_cast<int>(s.restart.policy) + 1);
  out->restart.backoff_initial = milliseconds(s.restart.backoff_initial_ms);
  out->restart.backoff_max = milliseconds(s.restart.backoff_max_ms);
  out->restart.max_restarts = static_cast<uint32_t>(s.restart.max_restarts);
  out->restart.window = milliseconds(s.restart.window_ms);
  out->limits.memory_bytes = static_cast<uint64_t>(s.limits.memory_bytes);
  out->limits.pids = static_cast<uint64_t>(s.limits.pids);
  out->limits.cpu = s.limits.cpu == 0 ? -1 : s.limits.cpu;
  out->limits.open_files = static_cast<uint64_t>(s.limits.open_files);
  out->limits.timeout = milliseconds(s.limits.timeout_ms);
  auto quota = [](const agents::CallQuota& q) {
    return AgentCallQuota{static_cast<uint64_t>(q.per_minute), static_cast<uint64_t>(q.per_hour),
                          static_cast<uint64_t>(q.total)};
  };
  out->quotas.calls = quota(s.quotas.calls);
  out->quotas.bytes_per_minute = static_cast<uint64_t>(s.quotas.bytes_per_minute);
  out->quotas.bytes_per_hour = static_cast<uint64_t>(s.quotas.bytes_per_hour);
  out->quotas.tool_calls = static_cast<uint64_t>(s.quotas.tool_calls);
  for (const auto& [action, q] : s.quotas.actions) out->quotas.actions[action] = quota(q);
  return true;
}

// Builds the spec from --spec and the flags (flags win). false: *err says why.
bool BuildSpec(const RunArgs& a, AgentSpec* s, std::string* err) {
  const CLI::App* app = a.app;
  if (!a.spec_file.empty() && !LoadSpecFile(a.spec_file, s, err)) return false;
  if (!a.name.empty()) s->name = a.name;
  if (!a.command.empty()) {
    s->command = a.command.front();
    s->args.assign(a.command.begin() + 1, a.command.end());
  }
  if (s->name.empty()) {
    *err = "give the agent a NAME (or --spec FILE)";
    return false;
  }
  if (s->command.empty()) {
    *err = "give the COMMAND to run after the name, e.g. 'aictl agent run hello -- /usr/bin/hello'";
    return false;
  }
  for (const auto& kv : a.env) {
    size_t eq = kv.find('=');
    if (eq == std::string::npos || eq == 0) {
      *err = "--env: '" + kv + "' is not NAME=VALUE";
      return false;
    }
    s->env[kv.substr(0, eq)] = kv.substr(eq + 1);
  }
  if (Given(app, "--workdir")) s->workdir = a.workdir;
  if (Given(app, "--group")) s->groups = a.groups;
  if (Given(app, "--priority")) s->priority = a.priority;
  if (Given(app, "--profile")) s->profile = a.profile;
  if (Given(app, "--uid")) s->uid = a.uid;
  if (Given(app, "--gid")) s->gid = a.gid;
  if (Given(app, "--restart")) {
    s->restart.policy = a.restart == "always"       ? RestartPolicy::kAlways
                        : a.restart == "on-failure" ? RestartPolicy::kOnFailure
                                                    : RestartPolicy::kNo;
  }
  auto dur = [&](const char* flag, const std::string& v, milliseconds* out) {
    if (!Given(app, flag)) return true;
    auto d = Dur(v, flag, err);
    if (!d) return false;
    *out = *d;
    return true;
  };
  if (!dur("--backoff-initial", a.backoff_initial, &s->restart.backoff_initial) ||
      !dur("--backoff-max", a.backoff_max, &s->restart.backoff_max) ||
      !dur("--restart-window", a.restart_window, &s->restart.window) ||
      !dur("--stop-grace", a.stop_grace, &s->stop_grace) ||
      !dur("--wall-timeout", a.wall_timeout, &s->limits.timeout)) {
    return false;
  }
  if (Given(app, "--max-restarts")) s->restart.max_restarts = a.max_restarts;
  if (Given(app, "--memory")) {
    auto b = ParseBytes(a.memory, err);
    if (!b) return false;
    s->limits.memory_bytes = *b;
  }
  if (Given(app, "--pids")) s->limits.pids = a.pids;
  if (Given(app, "--cpu")) s->limits.cpu = a.cpu == 0 ? -1 : a.cpu;
  if (Given(app, "--open-files")) s->limits.open_files = a.open_files;
  return true;
}

int RunRun(const Globals& g, const RunArgs& a) {
  AgentSpec spec;
  std::string err;
  if (!BuildSpec(a, &spec, &err)) {
    std::cerr << "aictl: agent run: " << err << "\n";
    return kExitUsage;
  }
  int rc = 0;
  auto client = ConnectOrReport(g, &rc);
  if (!client) return rc;
  auto r = client->RunAgent(spec, a.replace);
  if (!r.ok()) return Report("agent run", r.status());
  if (g.json) {
    std::cout << DumpJson(AgentJson(*r), 2) << "\n";
  } else {
    std::cout << "agent " << r->spec.name << ": " << StateText(*r);
    if (r->queue_position) std::cout << " (queue position " << r->queue_position << ")";
    if (!r->instance.id.empty() && r->state == AgentState::kRunning) {
      std::cout << ", instance " << r->instance.id << " pid " << r->instance.pid;
    }
    if (r->state == AgentState::kFailed) std::cout << ": " << r->reason;
    std::cout << "\n";
  }
  return r->state == AgentState::kFailed ? kExitError : kExitOk;
}

int RunList(const Globals& g) {
  int rc = 0;
  auto client = ConnectOrReport(g, &rc);
  if (!client) return rc;
  auto r = client->ListAgents();
  if (!r.ok()) return Report("agent ls", r.status());
  if (g.json) {
    json arr = json::array();
    for (const auto& a : r->agents) arr.push_back(AgentJson(a));
    std::cout << DumpJson({{"agents", arr}, {"audit_sequence", r->audit_sequence}}, 2) << "\n";
    return kExitOk;
  }
  Table t({"NAME", "STATE", "QUEUE", "PRIO", "RESTARTS", "PID", "INSTANCE", "SINCE", "REASON"});
  for (const auto& a : r->agents) {
    bool live = a.state == AgentState::kRunning || a.state == AgentState::kStarting;
    t.AddRow({a.spec.name, StateText(a), a.queue_position ? std::to_string(a.queue_position) : "-",
              a.spec.priority ? std::to_string(*a.spec.priority) : "-",
              std::to_string(a.restarts), live ? std::to_string(a.instance.pid) : "-",
              a.instance.id.empty() ? "-" : a.instance.id, Ago(a.state_since),
              a.reason.empty() ? "-" : a.reason});
  }
  if (t.rows() == 0) {
    std::cout << "no agents\n";
  } else {
    std::cout << t.Render();
  }
  return kExitOk;
}

template <typename Fn>
int OneAgent(const Globals& g, const char* command, Fn fn) {
  int rc = 0;
  auto client = ConnectOrReport(g, &rc);
  if (!client) return rc;
  Result<AgentStatus> r = fn(*client);
  if (!r.ok()) return Report(command, r.status());
  std::cout << (g.json ? DumpJson(AgentJson(*r), 2) + "\n" : AgentText(*r));
  return kExitOk;
}

std::optional<int> ParseSignal(const std::string& s) {
  if (!s.empty() && std::isdigit(static_cast<unsigned char>(s[0]))) {
    try {
      int n = std::stoi(s);
      if (n > 0 && n < NSIG) return n;
    } catch (...) {
    }
    return std::nullopt;
  }
  std::string name = s;
  for (auto& c : name) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  if (name.rfind("SIG", 0) == 0) name = name.substr(3);
  for (int i = 1; i < NSIG; ++i) {
    const char* abbrev = sigabbrev_np(i);
    if (abbrev != nullptr && name == abbrev) return i;
  }
  return std::nullopt;
}

struct LogArgs {
  std::string name;
  bool follow = false;
  int64_t tail = -1;
  bool all = false;
};

int RunLogs(const Globals& g, const LogArgs& a) {
  std::unique_ptr<InterruptToStop> interrupt;
  if (a.follow) interrupt = std::make_unique<InterruptToStop>();
  int rc = 0;
  auto client = ConnectOrReport(g, &rc);
  if (!client) return rc;
  CallOptions call = StreamCallFor(g);
  if (interrupt) call.stop = interrupt->token();
  AgentLogOptions o;
  o.follow = a.follow;
  if (a.tail >= 0) o.tail_bytes = static_cast<uint64_t>(a.tail);
  o.include_rotated = a.all;
  auto r = client->AgentLogs(
      a.name, o,
      [&](std::string_view data) {
        if (g.json) {
          std::cout << DumpJson({{"data", std::string(data)}}) << "\n";
        } else {
          std::cout.write(data.data(), static_cast<std::streamsize>(data.size()));
        }
        std::cout.flush();
        return static_cast<bool>(std::cout);
      },
      call);
  if (!r.ok()) return Report("agent logs", r.status());
  if (a.follow && !r->cancelled) {
    std::cerr << "aictl: agent logs: aikerneld ended the stream (is it shutting down?)\n";
    return kExitError;
  }
  return kExitOk;
}

}  // namespace

void AddAgentCommands(CLI::App& agent, Context& ctx) {
  // run
  auto ra = std::make_shared<RunArgs>();
  CLI::App* run = agent.add_subcommand(
      "run", "Create an agent and queue it (Admin.RunAgent). Either NAME -- COMMAND [ARGS...] "
             "with flags, or --spec FILE.toml (flags then override the file)");
  ra->app = run;
  run->add_option("--spec", ra->spec_file, "Agent spec file (TOML; see docs/agents.md)")
      ->type_name("FILE");
  run->add_option("name", ra->name, "Agent name")->type_name("NAME");
  run->add_option("command", ra->command, "Command (absolute path) and its arguments, after --")
      ->type_name("COMMAND [ARGS...]");
  run->add_option("-e,--env", ra->env, "Environment variable (repeatable)")->type_name("NAME=VALUE");
  run->add_option("--workdir", ra->workdir, "Working directory (default <state>/agents/<name>)")
      ->type_name("DIR");
  run->add_option("--group", ra->groups, "Group for policy (repeatable)")->type_name("GROUP");
  run->add_option("--priority", ra->priority, "0..100, higher starts first (default 50)")
      ->type_name("N");
  run->add_option("--profile", ra->profile, "Sandbox profile: default, trusted, or one of the daemon's [profiles.<name>]")
      ->type_name("NAME");
  run->add_option("--uid", ra->uid, "Run as this uid (default [agents] default_uid)")
      ->type_name("UID");
  run->add_option("--gid", ra->gid, "Run as this gid (default [agents] default_gid)")
      ->type_name("GID");
  run->add_option("--restart", ra->restart, "Restart policy (default no)")
      ->type_name("no|on-failure|always")
      ->check(CLI::IsMember({"no", "on-failure", "always"}));
  run->add_option("--backoff-initial", ra->backoff_initial, "First restart delay (default 500ms)")
      ->type_name("DURATION")->check(DurationValidator());
  run->add_option("--backoff-max", ra->backoff_max, "Longest restart delay (default 30s)")
      ->type_name("DURATION")->check(DurationValidator());
  run->add_option("--max-restarts", ra->max_restarts,
                  "More restarts than this within the window: failed (default 5)")
      ->type_name("N");
  run->add_option("--restart-window", ra->restart_window, "Crash-loop window (default 60s)")
      ->type_name("DURATION")->check(DurationValidator());
  run->add_option("--stop-grace", ra->stop_grace, "SIGTERM to SIGKILL on stop (default 10s)")
      ->type_name("DURATION")->check(DurationValidator());
  run->add_option("--memory", ra->memory, "Memory limit, e.g. 256M (default 256M)")
      ->type_name("SIZE");
  run->add_option("--pids", ra->pids, "Most processes (default 64)")->type_name("N");
  run->add_option("--cpu", ra->cpu, "CPU quota in cores (default 1; 0: none)")->type_name("CORES");
  run->add_option("--open-files", ra->open_files, "RLIMIT_NOFILE (default 256)")->type_name("N");
  run->add_option("--wall-timeout", ra->wall_timeout,
                  "Stop each instance after this long (counts as a failure)")
      ->type_name("DURATION")->check(DurationValidator());
  run->add_flag("--replace", ra->replace, "Replace an existing agent of that name that is not running");
  run->footer(kGlobalFooter);
  run->callback([&ctx, ra] { ctx.exit_code = RunRun(ctx.globals, *ra); });

  CLI::App* ls = agent.add_subcommand(
      "ls", "List agents with state, queue position and instance (Admin.ListAgents)");
  ls->alias("list");
  ls->footer(kGlobalFooter);
  ls->callback([&ctx] { ctx.exit_code = RunList(ctx.globals); });

  auto name = std::make_shared<std::string>();
  CLI::App* inspect = agent.add_subcommand("inspect", "Show one agent in full (Admin.InspectAgent)");
  inspect->add_option("name", *name, "Agent name")->required()->type_name("NAME");
  inspect->footer(kGlobalFooter);
  inspect->callback([&ctx, name] {
    ctx.exit_code = OneAgent(ctx.globals, "agent inspect",
                             [&](Client& c) { return c.InspectAgent(*name); });
  });

  auto stop_grace = std::make_shared<std::string>();
  CLI::App* stop = agent.add_subcommand(
      "stop", "SIGTERM, then SIGKILL after the grace; returns once it has stopped "
              "(Admin.StopAgent)");
  stop->add_option("name", *name, "Agent name")->required()->type_name("NAME");
  stop->add_option("--grace", *stop_grace, "Override the spec's stop grace")
      ->type_name("DURATION")->check(DurationValidator());
  stop->footer(kGlobalFooter);
  stop->callback([&ctx, name, stop_grace] {
    std::optional<milliseconds> grace;
    std::string err;
    if (!stop_grace->empty()) grace = Dur(*stop_grace, "--grace", &err);
    ctx.exit_code = OneAgent(ctx.globals, "agent stop",
                             [&](Client& c) { return c.StopAgent(*name, grace); });
  });

  auto sig = std::make_shared<std::string>("KILL");
  CLI::App* kill = agent.add_subcommand(
      "kill", "Send a signal to the agent (SIGKILL kills everything it started); the restart "
              "policy decides what follows (Admin.KillAgent)");
  kill->add_option("name", *name, "Agent name")->required()->type_name("NAME");
  kill->add_option("-s,--signal", *sig, "Signal name or number")->type_name("SIGNAL")
      ->capture_default_str();
  kill->footer(kGlobalFooter);
  kill->callback([&ctx, name, sig] {
    std::optional<int> n = ParseSignal(*sig);
    if (!n) {
      std::cerr << "aictl: agent kill: --signal: unknown signal '" << *sig << "'\n";
      ctx.exit_code = kExitUsage;
      return;
    }
    ctx.exit_code =
        OneAgent(ctx.globals, "agent kill", [&](Client& c) { return c.KillAgent(*name, *n); });
  });

  CLI::App* restart = agent.add_subcommand(
      "restart", "Stop the agent if running, reset its crash-loop count and queue it again "
                 "(Admin.RestartAgent)");
  restart->add_option("name", *name, "Agent name")->required()->type_name("NAME");
  restart->footer(kGlobalFooter);
  restart->callback([&ctx, name] {
    ctx.exit_code =
        OneAgent(ctx.globals, "agent restart", [&](Client& c) { return c.RestartAgent(*name); });
  });

  auto la = std::make_shared<LogArgs>();
  CLI::App* logs = agent.add_subcommand(
      "logs", "Print the agent's captured stdout/stderr; -f follows (Admin.AgentLogs)");
  logs->add_option("name", la->name, "Agent name")->required()->type_name("NAME");
  logs->add_flag("-f,--follow", la->follow, "Keep printing new output until interrupted");
  logs->add_option("--tail", la->tail, "Start this many bytes before the end")->type_name("BYTES");
  logs->add_flag("--all", la->all, "Include the rotated files, oldest first");
  logs->footer(kGlobalFooter);
  logs->callback([&ctx, la] { ctx.exit_code = RunLogs(ctx.globals, *la); });

  auto force = std::make_shared<bool>(false);
  CLI::App* rm = agent.add_subcommand(
      "rm", "Forget an agent: its state and its logs (Admin.RemoveAgent)");
  rm->add_option("name", *name, "Agent name")->required()->type_name("NAME");
  rm->add_flag("-f,--force", *force, "Kill it first if it is running");
  rm->footer(kGlobalFooter);
  rm->callback([&ctx, name, force] {
    int rc = 0;
    auto client = ConnectOrReport(ctx.globals, &rc);
    if (!client) {
      ctx.exit_code = rc;
      return;
    }
    auto r = client->RemoveAgent(*name, *force);
    if (!r.ok()) {
      ctx.exit_code = Report("agent rm", r.status());
      return;
    }
    if (ctx.globals.json) {
      std::cout << DumpJson({{"removed", *name}, {"audit_sequence", *r}}, 2) << "\n";
    } else {
      std::cout << "agent " << *name << " removed\n";
    }
    ctx.exit_code = kExitOk;
  });
}

}  // namespace aikernel::cli
