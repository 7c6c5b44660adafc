// sandbox: start one confined process and own the handles that supervise it.
//
// Launch() turns a LaunchSpec into a running, confined process: clone3 with
// CLONE_PIDFD (and CLONE_INTO_CGROUP when a cgroup v2 leaf is given), the
// namespaces the profile asks for, a read-only view of the system with a
// private /tmp and a writable workdir, an unprivileged uid/gid, no
// capabilities, no_new_privs, Landlock, a seccomp filter and rlimits. Every
// string, path, map and BPF program is prepared before clone3; the child makes
// only async-signal-safe system calls until execve (no malloc, no logging, no
// gRPC). A failing step in the child is reported back over a CLOEXEC pipe and
// Launch() returns an error naming that step; Launch() returns OK only after
// the target program has been exec'd.
//
// Process tree. With a new pid namespace the child is a tiny init (pid 1 in the
// namespace, the image of the caller, no open fds) that forks the agent (pid
// 2), forwards SIGTERM/SIGINT/SIGHUP/SIGQUIT/SIGUSR1/SIGUSR2/SIGCONT to it,
// reaps orphans, and exits with the agent's status (exit code, or 128+signal
// when the agent was killed by a signal) as soon as the agent exits. The init
// exiting makes the kernel kill everything else in the namespace, so an
// agent's grandchildren never outlive it. Launched::pidfd refers to that init. Without a pid namespace the
// child itself execs the program and is a session and process-group leader.
//
// Threading: the functions here are thread-safe (they share only an
// immutable, lazily built seccomp program and the Detect() result); Launch()
// may run in several threads at once. Launch() blocks the calling thread
// until the child has exec'd or failed (2-3 ms on an idle machine, more
// under load); it never waits for the program to exit. Children exit with
// SIGCHLD: the caller must not set SIGCHLD to SIG_IGN nor wait(-1).
// With LaunchSpec::die_with_parent the child gets PR_SET_PDEATHSIG(SIGKILL),
// which the kernel fires when the *thread* that called Launch() exits: call
// Launch() from a thread that lives as long as the supervision does.
//
// Ownership: Launched owns its pidfd; the process is not killed when Launched
// is destroyed. The caller reaps it (Reap, or waitid(P_PIDFD) on readiness of
// the pidfd): until reaped it is a zombie. Fds passed in a LaunchSpec stay
// owned by the caller (Launch dups them into the child).
#pragma once

#include <signal.h>
#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"
#include "common/unique_fd.h"

