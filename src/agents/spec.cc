#include "agents/spec.h"

// toml++ without exceptions, header-only, as in daemon/config.cc.
#define TOML_EXCEPTIONS 0
#define TOML_HEADER_ONLY 1
#include <toml++/toml.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>
#include <set>
#include <sstream>

namespace aikernel::agents {

const char* RestartPolicyName(RestartPolicy p) {
  switch (p) {
    case RestartPolicy::kNo: return "no";
    case RestartPolicy::kOnFailure: return "on-failure";
    case RestartPolicy::kAlways: return "always";
  }
  return "no";
}

bool ParseRestartPolicy(const std::string& s, RestartPolicy* out) {
  if (s == "no") *out = RestartPolicy::kNo;
  else if (s == "on-failure") *out = RestartPolicy::kOnFailure;
  else if (s == "always") *out = RestartPolicy::kAlways;
  else return false;
  return true;
}

namespace {

Status Bad(const std::string& field, const std::string& why) {
  return absl::InvalidArgumentError(absl::StrCat(field, ": ", why));
}

bool ValidName(const std::string& n) {
  if (n.empty() || n.size() > 63) return false;
  auto lead = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); };
  if (!lead(n[0])) return false;
  return std::all_of(n.begin(), n.end(), [&](char c) {
    return lead(c) || c == '.' || c == '_' || c == '-';
  });
}

bool ValidEnvName(const std::string& n) {
  if (n.empty() || (n[0] >= '0' && n[0] <= '9')) return false;
  return std::all_of(n.begin(), n.end(), [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
  });
}

bool HasNul(const std::string& s) { return s.find('\0') != std::string::npos; }

Status Range(const std::string& field, int64_t v, int64_t lo, int64_t hi) {
  if (v < lo || v > hi) {
    return Bad(field, absl::StrCat("must be between ", lo, " and ", hi, ", got ", v));
  }
  return absl::OkStatus();
}

constexpr int64_t kMaxQuota = 1'000'000'000'000LL;

Status CallQuotaRange(const std::string& prefix, const CallQuota& q) {
  AIK_RETURN_IF_ERROR(Range(prefix + "per_minute", q.per_minute, 0, kMaxQuota));
  AIK_RETURN_IF_ERROR(Range(prefix + "per_hour", q.per_hour, 0, kMaxQuota));
  return Range(prefix + "total", q.total, 0, kMaxQuota);
}

// An action id as the syscall table spells them: "memory.write".
bool ValidActionId(const std::string& a) {
  if (a.empty() || a.size() > 64 || !(a[0] >= 'a' && a[0] <= 'z')) return false;
  return std::all_of(a.begin(), a.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
  });
}

}  // namespace

Status ValidateQuotas(const Quotas& q) {
  const CallQuota& c = q.calls;
  AIK_RETURN_IF_ERROR(Range("quotas.calls_per_minute", c.per_minute, 0, kMaxQuota));
  AIK_RETURN_IF_ERROR(Range("quotas.calls_per_hour", c.per_hour, 0, kMaxQuota));
  AIK_RETURN_IF_ERROR(Range("quotas.calls_total", c.total, 0, kMaxQuota));
  AIK_RETURN_IF_ERROR(Range("quotas.bytes_per_minute", q.bytes_per_minute, 0, kMaxQuota));
  AIK_RETURN_IF_ERROR(Range("quotas.bytes_per_hour", q.bytes_per_hour, 0, kMaxQuota));
  AIK_RETURN_IF_ERROR(Range("quotas.tool_calls", q.tool_calls, 0, kMaxQuota));
  for (const auto& [action, aq] : q.actions) {
    if (!ValidActionId(action)) {
      return Bad("quotas.actions", absl::StrCat("'", action,
                                                "' is not an action id (like \"memory.write\")"));
    }
    AIK_RETURN_IF_ERROR(CallQuotaRange(absl::StrCat("quotas.actions.\"", action, "\"."), aq));
  }
  return absl::OkStatus();
}

