// sandbox tests: launch sandbox_probe under the profiles and check, from
// inside, what is denied and what is allowed. Runs as root (as CI does).
#include "sandbox/sandbox.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

namespace aikernel::sandbox {
namespace {

namespace fs = std::filesystem;
constexpr uid_t kUid = 65534;
constexpr gid_t kGid = 65534;

struct Result {
  int code = -1;
  bool signaled = false;
  std::string out;
};

bool Contains(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

std::string Joined(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& x : v) s += x + " ";
  return s;
}

class SandboxTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "sandbox tests need root";
    char tmpl[] = "/tmp/aik-sbx-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    workdir_ = tmpl;
    ASSERT_EQ(chown(workdir_.c_str(), kUid, kGid), 0);
    // The probe runs from the workdir: the build tree may be anywhere, even
    // under /tmp, which the default profile replaces with a private one.
    probe_ = workdir_ + "/probe";
    fs::copy_file(SANDBOX_PROBE_PATH, probe_);
    chmod(probe_.c_str(), 0755);
  }
  void TearDown() override {
    std::error_code ec;
    if (!workdir_.empty()) fs::remove_all(workdir_, ec);
    for (const auto& p : cleanup_) fs::remove_all(p, ec);
  }

  LaunchSpec Spec(std::vector<std::string> args, Profile profile = DefaultProfile()) {
    LaunchSpec s;
    s.argv = {probe_};
    s.argv.insert(s.argv.end(), args.begin(), args.end());
    s.env = {"PATH=/usr/bin:/bin"};
    s.workdir = workdir_;
    s.uid = kUid;
    s.gid = kGid;
    s.profile = profile;
    return s;
  }

  // Launches, reads stdout to EOF, reaps.
  Result Run(LaunchSpec spec, std::vector<std::string>* in_force = nullptr) {
    Result r;
    int p[2];
    EXPECT_EQ(pipe2(p, O_CLOEXEC), 0);
    UniqueFd rd(p[0]), wr(p[1]);
    spec.stdout_fd = wr.get();
    auto l = Launch(spec);
    wr.reset();
    EXPECT_TRUE(l.ok()) << l.status();
    if (!l.ok()) return r;
    if (in_force) *in_force = l->in_force;
    char buf[4096];
    ssize_t n;
    while ((n = read(rd.get(), buf, sizeof buf)) > 0) r.out.append(buf, static_cast<size_t>(n));
    auto st = Reap(*l, true);
    EXPECT_TRUE(st.ok()) << st.status();
    if (st.ok() && st->has_value()) {
      r.code = (*st)->code;
      r.signaled = (*st)->signaled;
    }
    return r;
  }

  std::string workdir_;
  std::string probe_;
  std::vector<std::string> cleanup_;
};

TEST_F(SandboxTest, DetectDescribesHost) {
  const HostCapabilities& c = Detect();
  std::printf("host: %s\n", Describe(c).c_str());
  EXPECT_GT(c.landlock_abi, 0);
  EXPECT_TRUE(c.user_ns);
  EXPECT_TRUE(c.seccomp);
}

