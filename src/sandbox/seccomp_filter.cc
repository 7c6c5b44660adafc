// The seccomp deny list, compiled once by libseccomp into a BPF program that
// the child loads with seccomp(SECCOMP_SET_MODE_FILTER) before execve.
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <seccomp.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstring>
#include <mutex>

#include "common/unique_fd.h"
#include "sandbox/internal.h"

namespace aikernel::sandbox::internal {
namespace {

// Denied with EPERM. Kernel-wide state, other processes' memory, the mount
// table, namespaces, keyrings, BPF and perf, module loading, handle-based
// opens (which bypass path checks), io_uring (whose operations bypass
// seccomp).
const std::vector<const char*> kDenied = {
    "ptrace", "process_vm_readv", "process_vm_writev", "mount", "umount2", "pivot_root",
    "chroot", "fsopen", "fsconfig", "fsmount", "fspick", "move_mount", "open_tree",
    "mount_setattr", "unshare", "setns", "bpf", "perf_event_open", "kexec_load",
    "kexec_file_load", "keyctl", "add_key", "request_key", "init_module", "finit_module",
    "delete_module", "open_by_handle_at", "name_to_handle_at", "userfaultfd", "swapon",
    "swapoff", "reboot", "acct", "quotactl", "syslog", "settimeofday", "clock_settime",
    "clock_adjtime", "adjtimex", "iopl", "ioperm", "vhangup", "uselib", "io_uring_setup",
    "io_uring_enter", "io_uring_register", "lookup_dcookie", "nfsservctl",
};

constexpr uint64_t kNsFlags[] = {CLONE_NEWUSER, CLONE_NEWNS,  CLONE_NEWPID,   CLONE_NEWNET,
                                 CLONE_NEWIPC,  CLONE_NEWUTS, CLONE_NEWCGROUP, 0x00000080 /*NEWTIME*/};

std::once_flag g_once;
std::vector<sock_filter>* g_prog = nullptr;
Status* g_error = nullptr;

Status Build(std::vector<sock_filter>* out) {
  scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
  if (ctx == nullptr) return absl::InternalError("seccomp_init failed");
  struct Release {
    scmp_filter_ctx c;
    ~Release() { seccomp_release(c); }
  } release{ctx};
  // The child sets no_new_privs itself (or keeps CAP_SYS_ADMIN in its user ns).
  seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 0);
  for (const char* name : kDenied) {
    int nr = seccomp_syscall_resolve_name(name);
    if (nr == __NR_SCMP_ERROR) continue;  // not on this architecture
    int rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), nr, 0);
    if (rc < 0) return internal::ErrnoError(absl::StrCat("seccomp_rule_add ", name), -rc);
  }
  // clone() creating a namespace is unshare() by another name.
  for (uint64_t f : kNsFlags) {
    int rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(clone), 1,
                              SCMP_A0(SCMP_CMP_MASKED_EQ, f, f));
    if (rc < 0) return ErrnoError("seccomp_rule_add clone", -rc);
  }
  // clone3 passes its flags in memory, which seccomp cannot read: ENOSYS makes
  // glibc fall back to clone(), which the rules above do see.
  int rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0);
  if (rc < 0) return ErrnoError("seccomp_rule_add clone3", -rc);

  UniqueFd mem(memfd_create("aik-seccomp", MFD_CLOEXEC));
  if (!mem.valid()) return ErrnoError("memfd_create", errno);
  rc = seccomp_export_bpf(ctx, mem.get());
  if (rc < 0) return ErrnoError("seccomp_export_bpf", -rc);
  off_t size = lseek(mem.get(), 0, SEEK_END);
  if (size <= 0 || size % sizeof(sock_filter) != 0) return absl::InternalError("seccomp_export_bpf: bad size");
  out->resize(size / sizeof(sock_filter));
  if (pread(mem.get(), out->data(), size, 0) != size) return absl::InternalError("seccomp: short read");
  return absl::OkStatus();
}

}  // namespace

const std::vector<const char*>& SeccompDenied() { return kDenied; }

StatusOr<const std::vector<sock_filter>*> SeccompProgram() {
  std::call_once(g_once, [] {
    auto* prog = new std::vector<sock_filter>;
    Status s = Build(prog);
    if (s.ok()) {
      g_prog = prog;
    } else {
      delete prog;
      g_error = new Status(std::move(s));
    }
  });
  if (g_error != nullptr) return *g_error;
  return g_prog;
}

}  // namespace aikernel::sandbox::internal
