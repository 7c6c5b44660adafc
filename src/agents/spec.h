// agents::AgentSpec: what an operator asks the kernel to run.
//
// A spec comes from a TOML file (<config-dir>/agents/<name>.toml, see
// docs/agents.md for every key) or from Admin.RunAgent. Validate() is the one
// gate both go through: it refuses a bad spec with INVALID_ARGUMENT whose
// message starts with the field's name ("restart.policy: expected one of no,
// on-failure, always") and fills nothing in. Defaults (workdir, uid, gid) that
// depend on the daemon's configuration are applied by the Supervisor, not
// here. Plain values; pure functions; thread-safe.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

// absl:: spelled out: aictl includes this beside the SDK, whose
// aikernel::Status is a different type (include/aikernel/status.h).
#include "common/status.h"

namespace aikernel::agents {

enum class RestartPolicy { kNo, kOnFailure, kAlways };
const char* RestartPolicyName(RestartPolicy p);  // "no", "on-failure", "always"
bool ParseRestartPolicy(const std::string& s, RestartPolicy* out);

struct RestartSpec {
  RestartPolicy policy = RestartPolicy::kNo;
  // Delay before restart n (0-based) is min(initial * 2^n, max).
  int64_t backoff_initial_ms = 500;
  int64_t backoff_max_ms = 30'000;
  // More than `max_restarts` restarts within `window_ms`: state failed
  // ("crash loop"). 0 restarts allowed means the first failure is final.
  int64_t max_restarts = 5;
  int64_t window_ms = 60'000;
};

struct Limits {
  int64_t memory_bytes = 256ll << 20;  // memory.max / RLIMIT_AS; also admission
  int64_t pids = 64;                   // pids.max / RLIMIT_NPROC
  double cpu = 1.0;                    // cores (cpu.max quota/period); 0: none
  int64_t open_files = 256;            // RLIMIT_NOFILE
  int64_t timeout_ms = 0;              // wall clock per instance; 0: none
};

// Hard quotas, enforced by the kernel before policy is evaluated (step 2 of
// the dispatch path, docs/policy.md "Quotas and budgets"). 0 means no
// quota. Counted per agent instance: a restart starts from zero.
struct CallQuota {
  int64_t per_minute = 0;  // calls in the last 60 s
  int64_t per_hour = 0;    // calls in the last 3600 s
  int64_t total = 0;       // calls over the instance's lifetime (a budget)
  bool operator==(const CallQuota&) const = default;
};

struct Quotas {
  CallQuota calls;                  // every action together
  int64_t bytes_per_minute = 0;     // request bytes, every action together
  int64_t bytes_per_hour = 0;
  int64_t tool_calls = 0;           // budget: tool.call calls over the lifetime
  std::map<std::string, CallQuota> actions;  // per action id, e.g. "memory.write"
  bool empty() const { return *this == Quotas{}; }
  bool operator==(const Quotas&) const = default;
};

struct AgentSpec {
  std::string name;                  // [a-z0-9][a-z0-9._-]{0,62}
  std::string command;               // absolute path of the executable
  std::vector<std::string> args;     // argv[1..]
  std::map<std::string, std::string> env;
  std::string workdir;               // absolute; "" -> <state>/agents/<name>
  std::vector<std::string> groups;   // for policy (Cedar parents)
  int64_t priority = 50;             // 0..100; higher runs first
  std::string profile = "default";   // sandbox profile name
  int64_t uid = -1;                  // -1: [agents] default_uid
  int64_t gid = -1;                  // -1: [agents] default_gid
  int64_t stop_grace_ms = 10'000;    // SIGTERM -> SIGKILL
  RestartSpec restart;
  Limits limits;
  Quotas quotas;
};

// INVALID_ARGUMENT naming the field, or OK.
absl::Status Validate(const AgentSpec& spec);
// The [quotas] part of Validate: ranges and action-id syntax (whether an
// action exists is the Supervisor's check, against the syscall table).
absl::Status ValidateQuotas(const Quotas& quotas);

// Parses a spec from TOML text. `source` names the file in messages
// ("<source>:<line>:<col>: <field>: <why>"). Unknown keys are refused.
// The result is validated.
absl::StatusOr<AgentSpec> ParseSpecToml(const std::string& text, const std::string& source);

// Renders a spec as TOML that ParseSpecToml reads back to the same spec.
std::string SpecToToml(const AgentSpec& spec);

// Every *.toml in `dir`, sorted by file name; a missing dir is no specs.
// The first bad file stops the load with its error.
absl::StatusOr<std::vector<AgentSpec>> LoadSpecDir(const std::string& dir);

}  // namespace aikernel::agents
