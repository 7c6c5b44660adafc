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
};

}  // namespace

const SyscallInfo& Describe(Syscall s) { return kTable[static_cast<int>(s)]; }

const SyscallInfo* AllSyscalls(size_t* count) {
  *count = std::size(kTable);
  return kTable;
}

}  // namespace aikernel::kernel