namespace aikernel::sandbox {

// What to confine. Profiles are plain values: config may define more by
// starting from DefaultProfile() or TrustedProfile() and changing fields.
struct Profile {
  std::string name;
  bool new_user_ns = false;   // own user namespace; uid/gid mapped 1:1 for the agent's ids only
  bool new_pid_ns = false;    // own pid namespace with the tiny init described above
  bool new_mount_ns = false;  // required by readonly_root and private_tmp
  bool new_net_ns = false;    // only `lo`, brought up when `loopback`
  bool loopback = true;       // with new_net_ns: bring `lo` up (false: no network at all)
  bool new_ipc_ns = false;
  bool new_uts_ns = false;    // hostname = LaunchSpec::hostname (or "agent")
  bool readonly_root = false;  // the whole tree re-bound read-only (pivot_root into it)
  bool private_tmp = false;    // fresh tmpfs on /tmp (mode 1777)
  // With readonly_root: /dev is a read-only tmpfs holding binds of null,
  // zero, full, random, urandom and tty, the fd/stdin/stdout/stderr symlinks
  // and a private tmpfs /dev/shm (nothing else of the host's /dev).
  bool minimal_dev = false;
  bool landlock = false;       // fs: read-only on readonly_paths, rw on workdir,/tmp,writable_paths;
                               // TCP bind/connect denied at ABI >= 4; signal/abstract-unix scoped at >= 6
  bool seccomp = false;        // deny list (see docs/sandbox.md), EPERM
  bool drop_caps = false;      // permitted, effective, inheritable, ambient and bounding sets emptied
  bool no_new_privs = false;
  bool allow_root = false;     // Launch refuses uid 0 or gid 0 unless set
  // Landlock read(+exec) beneath these (paths missing on the host are skipped).
  std::vector<std::string> readonly_paths;
  // Landlock read+write beneath these, in addition to the workdir and /tmp;
  // with readonly_root they are also bound in writable.
  std::vector<std::string> writable_paths;
  // With readonly_root: covered by an empty read-only tmpfs (paths missing on
  // the host are skipped). Default: /run, so host Unix sockets (the kernel's
  // own, D-Bus, container runtimes) cannot be reached by path.
  std::vector<std::string> masked_paths;
  bool operator==(const Profile&) const = default;
};

// default: every namespace, read-only root, private /tmp, minimal /dev, /run
// masked, Landlock with a system read-only list (/usr /bin /sbin /lib* /etc
// /opt /proc, see docs/sandbox.md), seccomp, all caps dropped, no_new_privs.
Profile DefaultProfile();
// trusted (operator tools): own pid, ipc and uts namespaces only (host network,
// host file system view, no Landlock); still seccomp, no caps, no_new_privs.
Profile TrustedProfile();
// "default" or "trusted"; NotFound otherwise (config-defined profiles are the
// caller's business).
StatusOr<Profile> ProfileByName(const std::string& name);

// Resource limits; 0 means unlimited. Enforced by the cgroup leaf when one is
// given and has the controller, otherwise by rlimits where one exists:
// memory -> RLIMIT_AS, pids -> RLIMIT_NPROC (per uid within the agent's user
// namespace), open_files -> RLIMIT_NOFILE always. cpu_percent has no rlimit
// fallback: without the cpu controller it is reported in Launched::not_enforced.
struct Limits {
  uint64_t memory_bytes = 0;
  // RLIMIT_AS when memory_bytes is not held by a cgroup; 0: memory_bytes.
  // Address space is not memory: every thread's stack and every malloc arena
  // reserves far more than it touches, so a caller may allow more here.
  uint64_t address_space_bytes = 0;
  uint64_t pids = 0;
  uint64_t open_files = 0;
  uint32_t cpu_percent = 0;  // of one CPU; 200 = two CPUs
};

struct LaunchSpec {
  std::vector<std::string> argv;  // argv[0] without '/' is looked up in PATH (from env, else /usr/bin:/bin)
  std::vector<std::string> env;   // "K=V"; nothing of the caller's environment is inherited
  std::string workdir;            // absolute, must exist; writable for uid/gid
  uid_t uid = 65534;
  gid_t gid = 65534;
  Profile profile = DefaultProfile();
  Limits limits;
  int stdin_fd = -1;   // -1: /dev/null
  int stdout_fd = -1;  // -1: /dev/null
  int stderr_fd = -1;  // -1: /dev/null
  int kernel_fd = -1;  // becomes fd 3 in the program, with AIKERNEL_FD=3 in env
  std::string hostname;     // with new_uts_ns; empty: "agent"
  std::string cgroup_path;  // a cgroup v2 leaf directory to spawn into, or empty
  bool die_with_parent = true;  // PR_SET_PDEATHSIG(SIGKILL); see the threading note
};

struct Launched {
  UniqueFd pidfd;  // the init (pid ns) or the program itself
  pid_t pid = -1;  // in the caller's pid namespace
  uint64_t start_time_ticks = 0;  // /proc/<pid>/stat field 22, for PID-reuse checks
  bool pid_namespace = false;     // pid is a pid-namespace init
  std::string cgroup_path;        // the leaf it was spawned into, or empty
  // What is in force, e.g. "userns", "pidns", "mountns", "netns", "ipcns",
  // "utsns", "readonly-root", "private-tmp", "uid:65534", "gid:65534",
  // "caps:none", "no_new_privs", "landlock-abi7", "landlock-net",
  // "seccomp", "cgroup:memory,pids", "rlimit:as", "rlimit:nproc",
  // "rlimit:nofile".
  std::vector<std::string> in_force;
  // Asked for but not enforced, with the reason, e.g.
  // "cpu_percent: no cpu controller" or "landlock: not supported by kernel".
  std::vector<std::string> not_enforced;
};

// Starts the program. Errors: InvalidArgument (bad spec: empty argv, relative
// workdir, uid 0 without allow_root, a profile needing a mount ns without it),
// Internal with "step: reason" when a step failed (in the caller, e.g.
// "clone3: Operation not permitted", or in the child, e.g.
// "execve /nope: No such file or directory"), DeadlineExceeded when the child
// did not exec within 10 s. On error no process is left behind (killed and
// reaped).
StatusOr<Launched> Launch(const LaunchSpec& spec);

// The seam tests and the agents subsystem inject faults through.
class Launcher {
 public:
  virtual ~Launcher() = default;
  virtual StatusOr<Launched> Launch(const LaunchSpec& spec) = 0;
};
// The real one (calls sandbox::Launch). Never null, never destroyed.
Launcher* RealLauncher();

// What this host offers; computed once, then cached.
struct HostCapabilities {
  int landlock_abi = 0;  // 0: none
  bool user_ns = false;
  bool seccomp = false;
  std::string cgroup2_root;  // mount point of cgroup2, empty when none
  std::string cgroup2_self;  // this process's cgroup directory under cgroup2_root
  bool cgroup2_delegated = false;  // leaves can be made under cgroup2_self
  std::vector<std::string> cgroup2_controllers;  // cgroup.controllers of cgroup2_self
  bool HasController(const std::string& c) const;
};
const HostCapabilities& Detect();
// One line for `aictl status`, e.g. "landlock abi 7, userns, cgroup2 at
// /sys/fs/cgroup/unified (controllers: hugetlb; memory, pids, cpu by rlimit)".
std::string Describe(const HostCapabilities& caps);

// A cgroup v2 directory owned by the caller. Move-only; not removed on
// destruction (Remove() does). Not thread-safe.
class Cgroup {
 public:
  // mkdir parent/name (EEXIST is fine), enables in parent's
  // cgroup.subtree_control whichever of memory, pids, cpu its
  // cgroup.controllers offers, and writes memory.max (+ memory.swap.max 0),
  // pids.max, cpu.max for the non-zero limits whose files exist.
  static StatusOr<Cgroup> CreateLeaf(const std::string& parent, const std::string& name,
                                     const Limits& limits);
  // Wraps an existing directory (e.g. after a daemon restart).
  static StatusOr<Cgroup> Open(const std::string& path);

