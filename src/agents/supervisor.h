// agents::Supervisor: runs agents as confined processes on the daemon's
// Boost.Asio loop and keeps their state in state.db.
//
// Contract
// - A Supervisor is safe for concurrent use from many threads without
//   external synchronization. Its state belongs to the io_context's thread
//   (the daemon's main thread); the AgentControl methods, called from gRPC
//   threads, post their work to the loop and wait for the answer on a
//   future. Nothing the loop runs blocks except small appends to log files:
//   sandbox::Launch (which waits until the child has exec'd) runs on the
//   Supervisor's own launch thread, and its result is posted back.
// - Processes: the launch thread lives as long as the Supervisor, so
//   PR_SET_PDEATHSIG ties each agent to the daemon: if the daemon dies, its
//   agents die (with the default profile the agent runs under a pid-namespace
//   init, so everything it started dies too). The pidfd is watched for
//   readability with a stream_descriptor and reaped with waitid(P_PIDFD): no
//   SIGCHLD handler, no zombies, no pid reuse mistakes. stdout/stderr are
//   pipes read on the loop into <logs_dir>/agents/<name>.log (rotated by
//   size). Run() and Restart() answer once a spawn they caused has resolved
//   (running, or failed with the launcher's message).
// - The agent's line to the kernel: a socketpair per instance; the child end
//   becomes fd 3 (AIKERNEL_FD=3); the daemon end is passed to `on_connection`
//   (the daemon registers it as that instance's agent principal and hands it
//   to gRPC). When the instance ends, `on_instance_end` revokes it.
// - Scheduling: at most `max_running` agents run (starting or running) at
//   once and the sum of their limits.memory_bytes stays within
//   `memory_budget_bytes`; the rest wait in a RunQueue ordered by priority
//   with aging (schedule.h). The head of the queue is never skipped.
// - Restart policy per spec: no / on-failure (exit code != 0 or killed) /
//   always; delay BackoffMs(initial, max, n); more than max_restarts within
//   window_ms ends in state failed ("crash loop: ..."). Spawn errors are
//   failed with the launcher's message and are not retried.
// - Daemon restart (Start()): instances state.db says were starting or
//   running are dead or are killed now (verified by pid start time before
//   any signal), recorded as ended "daemon restarted", and their agents are
//   queued again if the policy restarts them, else failed("daemon
//   restarted"). Queued agents and agents waiting out a backoff are queued.
// - Errors (AgentControl): see kernel/agent_control.h. After Shutdown()
//   every method returns UNAVAILABLE.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "agents/log_file.h"
#include "agents/profile.h"
#include "agents/schedule.h"
#include "agents/state_store.h"
#include "agents/types.h"
#include "common/unique_fd.h"
#include "kernel/agent_control.h"
#include "kernel/connection_table.h"
#include "sandbox/sandbox.h"

namespace aikernel::agents {

struct SupervisorOptions {
  std::string node;        // the trust domain, for SPIFFE ids: spiffe://<node>/agent/<name>
  std::string state_dir;   // state.db and default workdirs (<state>/agents/<name>)
  std::string logs_dir;    // logs go to <logs_dir>/agents/<name>.log
  std::string specs_dir;   // *.toml loaded at Start(); "" for none
  int64_t max_running = 8;
  int64_t memory_budget_bytes = 4ll << 30;
  int64_t aging_interval_ms = 10'000;
  uid_t default_uid = 65534;
  gid_t default_gid = 65534;
  int64_t log_max_bytes = 10 << 20;
  int log_keep = 3;
  bool full_sync = true;  // state.db synchronous=FULL
  // Not owned; must outlive the Supervisor. Tests wrap it to inject faults.
  sandbox::Launcher* launcher = nullptr;
  // The sandbox profiles specs may name (config [profiles.<name>]).
  ProfileMap profiles = BuiltinProfiles();
  // Gets the daemon end of each instance's socketpair.
  std::function<void(UniqueFd, const kernel::AgentIdentity&)> on_connection;
  // An instance ended (exit, crash, stop, kill, daemon shutdown): the daemon
  // revokes its identity and its connections. Runs on the loop.
  std::function<void(const std::string& instance_id, const std::string& spiffe_id)>
      on_instance_end;
  // An agent was removed (rm): every credential of its SPIFFE ID issued so
  // far is revoked. Runs on the loop.
  std::function<void(const std::string& spiffe_id)> on_agent_removed;
};

class Supervisor final : public kernel::AgentControl {
 public:
  // Opens state.db; does not touch processes yet.
  static StatusOr<std::unique_ptr<Supervisor>> Create(boost::asio::io_context& io,
                                                      SupervisorOptions options);
  ~Supervisor() override;

  // On the loop's thread, before io.run(): recovers state.db (see the
  // contract), loads specs_dir, and starts what the queue allows. A bad spec
  // file is an INVALID_ARGUMENT naming the file and field.
  Status Start();
  // On the loop's thread: refuses further calls, kills every running agent
  // (whole tree), reaps it, and closes state.db. Their state stays
  // "running" in state.db on purpose, so the next Start() treats them as
  // ended by the daemon's restart. Idempotent.
  void Shutdown();
  // From any thread: makes waiting and future calls return UNAVAILABLE.
  void BeginShutdown() { closing_.store(true); }

  // kernel::AgentControl
  StatusOr<AgentInfo> Run(const AgentSpec& spec, bool replace) override;
  std::vector<AgentInfo> List() override;
  StatusOr<AgentInfo> Inspect(const std::string& name) override;
  StatusOr<AgentInfo> Stop(const std::string& name, std::chrono::milliseconds grace) override;
  StatusOr<AgentInfo> Kill(const std::string& name, int signal) override;
  StatusOr<AgentInfo> Restart(const std::string& name) override;
  Status Remove(const std::string& name, bool force) override;
  Status Logs(const std::string& name, const kernel::AgentLogOptions& options,
              const std::function<bool(const std::string&)>& emit,
              const std::function<bool()>& cancelled) override;
  ConfinementInfo Confinement() const override;
  Counts CountAgents() const override;

  class Impl;

 private:
  explicit Supervisor(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
  std::atomic<bool> closing_{false};
};

}  // namespace aikernel::agents
