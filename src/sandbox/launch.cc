// Launch(): the parent prepares a ChildPlan (every string, path, id map, BPF
// program and limit), clones, writes the id maps, releases the child and
// reads its error pipe until EOF (exec happened) or an error record.
// ChildMain() runs between clone3 and execve: only async-signal-safe system
// calls there, no allocation, no locks, no logging.
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/mount.h>
#include <linux/sched.h>
#include <linux/seccomp.h>
#include <net/if.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <filesystem>

#include <absl/strings/str_join.h>

#include "sandbox/child_common.h"
#include "sandbox/internal.h"
#include "sandbox/sandbox.h"

namespace aikernel::sandbox {
namespace {

using namespace internal;

constexpr const char* kStage = "/tmp";           // tmpfs mounted here while building the root
constexpr const char* kNewRoot = "/tmp/.aik-root";  // the new root, then pivot_root'ed into
constexpr int kMaxBinds = 32;
// Device nodes bound into the minimal /dev.
constexpr const char* kDevNodes[] = {"null", "zero", "full", "random", "urandom", "tty"};
constexpr int kNumDevNodes = sizeof kDevNodes / sizeof kDevNodes[0];
constexpr const char* kDevLinks[][2] = {
    {"/proc/self/fd", "fd"}, {"/proc/self/fd/0", "stdin"}, {"/proc/self/fd/1", "stdout"},
    {"/proc/self/fd/2", "stderr"}};
constexpr int kKernelFd = 3;
constexpr int kLaunchTimeoutMs = 10000;

using ErrRecord = ChildReport;
#if defined(__x86_64__)
constexpr bool kClone3OnStack = true;
#else
constexpr bool kClone3OnStack = false;
#endif
// Stack of the set-up child when it shares the daemon's memory (CLONE_VM).
constexpr size_t kChildStackBytes = 256 * 1024;

struct BindPlan {
  std::string source;   // path in the caller's view
  std::string target;   // kNewRoot + source
  std::vector<std::string> mkdirs;  // each prefix of target below kNewRoot
};

struct RulePlan {
  std::string path;
  uint64_t access;
  bool required;  // error when the path cannot be opened (else skipped)
};

struct ChildPlan {
  int sync_rd = -1, sync_wr = -1, err_rd = -1, err_wr = -1;
  int fd_in = -1, fd_out = -1, fd_err = -1, fd_kernel = -1;
  bool die_with_parent = true;
  bool loopback = true;
  bool net_ns = false, uts_ns = false, user_ns = false, pid_ns = false, mount_ns = false;
  const char* hostname = nullptr;
  size_t hostname_len = 0;
  bool readonly_root = false, private_tmp = false, mount_proc = false, minimal_dev = false;
  std::vector<BindPlan> binds;
  std::vector<std::string> masks;  // kNewRoot + masked path
  std::string dev_src[kNumDevNodes];   // "/dev/null", ...
  std::string dev_dst[kNumDevNodes];   // kNewRoot "/dev/null", ...
  std::string dev_link[sizeof kDevLinks / sizeof kDevLinks[0]];  // kNewRoot "/dev/fd", ...
  rlim_t nofile = 0;  // RLIMIT_NOFILE, set last (after the fd shuffle)
  const char* workdir = nullptr;
  struct Rlim {
    int resource;
    rlim_t value;
    const char* name;
  };
  Rlim rlims[4];
  int n_rlims = 0;
  uid_t uid = 0;
  gid_t gid = 0;
  bool drop_caps = false;
  int cap_last = 40;
  bool no_new_privs = false;
  bool landlock = false;
  LandlockRulesetAttr ll_attr;
  size_t ll_attr_size = 0;
  std::vector<RulePlan> ll_rules;
  sock_fprog seccomp{};
  bool seccomp_on = false;
  const char* exe = nullptr;
  std::vector<char*> argv, envp;
  // >= 0: exec aik-agent-init (O_PATH fd) as the pid namespace's init, with
  // init_argv; the set-up child then shares the daemon's memory (CLONE_VM).
  int init_fd = -1;
  std::vector<char*> init_argv;
};

// ---- child side: async-signal-safe only ----

[[noreturn]] void Fail(const ChildPlan& p, const char* step, const char* detail, int err) {
  ReportAndExit(p.err_wr, step, detail, err);
}

#define CHECK_STEP(expr, step, detail) \
  do {                                 \
    if ((expr) < 0) Fail(p, step, detail, errno); \
  } while (0)

long OpenTree(int dfd, const char* path, unsigned flags) {
  return syscall(SYS_open_tree, dfd, path, flags);
}
long MoveMount(int from_dfd, const char* from, int to_dfd, const char* to, unsigned flags) {
  return syscall(SYS_move_mount, from_dfd, from, to_dfd, to, flags);
}

void SetupMounts(const ChildPlan& p) {
  if (p.user_ns) {
    // Our own uid (global root) is not mapped in the new user namespace, so
    // inodes we create on the tmpfs mounts (owned by that namespace) must
    // belong to the mapped ids.
    syscall(SYS_setfsgid, p.gid);
    syscall(SYS_setfsuid, p.uid);
  }
  CHECK_STEP(mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr), "make / private", "");
  if (!p.readonly_root) {
    if (p.private_tmp)
      CHECK_STEP(mount("tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777"),
                 "mount private /tmp", "");
    if (p.mount_proc)
      CHECK_STEP(mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, nullptr),
                 "mount /proc", "");
    return;
  }
  // Detached copies of the whole tree and of every writable directory, taken
  // before the staging tmpfs hides /tmp (the workdir may live there).
  long root = OpenTree(AT_FDCWD, "/", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE);
  CHECK_STEP(root, "clone root tree", "/");
  int bind_fds[kMaxBinds];
  for (size_t i = 0; i < p.binds.size(); ++i) {
    long fd = OpenTree(AT_FDCWD, p.binds[i].source.c_str(),
                       OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE);
    CHECK_STEP(fd, "open writable dir", p.binds[i].source.c_str());
    bind_fds[i] = static_cast<int>(fd);
  }
  int dev_fds[kNumDevNodes];
  for (int i = 0; i < kNumDevNodes; ++i) {
    dev_fds[i] = -1;
    if (!p.minimal_dev) continue;
    long fd = OpenTree(AT_FDCWD, p.dev_src[i].c_str(), OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
    if (fd < 0 && errno != ENOENT && errno != ENXIO) Fail(p, "clone device", p.dev_src[i].c_str(), errno);
    dev_fds[i] = static_cast<int>(fd);
  }
  CHECK_STEP(mount("tmpfs", kStage, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0700"), "mount staging tmpfs",
             kStage);
  CHECK_STEP(mkdir(kNewRoot, 0755), "mkdir new root", kNewRoot);
  CHECK_STEP(MoveMount(static_cast<int>(root), "", AT_FDCWD, kNewRoot, MOVE_MOUNT_F_EMPTY_PATH),
             "attach root tree", kNewRoot);
  close(static_cast<int>(root));
  mount_attr attr{};
  attr.attr_set = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID;
  CHECK_STEP(syscall(SYS_mount_setattr, AT_FDCWD, kNewRoot, AT_RECURSIVE, &attr, sizeof attr),
             "make root read-only", kNewRoot);
  if (p.private_tmp)
    CHECK_STEP(mount("tmpfs", "/tmp/.aik-root/tmp", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777"),
               "mount private /tmp", "/tmp");
  for (size_t i = 0; i < p.binds.size(); ++i) {
    const BindPlan& b = p.binds[i];
    for (const std::string& d : b.mkdirs) mkdir(d.c_str(), 0755);  // only takes under the private /tmp
    CHECK_STEP(MoveMount(bind_fds[i], "", AT_FDCWD, b.target.c_str(), MOVE_MOUNT_F_EMPTY_PATH),
               "bind writable dir", b.source.c_str());
    close(bind_fds[i]);
  }
  if (p.mount_proc)
    CHECK_STEP(mount("proc", "/tmp/.aik-root/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, nullptr),
               "mount /proc", "");
  if (p.minimal_dev) {
    CHECK_STEP(mount("tmpfs", "/tmp/.aik-root/dev", "tmpfs", MS_NOSUID | MS_NOEXEC, "mode=0755"),
               "mount /dev tmpfs", "/dev");
    for (int i = 0; i < kNumDevNodes; ++i) {
      if (dev_fds[i] < 0) continue;
      int f = open(p.dev_dst[i].c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0666);
      CHECK_STEP(f, "create device mount point", p.dev_src[i].c_str());
      close(f);
      CHECK_STEP(MoveMount(dev_fds[i], "", AT_FDCWD, p.dev_dst[i].c_str(), MOVE_MOUNT_F_EMPTY_PATH),
                 "bind device", p.dev_src[i].c_str());
      close(dev_fds[i]);
    }
    for (size_t i = 0; i < sizeof kDevLinks / sizeof kDevLinks[0]; ++i)
      CHECK_STEP(symlink(kDevLinks[i][0], p.dev_link[i].c_str()), "symlink in /dev", kDevLinks[i][1]);
    CHECK_STEP(mkdir("/tmp/.aik-root/dev/shm", 0755), "mkdir /dev/shm", "");
    mount_attr ro{};
    ro.attr_set = MOUNT_ATTR_RDONLY;
    CHECK_STEP(syscall(SYS_mount_setattr, AT_FDCWD, "/tmp/.aik-root/dev", 0, &ro, sizeof ro),
               "make /dev read-only", "");
    CHECK_STEP(mount("tmpfs", "/tmp/.aik-root/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777"),
               "mount /dev/shm", "");
  }
  for (const std::string& m : p.masks) {
    if (mount("tmpfs", m.c_str(), "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=0755") < 0 &&
        errno != ENOENT && errno != ENOTDIR)
      Fail(p, "mask", m.c_str() + strlen(kNewRoot), errno);
  }
  CHECK_STEP(chdir(kNewRoot), "chdir new root", kNewRoot);
  CHECK_STEP(syscall(SYS_pivot_root, ".", "."), "pivot_root", kNewRoot);
  CHECK_STEP(umount2(".", MNT_DETACH), "detach old root", "");
  CHECK_STEP(chdir("/"), "chdir /", "");
}

void LoopbackUp(const ChildPlan& p) {
  int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  CHECK_STEP(s, "loopback socket", "lo");
  ifreq ifr{};
  memcpy(ifr.ifr_name, "lo", 3);
  CHECK_STEP(ioctl(s, SIOCGIFFLAGS, &ifr), "loopback get flags", "lo");
  ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
  CHECK_STEP(ioctl(s, SIOCSIFFLAGS, &ifr), "loopback up", "lo");
  close(s);
}

void ApplyLandlock(const ChildPlan& p) {
  long rs = syscall(SYS_landlock_create_ruleset, &p.ll_attr, p.ll_attr_size, 0);
  CHECK_STEP(rs, "landlock_create_ruleset", "");
  for (const RulePlan& r : p.ll_rules) {
    int fd = open(r.path.c_str(), O_PATH | O_CLOEXEC);
    if (fd < 0) {
      if (!r.required && (errno == ENOENT || errno == ENOTDIR || errno == EACCES)) continue;
      Fail(p, "landlock open", r.path.c_str(), errno);
    }
    LandlockPathBeneathAttr pb{r.access, fd};
    CHECK_STEP(syscall(SYS_landlock_add_rule, rs, kLandlockRulePathBeneath, &pb, 0), "landlock_add_rule",
               r.path.c_str());
    close(fd);
  }
  CHECK_STEP(syscall(SYS_landlock_restrict_self, rs, 0), "landlock_restrict_self", "");
  close(static_cast<int>(rs));
}

// fds 0..3 for the agent: lift the sources clear of the targets first.
// Returns how many there are.
int MoveAgentFds(const ChildPlan& p) {
  int src[4] = {p.fd_in, p.fd_out, p.fd_err, p.fd_kernel};
  int nfds = p.fd_kernel >= 0 ? 4 : 3;
  for (int i = 0; i < nfds; ++i) {
    src[i] = fcntl(src[i], F_DUPFD_CLOEXEC, 10);
    CHECK_STEP(src[i], "dup fd", "");
  }
  for (int i = 0; i < nfds; ++i) CHECK_STEP(dup2(src[i], i), "dup2 fd", "");
  return nfds;
}

void ChdirAndNofile(const ChildPlan& p) {
  CHECK_STEP(chdir(p.workdir), "chdir workdir", p.workdir);
  if (p.nofile > 0) {
    rlimit rl{p.nofile, p.nofile};
    CHECK_STEP(setrlimit(RLIMIT_NOFILE, &rl), "setrlimit", "RLIMIT_NOFILE");
  }
}

// Becomes aik-agent-init (pid 1), which forks and execs the agent: the fds,
// working directory and limits are the agent's already; the error pipe stays
// open at fd `nfds` (the init reports the agent's execve failure there).
[[noreturn]] void ExecInit(const ChildPlan& p) {
  // Both may sit on the low fds the shuffle overwrites: lift them first.
  const int init_fd = fcntl(p.init_fd, F_DUPFD_CLOEXEC, 10);
  CHECK_STEP(init_fd, "dup fd", "aik-agent-init");
  const int err_src = fcntl(p.err_wr, F_DUPFD_CLOEXEC, 10);
  CHECK_STEP(err_src, "dup fd", "error pipe");
  int nfds = MoveAgentFds(p);
  // At fd nfds, kept open across the exec (dup2 clears close-on-exec).
  const int err_wr = nfds;
  if (dup2(err_src, err_wr) < 0) ReportAndExit(err_src, "dup2 error pipe", "", errno);
  CHECK_STEP(syscall(SYS_close_range, nfds + 1, ~0U, CLOSE_RANGE_CLOEXEC), "close_range", "");
  ChdirAndNofile(p);
  syscall(SYS_execveat, init_fd, "", p.init_argv.data(), p.envp.data(), AT_EMPTY_PATH);
  ReportAndExit(err_wr, "execve", "aik-agent-init", errno);
}

[[noreturn]] void ChildMain(const ChildPlan& p) {
  close(p.sync_wr);
  close(p.err_rd);
  // The umask is process-wide and inherited: whatever a daemon thread had set
  // at the instant of the clone must not decide the modes of the sandbox's
  // mount points (a 0177 umask made them unsearchable for the agent's uid).
  umask(022);
  // Armed now for the setup, and again after the last credential change
  // (which clears it).
  if (p.die_with_parent) prctl(PR_SET_PDEATHSIG, SIGKILL);
  // Wait for the parent: id maps written, cgroup and pidfd settled.
  char go = 0;
  ssize_t n;
  do n = read(p.sync_rd, &go, 1);
  while (n < 0 && errno == EINTR);
  if (n != 1) _exit(127);  // the parent gave up; it reports its own error

  // Signals: nothing ignored or blocked from the caller survives.
  struct sigaction dfl {};
  dfl.sa_handler = SIG_DFL;
  for (int sig = 1; sig < NSIG; ++sig) sigaction(sig, &dfl, nullptr);  // EINVAL for KILL/STOP: fine
  sigset_t all;
  sigfillset(&all);
  sigprocmask(SIG_SETMASK, &all, nullptr);  // unblocked again right before exec

  CHECK_STEP(setsid(), "setsid", "");
  if (p.net_ns && p.loopback) LoopbackUp(p);
  if (p.uts_ns) CHECK_STEP(sethostname(p.hostname, p.hostname_len), "sethostname", p.hostname);
  if (p.mount_ns) SetupMounts(p);
  for (int i = 0; i < p.n_rlims; ++i) {
    rlimit rl{p.rlims[i].value, p.rlims[i].value};
    CHECK_STEP(setrlimit(p.rlims[i].resource, &rl), "setrlimit", p.rlims[i].name);
  }
  if (p.drop_caps) {
    for (int c = 0; c <= p.cap_last; ++c)
      CHECK_STEP(prctl(PR_CAPBSET_DROP, c, 0, 0, 0), "drop bounding capabilities", "");
    CHECK_STEP(prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0), "clear ambient capabilities", "");
  }
  // Raw system calls: glibc's wrappers broadcast the change to every thread
  // glibc believes exists (the caller's, which this copy does not have),
  // under a lock another thread of the caller may have held at clone time.
  CHECK_STEP(syscall(SYS_setgroups, 0, nullptr), "setgroups", "");
  CHECK_STEP(syscall(SYS_setresgid, p.gid, p.gid, p.gid), "setresgid", "");
  CHECK_STEP(syscall(SYS_setresuid, p.uid, p.uid, p.uid), "setresuid", "");
  if (p.no_new_privs) CHECK_STEP(prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "no_new_privs", "");
  if (p.landlock) ApplyLandlock(p);
  if (p.drop_caps) {
    __user_cap_header_struct hdr{_LINUX_CAPABILITY_VERSION_3, 0};
    __user_cap_data_struct data[2] = {};
    CHECK_STEP(syscall(SYS_capset, &hdr, data), "capset", "");
  }
  if (p.seccomp_on)
    CHECK_STEP(syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &p.seccomp), "seccomp", "");

  if (p.die_with_parent) {
    // setfsuid/setresuid cleared it. The parent keeps the go-pipe open until
    // exec or failure: a hang-up now means it died before we re-armed.
    CHECK_STEP(prctl(PR_SET_PDEATHSIG, SIGKILL), "PR_SET_PDEATHSIG", "");
    pollfd pfd{p.sync_rd, POLLIN, 0};
    if (poll(&pfd, 1, 0) > 0 && (pfd.revents & (POLLHUP | POLLERR))) _exit(127);
  }
  close(p.sync_rd);

  if (p.pid_ns && p.init_fd >= 0) ExecInit(p);
  if (p.pid_ns) {
    // pid 1 stays behind as the namespace's init; the agent is its child.
    long agent = syscall(SYS_clone, SIGCHLD, 0, nullptr, nullptr, 0);
    CHECK_STEP(agent, "fork agent", "");
    if (agent > 0) RunInitLoop(static_cast<pid_t>(agent));
    if (p.die_with_parent) prctl(PR_SET_PDEATHSIG, SIGKILL);
  }

  int nfds = MoveAgentFds(p);
  // Everything else closes at exec, the error pipe included (its EOF tells
  // the parent the exec happened).
  CHECK_STEP(syscall(SYS_close_range, nfds, ~0U, CLOSE_RANGE_CLOEXEC), "close_range", "");
  ChdirAndNofile(p);
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);
  execve(p.exe, p.argv.data(), p.envp.data());
  Fail(p, "execve", p.exe, errno);
}

int ChildEntry(void* plan) { ChildMain(*static_cast<const ChildPlan*>(plan)); }

// ---- parent side ----

// aik-agent-init: the build tree's, else the installed one; "" if neither.
const std::string& AgentInitPath() {
  static const std::string path = [] {
    for (const char* c : {AIK_AGENT_INIT_PATH, AIK_AGENT_INIT_INSTALLED})
      if (access(c, X_OK) == 0) return std::string(c);
    return std::string();
  }();
  return path;
}

#if defined(__x86_64__)
// clone3 onto the stack in `args`: the child calls fn(arg) there and never
// returns into this frame (glibc's syscall() would return on the new stack,
// and glibc's clone() cannot pass CLONE_INTO_CGROUP). -errno on failure.
long Clone3OnStack(clone_args* args, int (*fn)(void*), void* arg) {
  register long r12 asm("r12") = reinterpret_cast<long>(fn);
  register long r13 asm("r13") = reinterpret_cast<long>(arg);
  long ret;
  asm volatile(
      "syscall\n\t"
      "testq %%rax, %%rax\n\t"
      "jnz 1f\n\t"
      "xorl %%ebp, %%ebp\n\t"
      "movq %%r13, %%rdi\n\t"
      "callq *%%r12\n\t"
      "movl %%eax, %%edi\n\t"
      "movl $60, %%eax\n\t"  // SYS_exit; fn does not return
      "syscall\n\t"
      "hlt\n\t"
      "1:\n\t"
      : "=a"(ret)
      : "0"(static_cast<long>(SYS_clone3)), "D"(args), "S"(sizeof(clone_args)), "r"(r12), "r"(r13)
      : "rcx", "r11", "memory");
  return ret;
}
#endif

// The set-up child's stack while it shares the daemon's memory.
struct ChildStack {
  void* base = MAP_FAILED;
  ~ChildStack() {
    if (base != MAP_FAILED) munmap(base, kChildStackBytes);
  }
};

std::string ResolveExe(const std::string& name, const std::vector<std::string>& env) {
  if (name.find('/') != std::string::npos) return name;
  std::string path = "/usr/local/bin:/usr/bin:/bin";
  for (const auto& e : env)
    if (e.rfind("PATH=", 0) == 0) path = e.substr(5);
  size_t start = 0;
  while (start <= path.size()) {
    size_t end = path.find(':', start);
    if (end == std::string::npos) end = path.size();
    std::string dir = path.substr(start, end - start);
    if (!dir.empty()) {
      std::string cand = dir + "/" + name;
      if (access(cand.c_str(), X_OK) == 0) return cand;
    }
    start = end + 1;
  }
  return name;  // execve reports ENOENT, naming it
}

BindPlan MakeBind(const std::string& source) {
  BindPlan b;
  b.source = source;
  b.target = std::string(kNewRoot) + source;
  for (size_t i = 1; i <= source.size(); ++i)
    if (i == source.size() || source[i] == '/') b.mkdirs.push_back(std::string(kNewRoot) + source.substr(0, i));
  return b;
}

uint64_t RuleMask(const std::string& path, uint64_t mask) {
  struct stat st;
  if (stat(path.c_str(), &st) == 0 && !S_ISDIR(st.st_mode)) mask &= kLlFileRights;
  return mask;
}

// "/a/./b/../c/" -> "/a/c": mount targets and the mkdir chain need plain paths.
std::string NormalizeDir(const std::string& path) {
  std::string p = std::filesystem::path(path).lexically_normal().string();
  while (p.size() > 1 && p.back() == '/') p.pop_back();
  return p;
}

Status WriteProcFile(pid_t pid, const char* name, const std::string& data) {
  std::string path = absl::StrCat("/proc/", pid, "/", name);
  Status s = WriteFile(path, data);
  if (!s.ok()) return absl::InternalError(absl::StrCat(name, ": ", s.message()));
  return s;
}

void KillAndReap(int pidfd) {
  syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, nullptr, 0);
  siginfo_t info;
  while (waitid(static_cast<idtype_t>(3) /*P_PIDFD*/, pidfd, &info, WEXITED) < 0 && errno == EINTR) {
  }
}

}  // namespace

