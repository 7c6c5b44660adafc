#include "integration/daemon_process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

extern char** environ;

namespace aikernel::testing {
namespace {

using Clock = std::chrono::steady_clock;

int PidfdOpen(pid_t pid) { return static_cast<int>(syscall(SYS_pidfd_open, pid, 0)); }

int RemainingMs(Clock::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
  return left.count() < 0 ? 0 : static_cast<int>(left.count());
}

// The environment for children: ours, minus anything that would steer the
// daemon or the SDK somewhere else, plus `extra`.
std::vector<std::string> ChildEnv(const std::vector<std::string>& extra) {
  std::vector<std::string> env;
  for (char** e = environ; *e != nullptr; ++e) {
    std::string kv = *e;
    if (kv.rfind("NOTIFY_SOCKET=", 0) == 0 || kv.rfind("AIKERNEL_", 0) == 0 ||
        kv.rfind("WATCHDOG_", 0) == 0 || kv.rfind("LISTEN_", 0) == 0) {
      continue;
    }
    env.push_back(kv);
  }
  for (const auto& kv : extra) env.push_back(kv);
  return env;
}

std::vector<char*> CStrings(std::vector<std::string>& v) {
  std::vector<char*> out;
  for (auto& s : v) out.push_back(s.data());
  out.push_back(nullptr);
  return out;
}

// posix_spawn with stdin from /dev/null and stdout/stderr on the given fds.
// Returns the pid or -errno.
pid_t Spawn(std::vector<std::string> argv, std::vector<std::string> env, int out_fd,
            int err_fd) {
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&fa, out_fd, 1);
  posix_spawn_file_actions_adddup2(&fa, err_fd, 2);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  // Children start with default signal dispositions and an empty mask, even
  // if a test blocked or ignored signals in this process.
  sigset_t all, none;
  sigfillset(&all);
  sigemptyset(&none);
  posix_spawnattr_setsigdefault(&attr, &all);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);
  std::vector<char*> cargv = CStrings(argv);
  std::vector<char*> cenv = CStrings(env);
  pid_t pid = -1;
  int rc = posix_spawn(&pid, cargv[0], &fa, &attr, cargv.data(), cenv.data());
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&attr);
  return rc == 0 ? pid : -rc;
}

std::string ReadFd(int fd) {
  std::string out;
  char buf[65536];
  off_t off = 0;
  for (;;) {
    ssize_t n = pread(fd, buf, sizeof(buf), off);
    if (n <= 0) break;
    out.append(buf, static_cast<size_t>(n));
    off += n;
  }
  return out;
}

// Waits for `pid` (via its pidfd) up to `timeout`; -2 on timeout.
int WaitPid(pid_t pid, int pidfd, std::chrono::milliseconds timeout) {
  if (pidfd >= 0) {
    pollfd p{pidfd, POLLIN, 0};
    int rc;
    do {
      rc = poll(&p, 1, static_cast<int>(timeout.count()));
    } while (rc < 0 && errno == EINTR);
    if (rc == 0) return -2;
  }
  int status = 0;
  pid_t r;
  do {
    r = waitpid(pid, &status, 0);
  } while (r < 0 && errno == EINTR);
  if (r != pid) return -1;
  return DecodeWaitStatus(status);
}

}  // namespace

// ---------------------------------------------------------------- TempDir

TempDir::TempDir() {
  const char* base = getenv("TMPDIR");
  std::string tmpl = std::string(base && *base ? base : "/tmp") + "/aik-it-XXXXXX";
  // Keep socket paths short (sun_path is 108 bytes).
  if (tmpl.size() > 60) tmpl = "/tmp/aik-it-XXXXXX";
  std::vector<char> buf(tmpl.begin(), tmpl.end());
  buf.push_back('\0');
  if (mkdtemp(buf.data()) == nullptr) {
    ADD_FAILURE() << "mkdtemp(" << tmpl << "): " << std::strerror(errno);
    return;
  }
  path_ = buf.data();
  chmod(path_.c_str(), 0755);
}

