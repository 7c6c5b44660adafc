// Test harness: the real aikerneld and aictl as subprocesses.
//
// TempDir is a mkdtemp directory (mode 0755 so a test can let uid 65534
// reach a socket inside it), removed with everything in it on destruction.
//
// DaemonProcess runs the real aikerneld binary (AIK_AIKERNELD_PATH) on a
// directory: <dir>/aikerneld.toml, <dir>/state, <dir>/aikernel.sock. It
// creates an AF_UNIX SOCK_DGRAM socket <dir>/notify.sock, passes it as
// NOTIFY_SOCKET, and Start() returns once the daemon sent "READY=1" (poll()
// on that socket and on the child's pidfd; no sleeps). Each run's stdout and
// stderr go to <dir>/daemon-<n>.log, which Log() returns so a failing test can
// show it. Stop() sends SIGTERM and reaps the child; Kill() sends SIGKILL.
// Start() again reuses the same state directory (a restart). The destructor
// SIGKILLs a daemon still running. Not thread-safe: use from the test thread.
//
// RunCommand/RunAictl run a command to completion capturing stdout, stderr
// and the exit code; Subprocess runs one in the background with its stdout
// on a pipe (for `aictl audit tail -f`). Children are started with
// posix_spawn: nothing runs between fork and exec in this (gRPC-using)
// process.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace aikernel::testing {

using namespace std::chrono_literals;

class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// Exit status as a shell shows it: the exit code, or 128 + signal number.
// -1 if the child could not be waited for.
int DecodeWaitStatus(int status);

// The pieces of aikerneld.toml a test sets; Render() writes a valid file.
struct DaemonConfig {
  std::string node = "it-node";
  std::string daemon;  // extra lines for [daemon], e.g. "socket_group = \"65534\"\n"
  std::string audit;   // extra lines for [audit]
  std::string policy;  // extra lines for [policy], e.g. "approval_timeout_ms = 500\n"
  std::string memory;  // extra lines for [memory]
  std::string Render() const;
  static DaemonConfig With(std::string daemon_lines, std::string audit_lines = "") {
    DaemonConfig c;
    c.daemon = std::move(daemon_lines);
    c.audit = std::move(audit_lines);
    return c;
  }
};

class DaemonProcess {
 public:
  // `dir` must exist. `socket`: empty means <dir>/aikernel.sock.
  explicit DaemonProcess(std::string dir, std::string socket = "");
  ~DaemonProcess();
  DaemonProcess(const DaemonProcess&) = delete;
  DaemonProcess& operator=(const DaemonProcess&) = delete;

  // The policy store Start() passes as --policy-dir. Default: the shipped
  // one, AIK_SOURCE_DIR/config (config/policies/default.cedar).
  void set_policy_dir(std::string dir) { policy_dir_ = std::move(dir); }
  const std::string& policy_dir() const { return policy_dir_; }
  // Runs aikerneld through this command prefix, which must exec it in
  // place (same pid), e.g. {"/usr/bin/nsenter", "--net=/run/netns/x", "--"}
  // to start it in a network namespace.
  void set_exec_prefix(std::vector<std::string> prefix) { exec_prefix_ = std::move(prefix); }

  void WriteConfig(const DaemonConfig& config);
  void WriteConfigText(const std::string& text);

  // Spawns aikerneld --foreground --config <config_path> --state-dir
  // <state_dir> --socket <socket> --policy-dir <policy_dir> and waits up to `timeout` for READY=1.
  // Fails (with the daemon's log) if it exits first or never gets ready.
  ::testing::AssertionResult Start(std::chrono::milliseconds timeout = 60s);

  // For start-up failures: spawns aikerneld with exactly `args` (after the
  // binary name) and waits for it to exit. `became_ready` says whether it
  // sent READY=1 first.
  struct Exit {
    int code = -1;
    bool became_ready = false;
    std::string log;
  };
  Exit RunToExit(const std::vector<std::string>& args, std::chrono::milliseconds timeout = 60s);

  // SIGTERM, then waits up to `timeout`; returns the exit status
  // (DecodeWaitStatus). On timeout SIGKILLs, reaps and returns -2.
  int Stop(std::chrono::milliseconds timeout = 60s);
  // Waits up to `timeout` for the daemon to exit by itself (after a signal
  // the test sent); returns the decoded status, or -2 (still running).
  int WaitForExit(std::chrono::milliseconds timeout = 60s) { return WaitExit(timeout); }
  // SIGKILL and reap. Returns the decoded status (137 expected).
  int Kill();
  // Sends `sig` to the running daemon.
  void Signal(int sig);
  // Drops notifications already received (call before an action whose
  // notification you then wait for).
  void DrainNotifications();
  // Waits for a datagram containing the line `line` (e.g. "READY=1").
  ::testing::AssertionResult WaitForNotification(const std::string& line,
                                                 std::chrono::milliseconds timeout = 60s);

  bool running() const { return pid_ > 0; }
  pid_t pid() const { return pid_; }
  // This run's stdout+stderr so far.
  std::string Log() const;

  const std::string& dir() const { return dir_; }
  const std::string& socket() const { return socket_; }
  const std::string& config_path() const { return config_path_; }
  const std::string& state_dir() const { return state_dir_; }
  std::string audit_db() const { return state_dir_ + "/audit.db"; }
  std::string pubkey() const { return state_dir_ + "/keys/node.pub"; }

 private:
  ::testing::AssertionResult Spawn(const std::vector<std::string>& args);
  // Waits for the child to exit up to `timeout`; returns decoded status or
  // -2 on timeout (child left running).
  int WaitExit(std::chrono::milliseconds timeout);
  void Reap();

  std::string dir_, socket_, config_path_, state_dir_, notify_path_, log_path_;
  std::string policy_dir_ = AIK_SOURCE_DIR "/config";
  std::vector<std::string> exec_prefix_;
  int notify_fd_ = -1;
  pid_t pid_ = -1;
  int pidfd_ = -1;
  int runs_ = 0;
};

struct CmdResult {
  int exit_code = -1;  // DecodeWaitStatus; -2: timed out (killed)
  std::string out;
  std::string err;
  // "exit 3\n--- stdout ---\n...\n--- stderr ---\n..." for failure messages.
  std::string Describe() const;
};

// Runs argv[0] (a path) with argv to completion, stdin /dev/null.
CmdResult RunCommand(const std::vector<std::string>& argv, std::chrono::milliseconds timeout = 60s);

struct AictlOptions {
  // Run as uid/gid 65534 with no supplementary groups (via setpriv).
  bool as_nobody = false;
};
// Runs the real aictl with `args`.
CmdResult RunAictl(const std::vector<std::string>& args, const AictlOptions& options = {});

constexpr uid_t kNobody = 65534;

// A background child with stdout on a pipe and stderr to a file.
class Subprocess {
 public:
  explicit Subprocess(const std::vector<std::string>& argv);
  ~Subprocess();  // SIGKILLs and reaps if still running
  bool started() const { return pid_ > 0; }
  pid_t pid() const { return pid_; }
  // Reads until a full line arrives or `timeout`; false on timeout or EOF.
  bool ReadLine(std::string* line, std::chrono::milliseconds timeout = 30s);
  // SIGKILL + reap; returns the decoded status.
  int Kill();
  std::string Stderr() const;

 private:
  pid_t pid_ = -1;
  int out_fd_ = -1;
  int err_fd_ = -1;
  std::string buffer_;
};

// Whole-file helpers.
std::string ReadFile(const std::string& path);
void WriteFile(const std::string& path, const std::string& data);

}  // namespace aikernel::testing