Status Validate(const AgentSpec& s) {
  if (!ValidName(s.name)) {
    return Bad("name", absl::StrCat("'", s.name,
                                    "' must be 1-63 characters of a-z, 0-9, '.', '_', '-', "
                                    "starting with a letter or digit"));
  }
  if (s.command.empty()) return Bad("command", "must not be empty");
  if (s.command[0] != '/') {
    return Bad("command", absl::StrCat("'", s.command, "' must be an absolute path"));
  }
  if (HasNul(s.command)) return Bad("command", "must not contain NUL");
  for (size_t i = 0; i < s.args.size(); ++i) {
    if (HasNul(s.args[i])) return Bad(absl::StrCat("args[", i, "]"), "must not contain NUL");
  }
  if (s.args.size() > 1024) return Bad("args", "at most 1024 arguments");
  for (const auto& [k, v] : s.env) {
    if (!ValidEnvName(k)) {
      return Bad("env", absl::StrCat("'", k, "' is not a valid variable name"));
    }
    if (k == "AIKERNEL_FD" || k == "AIKERNEL_SOCKET") {
      return Bad(absl::StrCat("env.", k), "is set by the kernel and may not be given");
    }
    if (HasNul(v)) return Bad(absl::StrCat("env.", k), "must not contain NUL");
  }
  if (!s.workdir.empty() && s.workdir[0] != '/') {
    return Bad("workdir", absl::StrCat("'", s.workdir, "' must be an absolute path"));
  }
  for (size_t i = 0; i < s.groups.size(); ++i) {
    if (!ValidName(s.groups[i])) {
      return Bad(absl::StrCat("groups[", i, "]"),
                 absl::StrCat("'", s.groups[i], "' must be a name like an agent's"));
    }
  }
  AIK_RETURN_IF_ERROR(Range("priority", s.priority, 0, 100));
  if (!ValidName(s.profile)) return Bad("profile", "must name a sandbox profile");
  if (s.uid != -1) AIK_RETURN_IF_ERROR(Range("uid", s.uid, 1, 4294967294LL));
  if (s.gid != -1) AIK_RETURN_IF_ERROR(Range("gid", s.gid, 1, 4294967294LL));
  AIK_RETURN_IF_ERROR(Range("stop_grace_ms", s.stop_grace_ms, 0, 3'600'000));
  const RestartSpec& r = s.restart;
  AIK_RETURN_IF_ERROR(Range("restart.backoff_initial_ms", r.backoff_initial_ms, 1, 86'400'000));
  AIK_RETURN_IF_ERROR(Range("restart.backoff_max_ms", r.backoff_max_ms, 1, 86'400'000));
  if (r.backoff_max_ms < r.backoff_initial_ms) {
    return Bad("restart.backoff_max_ms", "must not be less than restart.backoff_initial_ms");
  }
  AIK_RETURN_IF_ERROR(Range("restart.max_restarts", r.max_restarts, 0, 1'000'000));
  AIK_RETURN_IF_ERROR(Range("restart.window_ms", r.window_ms, 1, 86'400'000LL * 30));
  const Limits& l = s.limits;
  AIK_RETURN_IF_ERROR(Range("limits.memory_bytes", l.memory_bytes, 1 << 20, 1LL << 46));
  AIK_RETURN_IF_ERROR(Range("limits.pids", l.pids, 1, 1 << 22));
  if (!(l.cpu >= 0 && l.cpu <= 1024) || std::isnan(l.cpu)) {
    return Bad("limits.cpu", "must be between 0 (no limit) and 1024 cores");
  }
  AIK_RETURN_IF_ERROR(Range("limits.open_files", l.open_files, 16, 1 << 20));
  AIK_RETURN_IF_ERROR(Range("limits.timeout_ms", l.timeout_ms, 0, 86'400'000LL * 365));
  return ValidateQuotas(s.quotas);
}

// ----------------------------------------------------------------- TOML

namespace {

std::string Where(const std::string& src, const toml::node& n) {
  const auto& b = n.source().begin;
  return absl::StrCat(src, ":", b.line, ":", b.column, ": ");
}

class Reader {
 public:
  Reader(const std::string& src, AgentSpec* spec) : src_(src), spec_(spec) {}