TEST_F(SandboxTest, DefaultRunsUnprivilegedWithoutCapabilities) {
  std::vector<std::string> in_force;
  Result r = Run(Spec({"status"}), &in_force);
  ASSERT_EQ(r.code, 0) << r.out;
  std::printf("in force: %s\n", Joined(in_force).c_str());
  EXPECT_NE(r.out.find("Uid:\t65534\t65534\t65534\t65534"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("Gid:\t65534\t65534\t65534\t65534"), std::string::npos) << r.out;
  size_t g = r.out.find("Groups:");
  ASSERT_NE(g, std::string::npos);
  EXPECT_EQ(r.out.substr(g + 7, r.out.find('\n', g) - g - 7).find_first_not_of(" \t"), std::string::npos)
      << "supplementary groups left: " << r.out;
  for (const char* cap : {"CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"})
    EXPECT_NE(r.out.find(std::string(cap) + ":\t0000000000000000"), std::string::npos) << cap << "\n" << r.out;
  EXPECT_NE(r.out.find("NoNewPrivs:\t1"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("Seccomp:\t2"), std::string::npos) << r.out;
  // pid 2: the namespace's init is pid 1.
  EXPECT_NE(r.out.find("NSpid:"), std::string::npos);
  EXPECT_NE(r.out.rfind("\t2\n"), std::string::npos) << r.out;
  for (const char* f : {"userns", "pidns", "mountns", "netns", "ipcns", "utsns", "readonly-root", "private-tmp",
                        "caps:none", "no_new_privs", "seccomp", "uid:65534"})
    EXPECT_TRUE(Contains(in_force, f)) << f;
  EXPECT_TRUE(Contains(in_force, "landlock-abi" + std::to_string(Detect().landlock_abi)));
}

TEST_F(SandboxTest, DefaultCannotReadShadow) {
  Result r = Run(Spec({"read", "/etc/shadow"}));
  EXPECT_EQ(r.code, 1) << r.out;
  EXPECT_EQ(r.out.rfind("fail", 0), 0u) << r.out;
}

TEST_F(SandboxTest, DefaultCannotReadOutsideWorkdir) {
  // World-readable, but outside the workdir and the system read-only view.
  char tmpl[] = "/var/tmp/aik-sbx-secret-XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  cleanup_.push_back(tmpl);
  chmod(tmpl, 0755);
  std::string secret = std::string(tmpl) + "/secret";
  { std::ofstream(secret) << "secret"; }
  chmod(secret.c_str(), 0644);
  Result r = Run(Spec({"read", secret}));
  EXPECT_EQ(r.code, 1) << r.out;
  EXPECT_NE(r.out.find("EACCES"), std::string::npos) << r.out;
  // The control: the same probe reads a file in its workdir.
  { std::ofstream(workdir_ + "/mine") << "mine"; }
  r = Run(Spec({"read", workdir_ + "/mine"}));
  EXPECT_EQ(r.code, 0) << r.out;
  EXPECT_EQ(r.out, "ok mine\n");
}

TEST_F(SandboxTest, DefaultCannotWriteSystemOrOutsideWorkdir) {
  for (const std::string& path : {std::string("/usr/aik-probe"), std::string("/etc/aik-probe"),
                                  std::string("/var/tmp/aik-probe"), std::string("/aik-probe")}) {
    Result r = Run(Spec({"write", path}));
    EXPECT_EQ(r.code, 1) << path << ": " << r.out;
    EXPECT_FALSE(fs::exists(path)) << path;
  }
}

TEST_F(SandboxTest, DefaultCanWriteWorkdirAndPrivateTmp) {
  Result r = Run(Spec({"write", workdir_ + "/out"}));
  EXPECT_EQ(r.code, 0) << r.out;
  EXPECT_TRUE(fs::exists(workdir_ + "/out"));
  struct stat st;
  ASSERT_EQ(stat((workdir_ + "/out").c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, kUid);

  std::string name = "aik-sbx-private-" + std::to_string(getpid());
  r = Run(Spec({"write", "/tmp/" + name}));
  EXPECT_EQ(r.code, 0) << r.out;
  EXPECT_FALSE(fs::exists("/tmp/" + name)) << "sandbox /tmp leaked to the host";

  std::string marker = "/tmp/aik-sbx-marker-" + std::to_string(getpid());
  { std::ofstream(marker) << "host"; }
  chmod(marker.c_str(), 0644);
  cleanup_.push_back(marker);
  r = Run(Spec({"read", marker}));
  EXPECT_EQ(r.code, 1) << r.out;
  EXPECT_NE(r.out.find("ENOENT"), std::string::npos) << "host /tmp visible: " << r.out;
}

TEST_F(SandboxTest, DefaultHasMinimalDevAndMaskedRun) {
  Result r = Run(Spec({"write", "/dev/null"}));
  EXPECT_EQ(r.code, 0) << r.out;
  r = Run(Spec({"read", "/dev/urandom"}));
  EXPECT_EQ(r.code, 0) << r.out;
  r = Run(Spec({"read", "/dev/kmsg"}));
  EXPECT_EQ(r.code, 1) << r.out;
  EXPECT_NE(r.out.find("ENOENT"), std::string::npos) << r.out;
  r = Run(Spec({"write", "/dev/shm/x"}));
  EXPECT_EQ(r.code, 0) << r.out;
  r = Run(Spec({"write", "/dev/newnode"}));
  EXPECT_EQ(r.code, 1) << r.out;

  // A host Unix socket under /run: reachable by path without the mask.
  if (!fs::is_directory("/run")) GTEST_SKIP() << "no /run here";
  std::string path = "/run/aik-sbx-test-" + std::to_string(getpid()) + ".sock";
  UniqueFd srv(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_un sa{};
  sa.sun_family = AF_UNIX;
  std::strncpy(sa.sun_path, path.c_str(), sizeof sa.sun_path - 1);
  ASSERT_EQ(bind(srv.get(), reinterpret_cast<sockaddr*>(&sa), sizeof sa), 0);
  cleanup_.push_back(path);
  chmod(path.c_str(), 0777);
  ASSERT_EQ(listen(srv.get(), 4), 0);
  r = Run(Spec({"connect-unix", path}));
  EXPECT_EQ(r.code, 1) << "host socket reachable: " << r.out;
  EXPECT_NE(r.out.find("ENOENT"), std::string::npos) << r.out;
  r = Run(Spec({"connect-unix", path}, TrustedProfile()));
  EXPECT_EQ(r.code, 0) << "the control: trusted sees /run: " << r.out;
}

TEST_F(SandboxTest, ThreadsWorkUnderSeccomp) {
  Result r = Run(Spec({"thread"}));
  EXPECT_EQ(r.code, 0) << r.out;
}

TEST_F(SandboxTest, OpenFilesLimit) {
  LaunchSpec s = Spec({"nofile"});
  s.limits.open_files = 16;
  Result r = Run(s);
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_EQ(r.out, "ok 13\n");  // 16 minus stdin, stdout, stderr
}

class Listener {
 public:
  Listener() {
    fd_.reset(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bind(fd_.get(), reinterpret_cast<sockaddr*>(&sa), sizeof sa);
    listen(fd_.get(), 8);
    socklen_t len = sizeof sa;
    getsockname(fd_.get(), reinterpret_cast<sockaddr*>(&sa), &len);
    port_ = ntohs(sa.sin_port);
  }
  int port() const { return port_; }

 private:
  UniqueFd fd_;
  int port_ = 0;
};

TEST_F(SandboxTest, DefaultHasNoNetworkButLoopback) {
  Listener l;
  ASSERT_GT(l.port(), 0);
  Result r = Run(Spec({"connect", std::to_string(l.port())}));
  EXPECT_EQ(r.code, 1) << r.out;
  r = Run(Spec({"ifaces"}));
  EXPECT_EQ(r.code, 0) << r.out;
  EXPECT_EQ(r.out, "ok lo:up \n");
}

TEST_F(SandboxTest, LandlockDeniesTcpEvenOnTheHostNetwork) {
  if (Detect().landlock_abi < 4) GTEST_SKIP() << "landlock ABI " << Detect().landlock_abi << " has no TCP rules";
  Listener l;
  Profile prof = DefaultProfile();
  prof.new_net_ns = false;  // only Landlock stands between the probe and the listener
  Result r = Run(Spec({"connect", std::to_string(l.port())}, prof));
  EXPECT_EQ(r.code, 1) << r.out;
  EXPECT_NE(r.out.find("EACCES"), std::string::npos) << r.out;
}

TEST_F(SandboxTest, DefaultSeccompDeniesDangerousSyscalls) {
  for (const char* action : {"ptrace", "mount", "unshare", "clone-newns", "bpf"}) {
    Result r = Run(Spec({action}));
    EXPECT_EQ(r.code, 1) << action << ": " << r.out;
    EXPECT_NE(r.out.find("EPERM"), std::string::npos) << action << ": " << r.out;
  }
}

TEST_F(SandboxTest, ForkBombIsHeldByPidsLimit) {
  LaunchSpec s = Spec({"forkbomb"});
  s.limits.pids = 16;
  std::vector<std::string> in_force;
  Result r = Run(s, &in_force);
  ASSERT_EQ(r.code, 0) << r.out;
  int forks = atoi(r.out.c_str() + 3);
  std::printf("fork bomb stopped after %d forks (%s)\n", forks, r.out.c_str());
  EXPECT_LT(forks, 16);
  EXPECT_TRUE(Contains(in_force, "rlimit:nproc") || Contains(in_force, "cgroup:pids")) << Joined(in_force);
}

TEST_F(SandboxTest, SetupFailureNamesTheStep) {
  LaunchSpec s = Spec({});
  s.argv = {"/nonexistent/agent"};
  auto l = Launch(s);
  ASSERT_FALSE(l.ok());
  EXPECT_NE(l.status().message().find("execve /nonexistent/agent: No such file"), std::string::npos)
      << l.status();

  s = Spec({"exit", "0"});
  s.workdir = "/nonexistent/workdir";
  l = Launch(s);
  ASSERT_FALSE(l.ok());
  EXPECT_NE(l.status().message().find("/nonexistent/workdir: No such file"), std::string::npos) << l.status();
  std::printf("default, bad workdir: %s\n", l.status().ToString().c_str());

  s = Spec({"exit", "0"}, TrustedProfile());
  s.workdir = "/nonexistent/workdir";
  l = Launch(s);
  ASSERT_FALSE(l.ok());
  EXPECT_NE(l.status().message().find("chdir workdir /nonexistent/workdir"), std::string::npos) << l.status();

  s = Spec({"exit", "0"});
  s.uid = 0;
  EXPECT_EQ(Launch(s).status().code(), absl::StatusCode::kInvalidArgument);
}

std::vector<pid_t> PidsInNamespaceOf(pid_t pid) {
  std::vector<pid_t> out;
  char want[128] = {}, got[128];
  std::string link = "/proc/" + std::to_string(pid) + "/ns/pid";
  if (readlink(link.c_str(), want, sizeof want - 1) < 0) return out;
  DIR* d = opendir("/proc");
  while (dirent* e = readdir(d)) {
    pid_t p = atoi(e->d_name);
    if (p <= 0 || p == pid) continue;
    std::string l = "/proc/" + std::to_string(p) + "/ns/pid";
    ssize_t n = readlink(l.c_str(), got, sizeof got - 1);
    if (n > 0 && std::string(got, static_cast<size_t>(n)) == want) out.push_back(p);
  }
  closedir(d);
  return out;
}

bool ExitsWithin(int pidfd, int ms) {
  pollfd p{pidfd, POLLIN, 0};
  return poll(&p, 1, ms) == 1;
}

// Launches `spec` with its stdout on a pipe (the probe's "grandchild"
// command: the agent forks a sleeping grandchild, then says "ok spawned"),
// reads what it says into `*said`, and opens a pidfd on every process of its
// pid namespace but the init (the agent and the grandchild at least).
void LaunchWithGrandchild(LaunchSpec s, Launched* l, std::string* said,
                          std::vector<UniqueFd>* fds) {
  int p[2];
  ASSERT_EQ(pipe2(p, O_CLOEXEC), 0);
  UniqueFd rd(p[0]), wr(p[1]);
  s.stdout_fd = wr.get();
  auto launched = Launch(s);
  ASSERT_TRUE(launched.ok()) << launched.status();
  *l = std::move(launched).value();
  wr.reset();
  char buf[64] = {};
  ASSERT_GT(read(rd.get(), buf, sizeof buf - 1), 0);
  *said = buf;
  std::vector<pid_t> inside = PidsInNamespaceOf(l->pid);
  ASSERT_GE(inside.size(), 2u) << "agent and its grandchild";
  for (pid_t q : inside) fds->emplace_back(static_cast<int>(syscall(SYS_pidfd_open, q, 0)));
}

TEST_F(SandboxTest, KillTreeKillsGrandchildren) {
  Launched l;
  std::string said;
  std::vector<UniqueFd> fds;
  ASSERT_NO_FATAL_FAILURE(LaunchWithGrandchild(Spec({"grandchild"}), &l, &said, &fds));
  EXPECT_EQ(said, "ok spawned\n");
  auto none = Reap(l, false);
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value()) << "still running";
  ASSERT_TRUE(KillTree(l).ok());
  auto st = Reap(l, true);
  ASSERT_TRUE(st.ok() && st->has_value());
  EXPECT_TRUE((*st)->signaled);
  EXPECT_EQ((*st)->code, SIGKILL);
  for (auto& fd : fds) {
    ASSERT_TRUE(fd.valid());
    EXPECT_TRUE(ExitsWithin(fd.get(), 5000)) << "a process of the namespace survived";
  }
}

TEST_F(SandboxTest, AgentExitKillsItsOrphans) {
  Launched l;
  std::string said;
  std::vector<UniqueFd> fds;
  ASSERT_NO_FATAL_FAILURE(LaunchWithGrandchild(Spec({"grandchild"}), &l, &said, &fds));
  // SIGTERM goes to init, which forwards it to the agent; the agent dies, init
  // exits with 128+15, and the kernel kills the sleeping grandchild.
  ASSERT_TRUE(Signal(l, SIGTERM).ok());
  auto st = Reap(l, true);
  ASSERT_TRUE(st.ok() && st->has_value());
  EXPECT_FALSE((*st)->signaled);
  EXPECT_EQ((*st)->code, 128 + SIGTERM);
  for (auto& fd : fds) EXPECT_TRUE(ExitsWithin(fd.get(), 5000));
}

// A caller whose fds 0..3 are free: the launch's own pipes land there, and
// the shuffle that gives the agent its fds 0..3 must not overwrite them (the
// error pipe would be lost and a failed exec would look like a started one).
TEST_F(SandboxTest, FailureIsReportedWhenTheCallersLowFdsAreFree) {
  Profile prof = TrustedProfile();
  prof.new_pid_ns = false;  // the path without aik-agent-init
  prof.new_mount_ns = false;
  int out[2], kern[2];
  ASSERT_EQ(pipe2(out, O_CLOEXEC), 0);
  ASSERT_EQ(pipe2(kern, O_CLOEXEC), 0);
  UniqueFd out_r(out[0]), out_w(out[1]), kern_r(kern[0]), kern_w(kern[1]);
  LaunchSpec s = Spec({}, prof);
  s.argv = {"/nonexistent/agent"};
  s.stdin_fd = kern_r.get();
  s.stdout_fd = out_w.get();
  s.stderr_fd = out_w.get();
  s.kernel_fd = kern_w.get();
  // Park the test's own 0..3 high, free them, launch, put them back before
  // anything prints.
  int saved[4];
  for (int i = 0; i < 4; ++i) saved[i] = fcntl(i, F_DUPFD_CLOEXEC, 100);
  for (int i = 0; i < 4; ++i) close(i);
  auto l = Launch(s);
  for (int i = 0; i < 4; ++i) {
    if (saved[i] >= 0) {
      dup2(saved[i], i);
      close(saved[i]);
    } else {
      close(i);  // it was free before: leave it free
    }
  }
  ASSERT_FALSE(l.ok()) << "a failed exec was reported as a started agent";
  EXPECT_NE(l.status().message().find("execve /nonexistent/agent"), std::string::npos)
      << l.status();
}

TEST_F(SandboxTest, WithoutPidNamespaceSignalsGoToTheProcessGroup) {
  Profile prof = TrustedProfile();
  prof.new_pid_ns = false;
  prof.new_mount_ns = false;
  auto l = Launch(Spec({"sleep", "60"}, prof));
  ASSERT_TRUE(l.ok()) << l.status();
  EXPECT_FALSE(l->pid_namespace);
  EXPECT_EQ(getpgid(l->pid), l->pid) << "the program leads its own process group";
  ASSERT_TRUE(Signal(*l, SIGTERM).ok());
  auto st = Reap(*l, true);
  ASSERT_TRUE(st.ok() && st->has_value());
  EXPECT_TRUE((*st)->signaled);
  EXPECT_EQ((*st)->code, SIGTERM);

  l = Launch(Spec({"sleep", "60"}, prof));
  ASSERT_TRUE(l.ok()) << l.status();
  ASSERT_TRUE(KillTree(*l).ok());
  st = Reap(*l, true);
  ASSERT_TRUE(st.ok() && st->has_value());
  EXPECT_EQ((*st)->code, SIGKILL);
  EXPECT_TRUE(KillTree(*l).ok()) << "killing a reaped launch is a no-op";
}

TEST_F(SandboxTest, CgroupKillReachesEscapedProcesses) {
  const HostCapabilities& c = Detect();
  if (!c.cgroup2_delegated) GTEST_SKIP() << "no writable cgroup v2 tree: " << Describe(c);
  auto parent = PrepareAgentsParent("aik-sbx-test-" + std::to_string(getpid()));
  ASSERT_TRUE(parent.ok()) << parent.status();
  auto cg = Cgroup::CreateLeaf(*parent, "agent-1", Limits{});
  ASSERT_TRUE(cg.ok()) << cg.status();
  // No pid namespace: the grandchild calls setsid(), leaving the process
  // group; only the cgroup still holds it.
  Profile prof = TrustedProfile();
  prof.new_pid_ns = false;
  prof.new_mount_ns = false;
  int p[2];
  ASSERT_EQ(pipe2(p, O_CLOEXEC), 0);
  UniqueFd rd(p[0]), wr(p[1]);
  LaunchSpec s = Spec({"grandchild"}, prof);
  s.stdout_fd = wr.get();
  s.cgroup_path = cg->path();
  auto l = Launch(s);
  ASSERT_TRUE(l.ok()) << l.status();
  wr.reset();
  EXPECT_TRUE(Contains(l->in_force, "cgroup-leaf"));
  char buf[64] = {};
  ASSERT_GT(read(rd.get(), buf, sizeof buf - 1), 0);
  std::string procs;
  {
    std::ifstream f(cg->path() + "/cgroup.procs");
    std::string line;
    while (std::getline(f, line)) procs += line + " ";
  }
  EXPECT_NE(procs.find(std::to_string(l->pid)), std::string::npos) << procs;
  ASSERT_TRUE(KillTree(*l).ok());
  ASSERT_TRUE(Reap(*l, true).ok());
  bool empty = false;
  for (int i = 0; i < 100 && !empty; ++i) {
    auto e = cg->Empty();
    empty = e.ok() && *e;
    if (!empty) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_TRUE(empty) << "cgroup.kill left processes";
  EXPECT_TRUE(cg->Remove().ok());
  EXPECT_EQ(rmdir(parent->c_str()), 0);
}

TEST_F(SandboxTest, MemoryHogIsKilledByMemoryController) {
  const HostCapabilities& c = Detect();
  if (!c.cgroup2_delegated || !c.HasController("memory"))
    GTEST_SKIP() << "no usable cgroup v2 memory controller here (" << Describe(c)
                 << "); RLIMIT_AS is the fallback, tested by MemoryHogIsHeldByRlimitFallback";
  auto parent = PrepareAgentsParent("aik-sbx-mem-" + std::to_string(getpid()));
  ASSERT_TRUE(parent.ok()) << parent.status();
  Limits lim;
  lim.memory_bytes = 64 << 20;
  auto cg = Cgroup::CreateLeaf(*parent, "agent-1", lim);
  ASSERT_TRUE(cg.ok()) << cg.status();
  if (std::find(cg->limited().begin(), cg->limited().end(), "memory") == cg->limited().end()) {
    cg->Remove().IgnoreError();
    rmdir(parent->c_str());
    GTEST_SKIP() << "memory controller could not be enabled for the leaf";
  }
  LaunchSpec s = Spec({"memhog", "512"});
  s.cgroup_path = cg->path();
  s.limits = lim;
  Result r = Run(s);
  EXPECT_EQ(r.code, 128 + SIGKILL) << r.out;
  auto ooms = cg->OomKills();
  EXPECT_TRUE(ooms.ok() && *ooms > 0);
  cg->Remove().IgnoreError();
  rmdir(parent->c_str());
}

TEST_F(SandboxTest, MemoryHogIsHeldByRlimitFallback) {
  LaunchSpec s = Spec({"memhog", "512"});
  s.limits.memory_bytes = 128 << 20;
  std::vector<std::string> in_force;
  Result r = Run(s, &in_force);
  EXPECT_TRUE(Contains(in_force, "rlimit:as")) << Joined(in_force);
  EXPECT_EQ(r.code, 1) << r.out;
  EXPECT_NE(r.out.find("ENOMEM"), std::string::npos) << r.out;
}

TEST_F(SandboxTest, TrustedConfinesLess) {
  Listener l;
  std::vector<std::string> in_force;
  Result r = Run(Spec({"connect", std::to_string(l.port())}, TrustedProfile()), &in_force);
  EXPECT_EQ(r.code, 0) << "trusted keeps the host network: " << r.out;
  EXPECT_FALSE(Contains(in_force, "netns"));
  EXPECT_FALSE(Contains(in_force, "userns"));
  r = Run(Spec({"status"}, TrustedProfile()));
  EXPECT_NE(r.out.find("Uid:\t65534\t65534\t65534\t65534"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("CapEff:\t0000000000000000"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("Seccomp:\t2"), std::string::npos) << r.out;
  // Still no ptrace under trusted.
  r = Run(Spec({"ptrace"}, TrustedProfile()));
  EXPECT_EQ(r.code, 1) << r.out;
}

TEST_F(SandboxTest, KernelFdBecomesFd3AndNothingElseLeaks) {
  int p[2];
  ASSERT_EQ(pipe2(p, O_CLOEXEC), 0);
  UniqueFd rd(p[0]), wr(p[1]);
  int leak = open("/dev/null", O_RDONLY);  // not CLOEXEC: must still not leak
  LaunchSpec s = Spec({"fd3"});
  s.kernel_fd = wr.get();
  Result r = Run(s);
  EXPECT_EQ(r.code, 0) << r.out;
  wr.reset();
  char buf[16] = {};
  EXPECT_EQ(read(rd.get(), buf, sizeof buf - 1), 7);
  EXPECT_STREQ(buf, "via-fd3");

  s = Spec({"env", "AIKERNEL_FD"});
  int q[2];
  ASSERT_EQ(pipe2(q, O_CLOEXEC), 0);
  UniqueFd qr(q[0]), qw(q[1]);
  s.kernel_fd = qw.get();
  r = Run(s);
  EXPECT_EQ(r.out, "ok 3\n");
  r = Run(Spec({"fds"}));
  EXPECT_EQ(r.out, "ok 0 1 2 \n");
  r = Run(Spec({"fds"}, TrustedProfile()));
  EXPECT_EQ(r.out, "ok 0 1 2 \n");
  close(leak);
}

TEST_F(SandboxTest, WorkdirWithDotsAndTrailingSlash) {
  fs::create_directory(workdir_ + "/sub");
  LaunchSpec s = Spec({"write", workdir_ + "/out"});
  s.workdir = workdir_ + "/sub/.././/";
  Result r = Run(s);
  EXPECT_EQ(r.code, 0) << r.out;
  EXPECT_TRUE(fs::exists(workdir_ + "/out"));
}

// The umask is process-wide: a daemon thread that narrows it for an instant
// (it once did around bind) must not leave the sandbox's mount points
// unsearchable for the agent's uid.
TEST_F(SandboxTest, ParentUmaskDoesNotReachTheSandboxSetup) {
  // Nested, so the sandbox has to make the parents of its mount point.
  const std::string sub = workdir_ + "/nested";
  ASSERT_TRUE(fs::create_directory(sub));
  ASSERT_EQ(chown(sub.c_str(), kUid, kGid), 0);
  fs::copy_file(probe_, sub + "/probe");
  LaunchSpec s = Spec({"write", sub + "/out"});
  s.argv[0] = sub + "/probe";
  s.workdir = sub;
  const mode_t old = umask(0177);
  Result r = Run(s);
  umask(old);
  EXPECT_EQ(r.code, 0) << r.out;
  EXPECT_TRUE(fs::exists(sub + "/out"));
}

TEST_F(SandboxTest, HostnameAndExitCode) {
  LaunchSpec s = Spec({"hostname"});
  s.hostname = "agent-7";
  Result r = Run(s);
  EXPECT_EQ(r.out, "ok agent-7\n");
  r = Run(Spec({"exit", "42"}));
  EXPECT_EQ(r.code, 42);
  EXPECT_FALSE(r.signaled);
}

// pid 1 is the small static aik-agent-init (the set-up child shared the
// caller's memory and exec'd it), not a fork of the caller's image; under
// both builtin profiles (SetupFailureNamesTheStep covers the agent's exec
// failure, now reported by the init's child).
TEST_F(SandboxTest, InitIsTheSmallInitProgram) {
  for (const Profile& prof : {DefaultProfile(), TrustedProfile()}) {
    Result r = Run(Spec({"init"}, prof));
    EXPECT_EQ(r.out, "ok aik-agent-init\n") << prof.name;
    r = Run(Spec({"exit", "7"}, prof));
    EXPECT_EQ(r.code, 7) << prof.name;
  }
}

TEST_F(SandboxTest, AdoptChecksStartTime) {
  LaunchSpec s = Spec({"sleep", "30"});
  auto l = Launch(s);
  ASSERT_TRUE(l.ok()) << l.status();
  EXPECT_GT(l->start_time_ticks, 0u);
  auto fd = Adopt(l->pid, l->start_time_ticks);
  EXPECT_TRUE(fd.ok()) << fd.status();
  EXPECT_EQ(Adopt(l->pid, l->start_time_ticks + 1).status().code(), absl::StatusCode::kNotFound);
  ASSERT_TRUE(KillTree(*l).ok());
  ASSERT_TRUE(Reap(*l, true).ok());
  EXPECT_EQ(Adopt(l->pid, l->start_time_ticks).status().code(), absl::StatusCode::kNotFound);
}

// PR_SET_PDEATHSIG is cleared by every credential change: it must be armed
// after the uid drop to hold. It fires when the launching thread exits.
TEST_F(SandboxTest, DiesWithTheLaunchingThread) {
  for (Profile prof : {DefaultProfile(), TrustedProfile()}) {
    StatusOr<Launched> l = absl::UnknownError("not run");
    std::thread t([&] { l = Launch(Spec({"sleep", "60"}, prof)); });
    t.join();
    ASSERT_TRUE(l.ok()) << l.status();
    EXPECT_TRUE(ExitsWithin(l->pidfd.get(), 5000)) << prof.name << " outlived the thread that launched it";
    auto st = Reap(*l, true);
    ASSERT_TRUE(st.ok() && st->has_value());
    EXPECT_TRUE((*st)->signaled);
    EXPECT_EQ((*st)->code, SIGKILL);
  }
}

// The daemon is multithreaded (gRPC pools come and go). glibc's setresuid
// and friends broadcast to every thread glibc knows of, under a lock another
// thread may hold at clone time: the child must use raw system calls.
TEST_F(SandboxTest, LaunchWhileOtherThreadsChurn) {
  std::atomic<bool> stop{false};
  std::vector<std::thread> churn;
  for (int i = 0; i < 4; ++i)
    churn.emplace_back([&] {
      while (!stop) std::thread([] {}).join();
    });
  int ok = 0;
  for (int i = 0; i < 40; ++i) {
    Result r = Run(Spec({"exit", "0"}));
    if (r.code == 0) ++ok;
  }
  stop = true;
  for (auto& t : churn) t.join();
  EXPECT_EQ(ok, 40);
}

// Launches from several threads at once: each child briefly holds copies of
// the others' pipes; every launch must still succeed and see only its fds.
TEST_F(SandboxTest, ConcurrentLaunches) {
  std::atomic<int> ok{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 3; ++t)
    threads.emplace_back([&] {
      for (int i = 0; i < 10; ++i) {
        Result r = Run(Spec({"fds"}));
        if (r.code == 0 && r.out == "ok 0 1 2 \n") ++ok;
      }
    });
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok, 30);
}

TEST(SandboxProfiles, ByName) {
  EXPECT_EQ(ProfileByName("default")->name, "default");
  EXPECT_FALSE(ProfileByName("trusted")->new_net_ns);
  EXPECT_EQ(ProfileByName("nope").status().code(), absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace aikernel::sandbox
