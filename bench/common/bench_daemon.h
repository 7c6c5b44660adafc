// BenchDaemon: the real aikerneld as a subprocess for benchmarks that
// measure the full path (bench_dispatch, bench_memory). Header-only.
//
// The constructor writes `config_toml` to <dir>/aikerneld.toml, starts the
// binary with --state-dir <dir>/state, --socket <dir>/aikernel.sock and
// `extra_args` (e.g. --policy-dir) (stderr to <dir>/daemon.log), and returns once the daemon sent READY=1 on
// its NOTIFY_SOCKET (exits the benchmark with a message if it never does).
// The destructor sends SIGTERM and reaps it. Not thread-safe.
#pragma once

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>
#include <vector>

extern char** environ;

namespace aikernel::bench {

[[noreturn]] inline void DieWith(const std::string& what) {
  std::fprintf(stderr, "bench: %s\n", what.c_str());
  std::exit(1);
}

inline sockaddr_un UnixAddr(const std::string& path) {
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  if (path.size() >= sizeof(a.sun_path)) DieWith("socket path too long: " + path);
  std::memcpy(a.sun_path, path.c_str(), path.size() + 1);
  return a;
}

class BenchDaemon {
 public:
  BenchDaemon(const std::string& binary, const std::string& dir, const std::string& config_toml,
              const std::vector<std::string>& extra_args = {})
      : socket_(dir + "/aikernel.sock") {
    std::filesystem::create_directories(dir);
    std::ofstream(dir + "/aikerneld.toml") << config_toml;
    const std::string notify = dir + "/notify.sock";
    int nfd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_un na = UnixAddr(notify);
    unlink(notify.c_str());
    if (bind(nfd, reinterpret_cast<sockaddr*>(&na), sizeof(na)) != 0) {
      DieWith("bind notify socket " + notify);
    }
    std::vector<std::string> args = {binary,      "--foreground", "--config",
                                     dir + "/aikerneld.toml",     "--state-dir",
                                     dir + "/state", "--socket",  socket_};
    args.insert(args.end(), extra_args.begin(), extra_args.end());
    std::vector<std::string> env;
    for (char** e = environ; *e; ++e) {
      if (std::strncmp(*e, "NOTIFY_SOCKET=", 14) != 0) env.emplace_back(*e);
    }
    env.push_back("NOTIFY_SOCKET=" + notify);
    std::vector<char*> argv, envp;
    for (auto& s : args) argv.push_back(s.data());
    argv.push_back(nullptr);
    for (auto& s : env) envp.push_back(s.data());
    envp.push_back(nullptr);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    const std::string log = dir + "/daemon.log";
    posix_spawn_file_actions_addopen(&fa, 2, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (posix_spawn(&pid_, binary.c_str(), &fa, nullptr, argv.data(), envp.data()) != 0) {
      DieWith("cannot start " + binary);
    }
    posix_spawn_file_actions_destroy(&fa);
    int pidfd = static_cast<int>(syscall(SYS_pidfd_open, pid_, 0));
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    for (;;) {
      pollfd p[2] = {{nfd, POLLIN, 0}, {pidfd, POLLIN, 0}};
      int left = static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                      deadline - std::chrono::steady_clock::now())
                                      .count());
      if (left <= 0 || poll(p, 2, left) <= 0) DieWith("aikerneld did not get ready; see " + log);
      if (p[1].revents) DieWith("aikerneld exited at start-up; see " + log);
      char buf[1024];
      ssize_t n = recv(nfd, buf, sizeof(buf), 0);
      if (n > 0 && ("\n" + std::string(buf, n) + "\n").find("\nREADY=1\n") != std::string::npos) {
        break;
      }
    }
    close(pidfd);
    close(nfd);
  }
  ~BenchDaemon() {
    kill(pid_, SIGTERM);
    int st = 0;
    waitpid(pid_, &st, 0);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
      std::fprintf(stderr, "bench: aikerneld exited with status %d\n", st);
    }
  }
  BenchDaemon(const BenchDaemon&) = delete;
  BenchDaemon& operator=(const BenchDaemon&) = delete;
  const std::string& socket() const { return socket_; }
  pid_t pid() const { return pid_; }

 private:
  std::string socket_;
  pid_t pid_ = -1;
};

// CPU time (user + system, all threads) `pid` has used so far, in seconds,
// from /proc/PID/stat (what perf stat's task-clock counts, at tick
// resolution); -1 if it cannot be read.
inline double CpuSeconds(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  // Fields after the command name (which may hold spaces) start past ')'.
  size_t at = stat.rfind(')');
  if (at == std::string::npos) return -1;
  std::istringstream rest(stat.substr(at + 2));
  std::string field;
  double utime = 0, stime = 0;
  for (int i = 3; i <= 15 && rest >> field; ++i) {
    if (i == 14) utime = std::stod(field);
    if (i == 15) stime = std::stod(field);
  }
  return (utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

}  // namespace aikernel::bench