TempDir::~TempDir() {
  if (path_.empty()) return;
  if (getenv("AIK_KEEP_TEMP") != nullptr) {
    fprintf(stderr, "[harness] keeping %s (AIK_KEEP_TEMP)\n", path_.c_str());
    return;
  }
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

int DecodeWaitStatus(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

std::string DaemonConfig::Render() const {
  std::ostringstream o;
  o << "[node]\nname = \"" << node << "\"\n\n[daemon]\n" << daemon << "\n[audit]\n" << audit;
  if (!policy.empty()) o << "\n[policy]\n" << policy;
  if (!memory.empty()) o << "\n[memory]\n" << memory;
  return o.str();
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void WriteFile(const std::string& path, const std::string& data) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << data;
  if (!out) ADD_FAILURE() << "cannot write " << path;
}

// ---------------------------------------------------------- DaemonProcess

DaemonProcess::DaemonProcess(std::string dir, std::string socket)
    : dir_(std::move(dir)),
      socket_(socket.empty() ? dir_ + "/aikernel.sock" : std::move(socket)),
      config_path_(dir_ + "/aikerneld.toml"),
      state_dir_(dir_ + "/state"),
      notify_path_(dir_ + "/notify.sock") {
  notify_fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (notify_path_.size() >= sizeof(addr.sun_path)) {
    ADD_FAILURE() << "notify socket path too long: " << notify_path_;
    return;
  }
  std::memcpy(addr.sun_path, notify_path_.c_str(), notify_path_.size() + 1);
  unlink(notify_path_.c_str());
  if (notify_fd_ < 0 || bind(notify_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    ADD_FAILURE() << "cannot bind notify socket " << notify_path_ << ": " << std::strerror(errno);
  }
  WriteConfig(DaemonConfig{});
}

DaemonProcess::~DaemonProcess() {
  if (pid_ > 0) Kill();
  if (notify_fd_ >= 0) close(notify_fd_);
}

void DaemonProcess::WriteConfig(const DaemonConfig& config) { WriteConfigText(config.Render()); }
void DaemonProcess::WriteConfigText(const std::string& text) { WriteFile(config_path_, text); }

std::string DaemonProcess::Log() const { return log_path_.empty() ? "" : ReadFile(log_path_); }

::testing::AssertionResult DaemonProcess::Spawn(const std::vector<std::string>& args) {
  if (pid_ > 0) return ::testing::AssertionFailure() << "daemon already running (pid " << pid_ << ")";
  DrainNotifications();
  ++runs_;
  log_path_ = dir_ + "/daemon-" + std::to_string(runs_) + ".log";
  int log_fd = open(log_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (log_fd < 0) {
    return ::testing::AssertionFailure() << "open " << log_path_ << ": " << std::strerror(errno);
  }
  std::vector<std::string> argv = exec_prefix_;
  argv.push_back(AIK_AIKERNELD_PATH);
  argv.insert(argv.end(), args.begin(), args.end());
  pid_t pid = aikernel::testing::Spawn(argv, ChildEnv({"NOTIFY_SOCKET=" + notify_path_}), log_fd,
                                       log_fd);
  close(log_fd);
  if (pid < 0) {
    return ::testing::AssertionFailure() << "posix_spawn " << AIK_AIKERNELD_PATH << ": "
                                         << std::strerror(-pid);
  }
  pid_ = pid;
  pidfd_ = PidfdOpen(pid);
  return ::testing::AssertionSuccess();
}

::testing::AssertionResult DaemonProcess::Start(std::chrono::milliseconds timeout) {
  auto spawned = Spawn({"--foreground", "--config", config_path_, "--state-dir", state_dir_,
                        "--socket", socket_, "--policy-dir", policy_dir_});
  if (!spawned) return spawned;
  return WaitForNotification("READY=1", timeout);
}

DaemonProcess::Exit DaemonProcess::RunToExit(const std::vector<std::string>& args,
                                             std::chrono::milliseconds timeout) {
  Exit exit;
  if (!Spawn(args)) return exit;
  auto deadline = Clock::now() + timeout;
  // Note READY=1 if it comes, but do not stop waiting for the exit.
  for (;;) {
    pollfd p[2] = {{notify_fd_, POLLIN, 0}, {pidfd_, POLLIN, 0}};
    int rc = poll(p, 2, RemainingMs(deadline));
    if (rc < 0 && errno == EINTR) continue;
    if (rc <= 0) break;
    if (p[0].revents & POLLIN) {
      char buf[4096];
      ssize_t n = recv(notify_fd_, buf, sizeof(buf), 0);
      if (n > 0 && ("\n" + std::string(buf, n) + "\n").find("\nREADY=1\n") != std::string::npos) {
        exit.became_ready = true;
      }
    }
    if (p[1].revents & POLLIN) break;
  }
  exit.code = WaitExit(std::chrono::milliseconds(RemainingMs(deadline)));
  if (exit.code == -2) {
    exit.code = Kill();
    exit.code = -2;
  }
  exit.log = ReadFile(log_path_);
  return exit;
}

::testing::AssertionResult DaemonProcess::WaitForNotification(const std::string& line,
                                                              std::chrono::milliseconds timeout) {
  auto deadline = Clock::now() + timeout;
  std::string seen;
  for (;;) {
    pollfd p[2] = {{notify_fd_, POLLIN, 0}, {pidfd_, POLLIN, 0}};
    int rc = poll(p, pidfd_ >= 0 ? 2 : 1, RemainingMs(deadline));
    if (rc < 0 && errno == EINTR) continue;
    if (rc == 0) {
      return ::testing::AssertionFailure()
             << "aikerneld sent no " << line << " within " << timeout.count()
             << " ms (notifications seen: [" << seen << "])\n--- daemon log ---\n"
             << Log();
    }
    if (p[0].revents & POLLIN) {
      char buf[4096];
      ssize_t n = recv(notify_fd_, buf, sizeof(buf), 0);
      if (n > 0) {
        std::string msg(buf, static_cast<size_t>(n));
        seen += (seen.empty() ? "" : " | ") + msg;
        if (("\n" + msg + "\n").find("\n" + line + "\n") != std::string::npos) {
          return ::testing::AssertionSuccess();
        }
      }
      continue;
    }
    if (pidfd_ >= 0 && (p[1].revents & POLLIN)) {
      int code = WaitExit(0ms);
      return ::testing::AssertionFailure()
             << "aikerneld exited with status " << code << " before sending " << line
             << "\n--- daemon log ---\n"
             << ReadFile(log_path_);
    }
  }
}

void DaemonProcess::DrainNotifications() {
  char buf[4096];
  while (recv(notify_fd_, buf, sizeof(buf), MSG_DONTWAIT) > 0) {
  }
}

int DaemonProcess::WaitExit(std::chrono::milliseconds timeout) {
  if (pid_ <= 0) return -1;
  int code = WaitPid(pid_, pidfd_, timeout);
  if (code == -2) return -2;
  Reap();
  return code;
}

void DaemonProcess::Reap() {
  pid_ = -1;
  if (pidfd_ >= 0) close(pidfd_);
  pidfd_ = -1;
}

int DaemonProcess::Stop(std::chrono::milliseconds timeout) {
  if (pid_ <= 0) return -1;
  kill(pid_, SIGTERM);
  int code = WaitExit(timeout);
  if (code == -2) {
    ADD_FAILURE() << "aikerneld did not exit within " << timeout.count()
                  << " ms of SIGTERM; killing it\n--- daemon log ---\n"
                  << Log();
    Kill();
    return -2;
  }
  return code;
}

int DaemonProcess::Kill() {
  if (pid_ <= 0) return -1;
  kill(pid_, SIGKILL);
  return WaitExit(std::chrono::milliseconds(60000));
}

void DaemonProcess::Signal(int sig) {
  if (pid_ > 0) kill(pid_, sig);
}

// -------------------------------------------------------------- commands

std::string CmdResult::Describe() const {
  return "exit " + std::to_string(exit_code) + "\n--- stdout ---\n" + out + "--- stderr ---\n" +
         err;
}

CmdResult RunCommand(const std::vector<std::string>& argv, std::chrono::milliseconds timeout) {
  CmdResult r;
  int out = memfd_create("stdout", MFD_CLOEXEC);
  int err = memfd_create("stderr", MFD_CLOEXEC);
  if (out < 0 || err < 0) {
    r.err = std::string("memfd_create: ") + std::strerror(errno);
    return r;
  }
  pid_t pid = Spawn(argv, ChildEnv({}), out, err);
  if (pid < 0) {
    r.err = "posix_spawn " + argv[0] + ": " + std::strerror(-pid);
  } else {
    int pidfd = PidfdOpen(pid);
    r.exit_code = WaitPid(pid, pidfd, timeout);
    if (r.exit_code == -2) {
      kill(pid, SIGKILL);
      WaitPid(pid, -1, 0ms);
      r.exit_code = -2;
    }
    if (pidfd >= 0) close(pidfd);
    r.out = ReadFd(out);
    r.err = ReadFd(err);
    if (r.exit_code == -2) r.err += "\n[harness] timed out after " + std::to_string(timeout.count()) + " ms; killed\n";
  }
  close(out);
  close(err);
  return r;
}

CmdResult RunAictl(const std::vector<std::string>& args, const AictlOptions& options) {
  std::vector<std::string> argv;
  if (options.as_nobody) {
    argv = {"/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--"};
  }
  argv.push_back(AIK_AICTL_PATH);
  argv.insert(argv.end(), args.begin(), args.end());
  return RunCommand(argv);
}

// ------------------------------------------------------------ Subprocess

Subprocess::Subprocess(const std::vector<std::string>& argv) {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) {
    ADD_FAILURE() << "pipe2: " << std::strerror(errno);
    return;
  }
  err_fd_ = memfd_create("stderr", MFD_CLOEXEC);
  pid_t pid = Spawn(argv, ChildEnv({}), fds[1], err_fd_);
  close(fds[1]);
  out_fd_ = fds[0];
  if (pid < 0) {
    ADD_FAILURE() << "posix_spawn " << argv[0] << ": " << std::strerror(-pid);
    return;
  }
  pid_ = pid;
}

Subprocess::~Subprocess() {
  if (pid_ > 0) Kill();
  if (out_fd_ >= 0) close(out_fd_);
  if (err_fd_ >= 0) close(err_fd_);
}

bool Subprocess::ReadLine(std::string* line, std::chrono::milliseconds timeout) {
  auto deadline = Clock::now() + timeout;
  for (;;) {
    size_t nl = buffer_.find('\n');
    if (nl != std::string::npos) {
      *line = buffer_.substr(0, nl);
      buffer_.erase(0, nl + 1);
      return true;
    }
    pollfd p{out_fd_, POLLIN, 0};
    int rc = poll(&p, 1, RemainingMs(deadline));
    if (rc < 0 && errno == EINTR) continue;
    if (rc <= 0) return false;
    char buf[4096];
    ssize_t n = read(out_fd_, buf, sizeof(buf));
    if (n <= 0) return false;
    buffer_.append(buf, static_cast<size_t>(n));
  }
}

int Subprocess::Kill() {
  if (pid_ <= 0) return -1;
  kill(pid_, SIGKILL);
  int code = WaitPid(pid_, -1, 0ms);
  pid_ = -1;
  return code;
}

std::string Subprocess::Stderr() const { return err_fd_ >= 0 ? ReadFd(err_fd_) : ""; }

}  // namespace aikernel::testing