  Status Read(const toml::table& root) {
    for (const auto& [k, v] : root) {
      std::string key(k.str());
      Status s;
      if (key == "name") s = Str(v, key, &spec_->name);
      else if (key == "command") s = Str(v, key, &spec_->command);
      else if (key == "args") s = StrList(v, key, &spec_->args);
      else if (key == "workdir") s = Str(v, key, &spec_->workdir);
      else if (key == "groups") s = StrList(v, key, &spec_->groups);
      else if (key == "priority") s = Int(v, key, &spec_->priority);
      else if (key == "profile") s = Str(v, key, &spec_->profile);
      else if (key == "uid") s = Int(v, key, &spec_->uid);
      else if (key == "gid") s = Int(v, key, &spec_->gid);
      else if (key == "stop_grace_ms") s = Int(v, key, &spec_->stop_grace_ms);
      else if (key == "env") s = Env(v);
      else if (key == "restart") s = Restart(v);
      else if (key == "limits") s = LimitsTable(v);
      else if (key == "quotas") s = QuotasTable(v);
      else
        s = Err(v, key,
                "unknown key (known: name, command, args, env, workdir, groups, priority, "
                "profile, uid, gid, stop_grace_ms, [restart], [limits], [quotas])");
      AIK_RETURN_IF_ERROR(s);
    }
    return absl::OkStatus();
  }

 private:
  Status Err(const toml::node& n, const std::string& key, const std::string& why) {
    return absl::InvalidArgumentError(absl::StrCat(Where(src_, n), key, ": ", why));
  }
  Status Str(const toml::node& n, const std::string& key, std::string* out) {
    if (!n.is_string()) return Err(n, key, "expected a string");
    *out = *n.value<std::string>();
    return absl::OkStatus();
  }
  Status Int(const toml::node& n, const std::string& key, int64_t* out) {
    if (!n.is_integer()) return Err(n, key, "expected an integer");
    *out = *n.value<int64_t>();
    return absl::OkStatus();
  }
  Status Num(const toml::node& n, const std::string& key, double* out) {
    if (n.is_integer()) *out = static_cast<double>(*n.value<int64_t>());
    else if (n.is_floating_point()) *out = *n.value<double>();
    else return Err(n, key, "expected a number");
    return absl::OkStatus();
  }
  Status StrList(const toml::node& n, const std::string& key, std::vector<std::string>* out) {
    const toml::array* a = n.as_array();
    if (a == nullptr) return Err(n, key, "expected an array of strings");
    out->clear();
    for (const toml::node& e : *a) {
      if (!e.is_string()) return Err(e, key, "expected an array of strings");
      out->push_back(*e.value<std::string>());
    }
    return absl::OkStatus();
  }
  Status Env(const toml::node& n) {
    const toml::table* t = n.as_table();
    if (t == nullptr) return Err(n, "env", "expected a table of strings");
    for (const auto& [k, v] : *t) {
      std::string key(k.str());
      if (!v.is_string()) return Err(v, "env." + key, "expected a string");
      spec_->env[key] = *v.value<std::string>();
    }
    return absl::OkStatus();
  }
  Status Restart(const toml::node& n) {
    const toml::table* t = n.as_table();
    if (t == nullptr) return Err(n, "restart", "expected a table");
    RestartSpec& r = spec_->restart;
    for (const auto& [k, v] : *t) {
      std::string key = "restart." + std::string(k.str());
      Status s;
      if (k.str() == "policy") {
        std::string p;
        s = Str(v, key, &p);
        if (s.ok() && !ParseRestartPolicy(p, &r.policy)) {
          s = Err(v, key, "expected one of no, on-failure, always");
        }
      } else if (k.str() == "backoff_initial_ms") s = Int(v, key, &r.backoff_initial_ms);
      else if (k.str() == "backoff_max_ms") s = Int(v, key, &r.backoff_max_ms);
      else if (k.str() == "max_restarts") s = Int(v, key, &r.max_restarts);
      else if (k.str() == "window_ms") s = Int(v, key, &r.window_ms);
      else
        s = Err(v, key,
                "unknown key (known: policy, backoff_initial_ms, backoff_max_ms, "
                "max_restarts, window_ms)");
      AIK_RETURN_IF_ERROR(s);
    }
    return absl::OkStatus();
  }
  Status LimitsTable(const toml::node& n) {
    const toml::table* t = n.as_table();
    if (t == nullptr) return Err(n, "limits", "expected a table");
    Limits& l = spec_->limits;
    for (const auto& [k, v] : *t) {
      std::string key = "limits." + std::string(k.str());
      Status s;
      if (k.str() == "memory_bytes") s = Int(v, key, &l.memory_bytes);
      else if (k.str() == "pids") s = Int(v, key, &l.pids);
      else if (k.str() == "cpu") s = Num(v, key, &l.cpu);
      else if (k.str() == "open_files") s = Int(v, key, &l.open_files);
      else if (k.str() == "timeout_ms") s = Int(v, key, &l.timeout_ms);
      else
        s = Err(v, key, "unknown key (known: memory_bytes, pids, cpu, open_files, timeout_ms)");
      AIK_RETURN_IF_ERROR(s);
    }
    return absl::OkStatus();
  }

