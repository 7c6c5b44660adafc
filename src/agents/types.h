// agents::AgentInfo and friends: what the kernel reports about an agent.
//
// Plain values, copied out of the Supervisor for Admin.ListAgents /
// InspectAgent; thread-compatible. Times are nanoseconds since the Unix
// epoch (0: never).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "agents/spec.h"

namespace aikernel::agents {

// The lifecycle (docs/agents.md):
//   queued -> starting -> running -> exited(code) | failed(reason) | stopped
// and back to queued when the restart policy (or `restart`) says so.
enum class AgentState { kQueued, kStarting, kRunning, kExited, kFailed, kStopped };
const char* AgentStateName(AgentState s);  // "queued", "starting", ...
bool ParseAgentState(const std::string& s, AgentState* out);

// One process run of an agent.
struct InstanceInfo {
  std::string id;           // 16 hex characters, unique per spawn
  pid_t pid = 0;            // in the daemon's pid namespace
  int64_t started_at_ns = 0;
  int64_t ended_at_ns = 0;  // 0 while running
  int exit_code = -1;       // -1 unless it exited normally
  int signal = 0;           // the signal that ended it, or 0
  std::string reason;       // why it ended, if not by itself
};

struct AgentInfo {
  AgentSpec spec;           // with daemon defaults applied
  AgentState state = AgentState::kQueued;
  std::string reason;       // failed: why; stopped/exited: how
  int exit_code = -1;       // exited: code (-1: killed by `signal`)
  int signal = 0;
  int64_t created_at_ns = 0;
  int64_t state_since_ns = 0;
  uint32_t queue_position = 0;  // queued: 1 = next to start; else 0
  int64_t restart_at_ns = 0;    // waiting out a restart backoff; else 0
  uint32_t restarts = 0;        // restarts done by the policy since run/restart
  std::string spiffe_id;        // spiffe://<node>/agent/<name>
  std::string confinement;      // what was in force for the current instance
  std::string log_path;
  InstanceInfo instance;        // the current or most recent instance
};

// What confinement this host can give (for Admin.Status and inspect).
struct ConfinementInfo {
  std::string summary;                  // one line, e.g. "cgroup v2 (memory pids cpu)"
  std::vector<std::string> mechanisms;  // "namespaces", "landlock", "seccomp", "cgroup", "rlimits"
  std::vector<std::string> profiles;    // "<name>: <what it confines>" per configured profile
};

}  // namespace aikernel::agents