  const std::string& path() const { return path_; }
  int dir_fd() const { return dir_.get(); }  // for CLONE_INTO_CGROUP
  // Controllers whose limits were written, e.g. {"memory","pids"}.
  const std::vector<std::string>& limited() const { return limited_; }

  // Writes 1 to cgroup.kill: SIGKILL to every process in it, atomically.
  Status Kill() const;
  // True when cgroup.procs is empty.
  StatusOr<bool> Empty() const;
  // rmdir; FailedPrecondition while processes remain (Kill, reap, retry).
  Status Remove();
  // memory.events "oom_kill" count, NotFound without the memory controller.
  StatusOr<uint64_t> OomKills() const;

 private:
  std::string path_;
  UniqueFd dir_;
  std::vector<std::string> limited_;
};

// Makes the directory under which agent leaves are created, so that leaves
// can get the memory, pids and cpu controllers: cgroup v2 lets a cgroup
// hand controllers to its children only while it holds no processes itself.
// When this process sits in a non-root cgroup S (systemd Delegate=yes), it
// moves itself into S/supervisor, enables in S's cgroup.subtree_control what
// S's cgroup.controllers offers of memory, pids, cpu, and returns S/<name>
// (created). In the root cgroup it returns <root>/<name>. Idempotent.
// FailedPrecondition without a writable cgroup v2 tree. Call it once at
// start-up, before threads that care about their cgroup exist.
StatusOr<std::string> PrepareAgentsParent(const std::string& name = "agents");

// Sends sig: in a pid namespace to the init (which forwards it to the agent;
// SIGKILL kills the namespace), otherwise to the process group.
Status Signal(const Launched& l, int sig);
// Kills everything the launch started: SIGKILL to the pid-namespace init
// (the kernel then kills the namespace), cgroup.kill when it has a cgroup,
// and SIGKILL to the process group otherwise. Does not reap.
Status KillTree(const Launched& l);

struct ExitStatus {
  bool signaled = false;  // killed by a signal (only without a pid ns, or init killed)
  int code = 0;           // exit code, or the signal number when signaled
};
// waitid(P_PIDFD). block=false: NotFound-free std::nullopt while it runs.
StatusOr<std::optional<ExitStatus>> Reap(const Launched& l, bool block);

// Field 22 of /proc/<pid>/stat.
StatusOr<uint64_t> ProcStartTime(pid_t pid);
// pidfd_open(pid) and check its start time is still `start_time_ticks`
// (NotFound when the process is gone or the pid was reused). For
// re-adopting after a daemon restart; the pidfd then polls readable on exit,
// but the exit code is not available to a non-parent.
StatusOr<UniqueFd> Adopt(pid_t pid, uint64_t start_time_ticks);

}  // namespace aikernel::sandbox