  Status QuotasTable(const toml::node& n) {
    const toml::table* t = n.as_table();
    if (t == nullptr) return Err(n, "quotas", "expected a table");
    Quotas& q = spec_->quotas;
    for (const auto& [k, v] : *t) {
      std::string key = "quotas." + std::string(k.str());
      Status s;
      if (k.str() == "calls_per_minute") s = Int(v, key, &q.calls.per_minute);
      else if (k.str() == "calls_per_hour") s = Int(v, key, &q.calls.per_hour);
      else if (k.str() == "calls_total") s = Int(v, key, &q.calls.total);
      else if (k.str() == "bytes_per_minute") s = Int(v, key, &q.bytes_per_minute);
      else if (k.str() == "bytes_per_hour") s = Int(v, key, &q.bytes_per_hour);
      else if (k.str() == "tool_calls") s = Int(v, key, &q.tool_calls);
      else if (k.str() == "actions") s = ActionQuotas(v);
      else
        s = Err(v, key,
                "unknown key (known: calls_per_minute, calls_per_hour, calls_total, "
                "bytes_per_minute, bytes_per_hour, tool_calls, [quotas.actions])");
      AIK_RETURN_IF_ERROR(s);
    }
    return absl::OkStatus();
  }
  // [quotas.actions."memory.write"] per_minute = .., per_hour = .., total = ..
  Status ActionQuotas(const toml::node& n) {
    const toml::table* t = n.as_table();
    if (t == nullptr) return Err(n, "quotas.actions", "expected a table of action tables");
    for (const auto& [action, v] : *t) {
      const std::string prefix = absl::StrCat("quotas.actions.\"", std::string(action.str()), "\"");
      const toml::table* at = v.as_table();
      if (at == nullptr) return Err(v, prefix, "expected a table (per_minute, per_hour, total)");
      CallQuota& q = spec_->quotas.actions[std::string(action.str())];
      for (const auto& [k, x] : *at) {
        std::string key = prefix + "." + std::string(k.str());
        Status s;
        if (k.str() == "per_minute") s = Int(x, key, &q.per_minute);
        else if (k.str() == "per_hour") s = Int(x, key, &q.per_hour);
        else if (k.str() == "total") s = Int(x, key, &q.total);
        else s = Err(x, key, "unknown key (known: per_minute, per_hour, total)");
        AIK_RETURN_IF_ERROR(s);
      }
    }
    return absl::OkStatus();
  }

  const std::string& src_;
  AgentSpec* spec_;
};

std::string Quote(const std::string& s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\t': out += "\\t"; break;
      case '\r': out += "\\r"; break;
      default:
        if (c < 0x20 || c == 0x7f) {
          char buf[8];
          std::snprintf(buf, sizeof(buf), "\\u%04x", c);
          out += buf;
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  return out + "\"";
}

std::string QuoteList(const std::vector<std::string>& v) {
  std::string out = "[";
  for (size_t i = 0; i < v.size(); ++i) out += (i ? ", " : "") + Quote(v[i]);
  return out + "]";
}

}  // namespace

StatusOr<AgentSpec> ParseSpecToml(const std::string& text, const std::string& source) {
  toml::parse_result parsed = toml::parse(text, source);
  if (!parsed) {
    const toml::parse_error& e = parsed.error();
    const auto& b = e.source().begin;
    return absl::InvalidArgumentError(absl::StrCat(source, ":", b.line, ":", b.column,
                                                   ": syntax error: ",
                                                   std::string(e.description())));
  }
  AgentSpec spec;
  Reader reader(source, &spec);
  AIK_RETURN_IF_ERROR(reader.Read(parsed.table()));
  if (Status s = Validate(spec); !s.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(source, ": ", s.message()));
  }
  return spec;
}

