// kernel::Syscall: the table of every call the kernel serves.
//
// One row per RPC method. The `action` is the stable name used in the audit
// ledger and, once the policy issue lands, as Cedar's Action entity id; it
// never changes meaning within proto package aikernel.v1. Immutable data;
// thread-safe.
#pragma once

#include <string_view>

namespace aikernel::kernel {

enum class Service { kKernel, kAdmin, kPolicy };

enum class Syscall {
  kWhoami,       // Kernel.Whoami
  kAdminStatus,  // Admin.Status
  kAdminPing,    // Admin.Ping
  kAuditQuery,   // Admin.QueryAudit
  kReload,       // Admin.Reload
  kAgentRun,     // Admin.RunAgent
  kAgentList,    // Admin.ListAgents
  kAgentInspect, // Admin.InspectAgent
  kAgentStop,    // Admin.StopAgent
  kAgentKill,    // Admin.KillAgent
  kAgentRestart, // Admin.RestartAgent
  kAgentRemove,  // Admin.RemoveAgent
  kAgentLogs,    // Admin.AgentLogs
  kPolicyReload,    // Policy.ReloadPolicy
  kApprovalList,    // Policy.ListApprovals
  kApprovalDecide,  // Policy.DecideApproval
};

struct SyscallInfo {
  Syscall id;
  Service service;
  std::string_view action;  // e.g. "admin.status"
  std::string_view method;  // e.g. "/aikernel.v1.Admin/Status"
  std::string_view summary;
};

const SyscallInfo& Describe(Syscall s);
// All rows, in enum order; for docs and `aictl` listings.
const SyscallInfo* AllSyscalls(size_t* count);

}  // namespace aikernel::kernel
