// Profiles, the Launcher seam, and the pidfd-based handles: signal, kill,
// reap, start times and re-adoption.
#include "sandbox/sandbox.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>

#include "sandbox/internal.h"

namespace aikernel::sandbox {
namespace {

constexpr idtype_t kPidfd = static_cast<idtype_t>(3);  // P_PIDFD

class RealLauncherImpl : public Launcher {
 public:
  StatusOr<Launched> Launch(const LaunchSpec& s) override { return sandbox::Launch(s); }
};

// ESRCH: already gone, which is what a kill wants.
Status PidfdSignal(int pidfd, int sig) {
  if (syscall(SYS_pidfd_send_signal, pidfd, sig, nullptr, 0) < 0 && errno != ESRCH)
    return internal::ErrnoError("pidfd_send_signal", errno);
  return absl::OkStatus();
}

}  // namespace

Profile DefaultProfile() {
  Profile p;
  p.name = "default";
  p.new_user_ns = p.new_pid_ns = p.new_mount_ns = p.new_net_ns = p.new_ipc_ns = p.new_uts_ns = true;
  p.readonly_root = true;
  p.private_tmp = true;
  p.minimal_dev = true;
  p.masked_paths = {"/run"};
  p.landlock = true;
  p.seccomp = true;
  p.drop_caps = true;
  p.no_new_privs = true;
  p.readonly_paths = {"/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/etc", "/opt", "/proc"};
  return p;
}

Profile TrustedProfile() {
  Profile p;
  p.name = "trusted";
  p.new_pid_ns = p.new_ipc_ns = p.new_uts_ns = true;
  p.new_mount_ns = true;  // only to mount the namespace's own /proc
  p.seccomp = true;
  p.drop_caps = true;
  p.no_new_privs = true;
  return p;
}

StatusOr<Profile> ProfileByName(const std::string& name) {
  if (name == "default") return DefaultProfile();
  if (name == "trusted") return TrustedProfile();
  return absl::NotFoundError(absl::StrCat("no sandbox profile named '", name, "'"));
}

Launcher* RealLauncher() {
  static RealLauncherImpl* r = new RealLauncherImpl;
  return r;
}

Status Signal(const Launched& l, int sig) {
  if (!l.pidfd.valid()) return absl::FailedPreconditionError("no pidfd");
  if (l.pid_namespace) return PidfdSignal(l.pidfd.get(), sig);
  // The program is its session and group leader; signal the group while the
  // leader has not been reaped (its pid, hence the group id, is still ours).
  if (syscall(SYS_pidfd_send_signal, l.pidfd.get(), 0, nullptr, 0) == 0) {
    if (kill(-l.pid, sig) < 0 && errno != ESRCH) return internal::ErrnoError("kill", errno);
    return absl::OkStatus();
  }
  return PidfdSignal(l.pidfd.get(), sig);
}

Status KillTree(const Launched& l) {
  Status first = absl::OkStatus();
  if (!l.cgroup_path.empty()) {
    auto cg = Cgroup::Open(l.cgroup_path);
    if (cg.ok()) first = cg->Kill();
  }
  if (!l.pidfd.valid()) return first.ok() ? absl::FailedPreconditionError("no pidfd") : first;
  Status s = Signal(l, SIGKILL);
  return first.ok() ? s : first;
}

StatusOr<std::optional<ExitStatus>> Reap(const Launched& l, bool block) {
  if (!l.pidfd.valid()) return absl::FailedPreconditionError("no pidfd");
  siginfo_t info;
  for (;;) {
    memset(&info, 0, sizeof info);
    if (waitid(kPidfd, l.pidfd.get(), &info, WEXITED | (block ? 0 : WNOHANG)) == 0) break;
    if (errno == EINTR) continue;
    return internal::ErrnoError("waitid", errno);
  }
  if (info.si_pid == 0) return std::optional<ExitStatus>();
  ExitStatus e;
  e.signaled = info.si_code == CLD_KILLED || info.si_code == CLD_DUMPED;
  e.code = info.si_status;
  return std::optional<ExitStatus>(e);
}

StatusOr<uint64_t> ProcStartTime(pid_t pid) {
  std::string stat = internal::ReadSmallFile(absl::StrCat("/proc/", pid, "/stat"));
  if (stat.empty()) return absl::NotFoundError(absl::StrCat("no process ", pid));
  // comm (field 2) may hold spaces and parens: count fields after the last ')'.
  size_t pos = stat.rfind(')');
  if (pos == std::string::npos) return absl::InternalError("unparsable /proc/pid/stat");
  int field = 2;
  size_t i = pos + 1;
  while (i < stat.size()) {
    while (i < stat.size() && stat[i] == ' ') ++i;
    ++field;
    size_t j = stat.find(' ', i);
    if (j == std::string::npos) j = stat.size();
    if (field == 22) return static_cast<uint64_t>(strtoull(stat.substr(i, j - i).c_str(), nullptr, 10));
    i = j;
  }
  return absl::InternalError("short /proc/pid/stat");
}

StatusOr<UniqueFd> Adopt(pid_t pid, uint64_t start_time_ticks) {
  UniqueFd fd(static_cast<int>(syscall(SYS_pidfd_open, pid, 0)));
  if (!fd.valid()) {
    if (errno == ESRCH) return absl::NotFoundError(absl::StrCat("process ", pid, " is gone"));
    return internal::ErrnoError("pidfd_open", errno);
  }
  auto st = ProcStartTime(pid);
  if (!st.ok() || *st != start_time_ticks)
    return absl::NotFoundError(absl::StrCat("process ", pid, " is gone (pid reused)"));
  return fd;
}

namespace internal {

std::string ReadSmallFile(const std::string& path) {
  UniqueFd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return "";
  std::string out;
  char buf[4096];
  for (;;) {
    ssize_t n = read(fd.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  return out;
}

Status WriteFile(const std::string& path, const std::string& data) {
  UniqueFd fd(open(path.c_str(), O_WRONLY | O_CLOEXEC));
  if (!fd.valid()) return internal::ErrnoError("open " + path, errno);
  ssize_t n = write(fd.get(), data.data(), data.size());
  if (n < 0) return internal::ErrnoError("write " + path, errno);
  if (static_cast<size_t>(n) != data.size()) return absl::InternalError("short write to " + path);
  return absl::OkStatus();
}

Status ErrnoError(const std::string& what, int err) {
  return absl::InternalError(absl::StrCat(what, ": ", strerror(err)));
}

int CapLast() {
  static const int last = [] {
    std::string s = ReadSmallFile("/proc/sys/kernel/cap_last_cap");
    int v = s.empty() ? 40 : atoi(s.c_str());
    return v > 0 ? v : 40;
  }();
  return last;
}

uint64_t LandlockFsMask(int abi) {
  uint64_t m = kLlAbi1Fs;
  if (abi >= 2) m |= kLlRefer;
  if (abi >= 3) m |= kLlTruncate;
  if (abi >= 5) m |= kLlIoctlDev;
  return m;
}

}  // namespace internal
}  // namespace aikernel::sandbox