std::string SpecToToml(const AgentSpec& s) {
  std::ostringstream o;
  char cpu[32];
  std::snprintf(cpu, sizeof(cpu), "%.6g", s.limits.cpu);
  std::string cpu_s = cpu;
  if (cpu_s.find_first_of(".e") == std::string::npos) cpu_s += ".0";
  o << "name = " << Quote(s.name) << "\n"
    << "command = " << Quote(s.command) << "\n"
    << "args = " << QuoteList(s.args) << "\n"
    << "workdir = " << Quote(s.workdir) << "\n"
    << "groups = " << QuoteList(s.groups) << "\n"
    << "priority = " << s.priority << "\n"
    << "profile = " << Quote(s.profile) << "\n"
    << "uid = " << s.uid << "\n"
    << "gid = " << s.gid << "\n"
    << "stop_grace_ms = " << s.stop_grace_ms << "\n\n[env]\n";
  for (const auto& [k, v] : s.env) o << k << " = " << Quote(v) << "\n";
  o << "\n[restart]\npolicy = " << Quote(RestartPolicyName(s.restart.policy)) << "\n"
    << "backoff_initial_ms = " << s.restart.backoff_initial_ms << "\n"
    << "backoff_max_ms = " << s.restart.backoff_max_ms << "\n"
    << "max_restarts = " << s.restart.max_restarts << "\n"
    << "window_ms = " << s.restart.window_ms << "\n\n[limits]\n"
    << "memory_bytes = " << s.limits.memory_bytes << "\n"
    << "pids = " << s.limits.pids << "\n"
    << "cpu = " << cpu_s << "\n"
    << "open_files = " << s.limits.open_files << "\n"
    << "timeout_ms = " << s.limits.timeout_ms << "\n";
  const Quotas& q = s.quotas;
  o << "\n[quotas]\n"
    << "calls_per_minute = " << q.calls.per_minute << "\n"
    << "calls_per_hour = " << q.calls.per_hour << "\n"
    << "calls_total = " << q.calls.total << "\n"
    << "bytes_per_minute = " << q.bytes_per_minute << "\n"
    << "bytes_per_hour = " << q.bytes_per_hour << "\n"
    << "tool_calls = " << q.tool_calls << "\n";
  for (const auto& [action, aq] : q.actions) {
    o << "\n[quotas.actions." << Quote(action) << "]\n"
      << "per_minute = " << aq.per_minute << "\n"
      << "per_hour = " << aq.per_hour << "\n"
      << "total = " << aq.total << "\n";
  }
  return o.str();
}

StatusOr<std::vector<AgentSpec>> LoadSpecDir(const std::string& dir) {
  std::vector<AgentSpec> out;
  std::error_code ec;
  if (!std::filesystem::is_directory(dir, ec)) return out;
  std::vector<std::string> files;
  for (const auto& e : std::filesystem::directory_iterator(dir, ec)) {
    if (e.path().extension() == ".toml") files.push_back(e.path().string());
  }
  if (ec) {
    return absl::FailedPreconditionError(absl::StrCat(dir, ": ", ec.message()));
  }
  std::sort(files.begin(), files.end());
  std::set<std::string> names;
  for (const auto& f : files) {
    std::ifstream in(f);
    std::stringstream buf;
    buf << in.rdbuf();
    if (!in) return absl::InvalidArgumentError(absl::StrCat(f, ": cannot read"));
    AIK_ASSIGN_OR_RETURN(AgentSpec spec, ParseSpecToml(buf.str(), f));
    if (!names.insert(spec.name).second) {
      return absl::InvalidArgumentError(
          absl::StrCat(f, ": name: '", spec.name, "' is already defined by another file"));
    }
    out.push_back(std::move(spec));
  }
  return out;
}

}  // namespace aikernel::agents
