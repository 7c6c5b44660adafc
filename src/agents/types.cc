#include "agents/types.h"

namespace aikernel::agents {

const char* AgentStateName(AgentState s) {
  switch (s) {
    case AgentState::kQueued: return "queued";
    case AgentState::kStarting: return "starting";
    case AgentState::kRunning: return "running";
    case AgentState::kExited: return "exited";
    case AgentState::kFailed: return "failed";
    case AgentState::kStopped: return "stopped";
  }
  return "failed";
}

bool ParseAgentState(const std::string& s, AgentState* out) {
  for (AgentState st : {AgentState::kQueued, AgentState::kStarting, AgentState::kRunning,
                        AgentState::kExited, AgentState::kFailed, AgentState::kStopped}) {
    if (s == AgentStateName(st)) {
      *out = st;
      return true;
    }
  }
  return false;
}

}  // namespace aikernel::agents