StatusOr<Launched> Launch(const LaunchSpec& spec) {
  const Profile& prof = spec.profile;
  if (spec.argv.empty() || spec.argv[0].empty()) return absl::InvalidArgumentError("argv is empty");
  if (spec.workdir.empty() || spec.workdir[0] != '/')
    return absl::InvalidArgumentError("workdir must be an absolute path");
  if ((spec.uid == 0 || spec.gid == 0) && !prof.allow_root)
    return absl::InvalidArgumentError(absl::StrCat("profile ", prof.name, " refuses uid/gid 0"));
  if ((prof.readonly_root || prof.private_tmp) && !prof.new_mount_ns)
    return absl::InvalidArgumentError("readonly_root and private_tmp need new_mount_ns");
  const HostCapabilities& host = Detect();
  // With a pid namespace, the init is aik-agent-init exec'd by the set-up
  // child, which can then share the daemon's memory (CLONE_VM) instead of
  // copying it: copying a daemon of some 30 MiB and its threads' mappings,
  // twice (clone, then the init's fork of the agent), was most of a launch.
  // Without the binary the init is a fork of the set-up child, as before.
  UniqueFd init_fd;
  if (prof.new_pid_ns && !AgentInitPath().empty())
    init_fd.reset(open(AgentInitPath().c_str(), O_PATH | O_CLOEXEC));
  Launched out;
  std::vector<std::string>& in_force = out.in_force;
  std::vector<std::string>& not_enforced = out.not_enforced;

  ChildPlan p;
  p.die_with_parent = spec.die_with_parent;
  p.user_ns = prof.new_user_ns;
  p.pid_ns = prof.new_pid_ns;
  p.mount_ns = prof.new_mount_ns;
  p.net_ns = prof.new_net_ns;
  p.loopback = prof.loopback;
  p.uts_ns = prof.new_uts_ns;
  std::string hostname = spec.hostname.empty() ? "agent" : spec.hostname;
  p.hostname = hostname.c_str();
  p.hostname_len = hostname.size();
  p.readonly_root = prof.readonly_root;
  p.private_tmp = prof.private_tmp;
  p.mount_proc = prof.new_pid_ns && prof.new_mount_ns;
  p.minimal_dev = prof.readonly_root && prof.minimal_dev;
  for (int i = 0; i < kNumDevNodes; ++i) {
    p.dev_src[i] = std::string("/dev/") + kDevNodes[i];
    p.dev_dst[i] = std::string(kNewRoot) + "/dev/" + kDevNodes[i];
  }
  for (size_t i = 0; i < sizeof kDevLinks / sizeof kDevLinks[0]; ++i)
    p.dev_link[i] = std::string(kNewRoot) + "/dev/" + kDevLinks[i][1];
  if (prof.readonly_root)
    for (const auto& m : prof.masked_paths) p.masks.push_back(std::string(kNewRoot) + NormalizeDir(m));
  std::string workdir = NormalizeDir(spec.workdir);
  p.workdir = workdir.c_str();
  if (prof.readonly_root) {
    p.binds.push_back(MakeBind(workdir));
    for (const auto& w : prof.writable_paths) p.binds.push_back(MakeBind(NormalizeDir(w)));
    if (p.binds.size() > static_cast<size_t>(kMaxBinds))
      return absl::InvalidArgumentError("too many writable paths");
  }
  p.uid = spec.uid;
  p.gid = spec.gid;
  p.drop_caps = prof.drop_caps;
  p.cap_last = CapLast();
  p.no_new_privs = prof.no_new_privs;

  uint64_t clone_flags = CLONE_PIDFD;
  if (prof.new_user_ns) clone_flags |= CLONE_NEWUSER, in_force.push_back("userns");
  if (prof.new_pid_ns) clone_flags |= CLONE_NEWPID, in_force.push_back("pidns");
  if (prof.new_mount_ns) clone_flags |= CLONE_NEWNS, in_force.push_back("mountns");
  if (prof.new_net_ns) {
    clone_flags |= CLONE_NEWNET;
    in_force.push_back(prof.loopback ? "netns" : "netns:no-loopback");
  }
  if (prof.new_ipc_ns) clone_flags |= CLONE_NEWIPC, in_force.push_back("ipcns");
  if (prof.new_uts_ns) clone_flags |= CLONE_NEWUTS, in_force.push_back("utsns");
  if (prof.readonly_root) in_force.push_back("readonly-root");
  if (prof.private_tmp) in_force.push_back("private-tmp");
  if (p.minimal_dev) in_force.push_back("minimal-dev");
  if (!p.masks.empty()) in_force.push_back("masked:" + absl::StrJoin(prof.masked_paths, ","));
  in_force.push_back(absl::StrCat("uid:", spec.uid));
  in_force.push_back(absl::StrCat("gid:", spec.gid));
  if (prof.drop_caps) in_force.push_back("caps:none");
  if (prof.no_new_privs) in_force.push_back("no_new_privs");

  // Landlock.
  if (prof.landlock) {
    if (host.landlock_abi <= 0) {
      not_enforced.push_back("landlock: not supported by this kernel");
    } else {
      int abi = host.landlock_abi;
      p.landlock = true;
      uint64_t fs = LandlockFsMask(abi);
      p.ll_attr.handled_access_fs = fs;
      p.ll_attr_size = 8;
      if (abi >= 4) {
        p.ll_attr.handled_access_net = kLlNetBindTcp | kLlNetConnectTcp;
        p.ll_attr_size = 16;
      }
      if (abi >= 6) {
        p.ll_attr.scoped = kLlScopeAbstractUnix | kLlScopeSignal;
        p.ll_attr_size = 24;
      }
      uint64_t ro = kLlExecute | kLlReadFile | kLlReadDir;
      for (const auto& r : prof.readonly_paths) p.ll_rules.push_back({NormalizeDir(r), RuleMask(r, ro), false});
      // Devices: read and write (/dev/null, /dev/tty), ioctl; the mount is
      // read-only, so nothing can be created there.
      p.ll_rules.push_back({"/dev", kLlReadFile | kLlWriteFile | kLlReadDir | (abi >= 5 ? kLlIoctlDev : 0), false});
      if (p.minimal_dev) p.ll_rules.push_back({"/dev/shm", fs & ~kLlExecute, true});
      p.ll_rules.push_back({workdir, fs, true});
      if (prof.private_tmp) p.ll_rules.push_back({"/tmp", fs, true});
      if (init_fd.valid()) p.ll_rules.push_back({AgentInitPath(), kLlExecute | kLlReadFile, true});
      for (const auto& w : prof.writable_paths) p.ll_rules.push_back({NormalizeDir(w), RuleMask(w, fs), false});
      in_force.push_back(absl::StrCat("landlock-abi", abi));
      if (abi >= 4) in_force.push_back("landlock-net");
      else not_enforced.push_back("landlock-net: needs landlock ABI 4");
      if (abi >= 6) in_force.push_back("landlock-scope");
    }
  }

  // seccomp.
  if (prof.seccomp) {
    if (!host.seccomp) {
      not_enforced.push_back("seccomp: not supported by this kernel");
    } else {
      AIK_ASSIGN_OR_RETURN(const std::vector<sock_filter>* prog, SeccompProgram());
      p.seccomp.len = static_cast<unsigned short>(prog->size());
      p.seccomp.filter = const_cast<sock_filter*>(prog->data());
      p.seccomp_on = true;
      in_force.push_back("seccomp");
    }
  }

  // cgroup and limits.
  UniqueFd cgroup_fd;
  std::vector<std::string> cg_limited;
  const Limits& lim = spec.limits;
  if (!spec.cgroup_path.empty()) {
    cgroup_fd.reset(open(spec.cgroup_path.c_str(), O_DIRECTORY | O_PATH | O_CLOEXEC));
    if (!cgroup_fd.valid())
      return ErrnoError("open cgroup " + spec.cgroup_path, errno);
    AIK_ASSIGN_OR_RETURN(cg_limited, ApplyCgroupLimits(spec.cgroup_path, lim));
    clone_flags |= CLONE_INTO_CGROUP;
    in_force.push_back("cgroup-leaf");
    if (!cg_limited.empty()) in_force.push_back("cgroup:" + absl::StrJoin(cg_limited, ","));
    out.cgroup_path = spec.cgroup_path;
  }
  auto by_cg = [&](const char* c) { return std::find(cg_limited.begin(), cg_limited.end(), c) != cg_limited.end(); };
  if (lim.memory_bytes > 0 && !by_cg("memory")) {
    const uint64_t as = std::max(lim.address_space_bytes, lim.memory_bytes);
    p.rlims[p.n_rlims++] = {RLIMIT_AS, static_cast<rlim_t>(as), "RLIMIT_AS"};
    in_force.push_back("rlimit:as");
  }
  if (lim.pids > 0 && !by_cg("pids")) {
    if (prof.new_user_ns) {
      // Counted per (user namespace, uid): only this agent's processes and
      // threads, even when every agent runs as the same uid. The
      // pid-namespace init counts too.
      rlim_t n = static_cast<rlim_t>(lim.pids) + (prof.new_pid_ns ? 1 : 0);
      p.rlims[p.n_rlims++] = {RLIMIT_NPROC, n, "RLIMIT_NPROC"};
      in_force.push_back("rlimit:nproc");
    } else {
      // Without its own user namespace RLIMIT_NPROC would count every process
      // and thread of the uid on the host (all agents sharing it): agents
      // would fail to fork, or to exec (EAGAIN), because of each other.
      not_enforced.push_back("pids: no pids cgroup, and RLIMIT_NPROC without a user namespace "
                             "would count every process of the uid");
    }
  }
  if (lim.open_files > 0) {
    p.nofile = static_cast<rlim_t>(lim.open_files);
    in_force.push_back("rlimit:nofile");
  }
  if (lim.cpu_percent > 0 && !by_cg("cpu")) not_enforced.push_back("cpu_percent: no cpu controller");

  // exec arguments.
  std::string exe = ResolveExe(spec.argv[0], spec.env);
  p.exe = exe.c_str();
  std::vector<std::string> env = spec.env;
  if (spec.kernel_fd >= 0) env.push_back(absl::StrCat("AIKERNEL_FD=", kKernelFd));
  for (const auto& a : spec.argv) p.argv.push_back(const_cast<char*>(a.c_str()));
  p.argv.push_back(nullptr);
  for (const auto& e : env) p.envp.push_back(const_cast<char*>(e.c_str()));
  p.envp.push_back(nullptr);

  // fds.
  UniqueFd devnull;
  if (spec.stdin_fd < 0 || spec.stdout_fd < 0 || spec.stderr_fd < 0) {
    devnull.reset(open("/dev/null", O_RDWR | O_CLOEXEC));
    if (!devnull.valid()) return ErrnoError("open /dev/null", errno);
  }
  p.fd_in = spec.stdin_fd >= 0 ? spec.stdin_fd : devnull.get();
  p.fd_out = spec.stdout_fd >= 0 ? spec.stdout_fd : devnull.get();
  p.fd_err = spec.stderr_fd >= 0 ? spec.stderr_fd : devnull.get();
  p.fd_kernel = spec.kernel_fd;
  int sync[2], err[2];
  if (pipe2(sync, O_CLOEXEC) < 0) return ErrnoError("pipe", errno);
  UniqueFd sync_rd(sync[0]), sync_wr(sync[1]);
  if (pipe2(err, O_CLOEXEC) < 0) return ErrnoError("pipe", errno);
  UniqueFd err_rd(err[0]), err_wr(err[1]);
  // A caller with fds 0..3 free gets its pipes there, where the child's
  // shuffle of the agent's fds would overwrite them (the error pipe lost, a
  // failed exec reported as a start): keep the launch's own fds above.
  for (UniqueFd* fd : {&sync_rd, &sync_wr, &err_rd, &err_wr}) {
    if (fd->get() > 3) continue;
    int high = fcntl(fd->get(), F_DUPFD_CLOEXEC, 10);
    if (high < 0) return ErrnoError("fcntl F_DUPFD_CLOEXEC", errno);
    fd->reset(high);
  }
  p.sync_rd = sync_rd.get();
  p.sync_wr = sync_wr.get();
  p.err_rd = err_rd.get();
  p.err_wr = err_wr.get();
  std::string init_err_fd = std::to_string(p.fd_kernel >= 0 ? 4 : 3);
  if (init_fd.valid()) {
    p.init_fd = init_fd.get();
    for (const char* a : {"aik-agent-init", init_err_fd.c_str(), p.die_with_parent ? "d" : "-", p.exe})
      p.init_argv.push_back(const_cast<char*>(a));
    p.init_argv.insert(p.init_argv.end(), p.argv.begin(), p.argv.end());  // ends with nullptr
  }

  int pidfd = -1;
  long pid = -1;
  ChildStack stack;
  if (p.init_fd >= 0) {
    // glibc's clone(): the child runs ChildEntry on its own stack in the
    // daemon's memory until it execs the init. It touches only its stack and
    // the plan (which this frame keeps alive until the exec or its death);
    // it shares this thread's TLS, so errno may race with this thread's,
    // which only writes errno on failures. Signals stay blocked across the
    // clone so no daemon handler ever runs in it. On x86-64 by clone3 (so
    // CLONE_INTO_CGROUP holds); elsewhere glibc's clone(), and the cgroup is
    // joined below through cgroup.procs (slower: a migration waits for an
    // RCU grace period, several ms here), before the child is released.
    // The child's credential changes make this (shared) memory non-dumpable
    // anyway; saying it first makes it hold from the start: no process of
    // the agent's uid may ptrace the child, or read or write its memory
    // through /proc, while that memory is the daemon's.
    if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0) return ErrnoError("PR_SET_DUMPABLE", errno);
    stack.base = mmap(nullptr, kChildStackBytes, PROT_READ | PROT_WRITE,
                      MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
    if (stack.base == MAP_FAILED) return ErrnoError("mmap child stack", errno);
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
#if defined(__x86_64__)
    clone_args args{};
    args.flags = clone_flags | CLONE_VM;
    args.pidfd = reinterpret_cast<uint64_t>(&pidfd);
    args.exit_signal = SIGCHLD;
    args.stack = reinterpret_cast<uint64_t>(stack.base);
    args.stack_size = kChildStackBytes;
    if (cgroup_fd.valid()) args.cgroup = static_cast<uint64_t>(cgroup_fd.get());
    pid = Clone3OnStack(&args, ChildEntry, &p);
    const int clone_errno = pid < 0 ? static_cast<int>(-pid) : 0;
    if (pid < 0) pid = -1;
#else
    const int flags = static_cast<int>(clone_flags & ~static_cast<uint64_t>(CLONE_INTO_CGROUP)) |
                      CLONE_VM | SIGCHLD;
    pid = clone(ChildEntry, static_cast<char*>(stack.base) + kChildStackBytes, flags, &p, &pidfd);
    const int clone_errno = errno;
#endif
    pthread_sigmask(SIG_SETMASK, &old, nullptr);
    if (pid < 0) return ErrnoError("clone", clone_errno);
  } else {
    clone_args args{};
    args.flags = clone_flags;
    args.pidfd = reinterpret_cast<uint64_t>(&pidfd);
    args.exit_signal = SIGCHLD;
    if (cgroup_fd.valid()) args.cgroup = static_cast<uint64_t>(cgroup_fd.get());
    pid = syscall(SYS_clone3, &args, sizeof args);
    if (pid == 0) ChildMain(p);
    if (pid < 0) return ErrnoError("clone3", errno);
  }
  out.pidfd.reset(pidfd);
  out.pid = static_cast<pid_t>(pid);
  out.pid_namespace = prof.new_pid_ns;
  sync_rd.reset();
  err_wr.reset();
  // The go-pipe stays open until the child exec'd or failed; the child reads
  // a hang-up as the parent's death.
  auto abort_with = [&](Status s) -> Status {
    sync_wr.reset();  // the child exits on EOF
    KillAndReap(out.pidfd.get());
    return s;
  };

  if (prof.new_user_ns) {
    Status s = WriteProcFile(out.pid, "uid_map", absl::StrCat(spec.uid, " ", spec.uid, " 1\n"));
    if (s.ok()) s = WriteProcFile(out.pid, "gid_map", absl::StrCat(spec.gid, " ", spec.gid, " 1\n"));
    if (!s.ok()) return abort_with(s);
  }
  if (p.init_fd >= 0 && cgroup_fd.valid() && !kClone3OnStack) {
    Status s = WriteFile(spec.cgroup_path + "/cgroup.procs", std::to_string(out.pid));
    if (!s.ok()) return abort_with(absl::InternalError(absl::StrCat("join cgroup: ", s.message())));
  }
  auto st = ProcStartTime(out.pid);
  if (!st.ok()) return abort_with(st.status());
  out.start_time_ticks = *st;
  if (write(sync_wr.get(), "g", 1) != 1) return abort_with(ErrnoError("release child", errno));

  // EOF: every copy of the write end is gone, i.e. the program was exec'd.
  ErrRecord rec;
  size_t got = 0;
  while (got < sizeof rec) {
    pollfd pfd{err_rd.get(), POLLIN, 0};
    int pr = poll(&pfd, 1, kLaunchTimeoutMs);
    if (pr < 0 && errno == EINTR) continue;
    if (pr == 0) return abort_with(absl::DeadlineExceededError("sandbox child did not exec within 10 s"));
    ssize_t n = read(err_rd.get(), reinterpret_cast<char*>(&rec) + got, sizeof rec - got);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return abort_with(ErrnoError("read error pipe", errno));
    if (n == 0) break;
    got += static_cast<size_t>(n);
  }
  if (got == 0) return out;
  if (got < sizeof rec) return abort_with(absl::InternalError("sandbox child: truncated error report"));
  rec.step[sizeof rec.step - 1] = '\0';
  rec.detail[sizeof rec.detail - 1] = '\0';
  std::string msg = rec.step;
  if (rec.detail[0] != '\0') absl::StrAppend(&msg, " ", rec.detail);
  absl::StrAppend(&msg, ": ", strerror(rec.err));
  return abort_with(absl::InternalError(msg));
}

}  // namespace aikernel::sandbox
