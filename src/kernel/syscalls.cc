#include "kernel/syscalls.h"

#include <iterator>

namespace aikernel::kernel {
namespace {

// Order matches enum Syscall.
constexpr SyscallInfo kTable[] = {
    {Syscall::kWhoami, Service::kKernel, "kernel.whoami",
     "/aikernel.v1.Kernel/Whoami", "the caller's principal"},
    {Syscall::kAdminStatus, Service::kAdmin, "admin.status",
     "/aikernel.v1.Admin/Status", "version, uptime, ledger head, counters"},
    {Syscall::kAdminPing, Service::kAdmin, "admin.ping",
     "/aikernel.v1.Admin/Ping", "governed no-op"},
    {Syscall::kAuditQuery, Service::kAdmin, "audit.query",
     "/aikernel.v1.Admin/QueryAudit", "read the audit ledger"},
    {Syscall::kReload, Service::kAdmin, "admin.reload",
     "/aikernel.v1.Admin/Reload", "re-read the configuration"},
    {Syscall::kAgentRun, Service::kAdmin, "agent.run", "/aikernel.v1.Admin/RunAgent",
     "create an agent from a spec and queue it"},
    {Syscall::kAgentList, Service::kAdmin, "agent.list", "/aikernel.v1.Admin/ListAgents",
     "every agent with its state"},
    {Syscall::kAgentInspect, Service::kAdmin, "agent.inspect",
     "/aikernel.v1.Admin/InspectAgent", "one agent in full"},
    {Syscall::kAgentStop, Service::kAdmin, "agent.stop", "/aikernel.v1.Admin/StopAgent",
     "SIGTERM, then SIGKILL after the grace"},
    {Syscall::kAgentKill, Service::kAdmin, "agent.kill", "/aikernel.v1.Admin/KillAgent",
     "send a signal to an agent"},
    {Syscall::kAgentRestart, Service::kAdmin, "agent.restart",
     "/aikernel.v1.Admin/RestartAgent", "stop if running, queue again"},
    {Syscall::kAgentRemove, Service::kAdmin, "agent.remove", "/aikernel.v1.Admin/RemoveAgent",
     "forget an agent (state and logs)"},
    {Syscall::kAgentLogs, Service::kAdmin, "agent.logs", "/aikernel.v1.Admin/AgentLogs",
     "an agent's captured stdout/stderr"},
    {Syscall::kPolicyReload, Service::kPolicy, "policy.reload",
     "/aikernel.v1.Policy/ReloadPolicy", "re-read the policy store"},
    {Syscall::kApprovalList, Service::kPolicy, "approval.list",
     "/aikernel.v1.Policy/ListApprovals", "calls waiting for an operator"},
    {Syscall::kApprovalDecide, Service::kPolicy, "approval.decide",
     "/aikernel.v1.Policy/DecideApproval", "approve or deny a waiting call"},
};

}  // namespace

const SyscallInfo& Describe(Syscall s) { return kTable[static_cast<int>(s)]; }

const SyscallInfo* AllSyscalls(size_t* count) {
  *count = std::size(kTable);
  return kTable;
}

}  // namespace aikernel::kernel
