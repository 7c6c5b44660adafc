// kernel::AgentControl: what the kernel needs from the agents subsystem to
// execute the agent.* syscalls. The Supervisor (src/agents/supervisor.h)
// implements it; the kernel holds only this interface, so it depends on
// neither Boost.Asio nor process handling.
//
// Every method is thread-safe and may block the calling (gRPC) thread, never
// the supervisor's loop. Errors: NOT_FOUND for an unknown agent name,
// INVALID_ARGUMENT naming the field for a bad spec or argument,
// ALREADY_EXISTS for Run() of a name that exists, FAILED_PRECONDITION for an
// operation the agent's state does not allow (e.g. Remove of a running
// agent without force), UNAVAILABLE while the daemon shuts down or when
// state.db cannot be written.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "agents/spec.h"
#include "agents/types.h"
#include "common/status.h"

namespace aikernel::kernel {

struct AgentLogOptions {
  bool follow = false;   // keep streaming new output until cancelled
  int64_t tail_bytes = -1;  // start this many bytes before the end; -1: whole current file
  bool include_rotated = false;  // start with the rotated files (oldest first)
};

class AgentControl {
 public:
  virtual ~AgentControl() = default;

  // Creates the agent and queues it. With `replace`, an existing agent that
  // is not running is replaced (its spec updated and queued again).
  virtual StatusOr<agents::AgentInfo> Run(const agents::AgentSpec& spec, bool replace) = 0;
  virtual std::vector<agents::AgentInfo> List() = 0;
  virtual StatusOr<agents::AgentInfo> Inspect(const std::string& name) = 0;
  // SIGTERM, then SIGKILL after the grace (spec.stop_grace_ms unless
  // `grace` >= 0); returns once the agent is stopped. A queued agent or one
  // waiting to restart is just taken off the queue. State: stopped.
  virtual StatusOr<agents::AgentInfo> Stop(const std::string& name,
                                           std::chrono::milliseconds grace) = 0;
  // Sends `signal` to the agent (its pid-namespace init forwards it); what
  // happens when it exits follows the restart policy.
  virtual StatusOr<agents::AgentInfo> Kill(const std::string& name, int signal) = 0;
  // Stops the agent if running (as Stop), resets its crash-loop count, and
  // queues it again.
  virtual StatusOr<agents::AgentInfo> Restart(const std::string& name) = 0;
  // Forgets the agent (state.db rows and log files). FAILED_PRECONDITION if
  // it is running or starting, unless `force` (then killed first).
  virtual Status Remove(const std::string& name, bool force) = 0;
  // Streams the agent's captured stdout/stderr to `emit` in chunks (stop
  // when it returns false). With follow, waits for more until `emit` returns
  // false or `cancelled` returns true.
  virtual Status Logs(const std::string& name, const AgentLogOptions& options,
                      const std::function<bool(const std::string&)>& emit,
                      const std::function<bool()>& cancelled) = 0;
  // What confinement this host gives agents.
  virtual agents::ConfinementInfo Confinement() const = 0;
  // Agents by state, as last published by the supervisor. Never blocks
  // (usable before the supervisor's loop runs).
  struct Counts {
    uint32_t total = 0, running = 0, queued = 0;
  };
  virtual Counts CountAgents() const = 0;
};

}  // namespace aikernel::kernel
