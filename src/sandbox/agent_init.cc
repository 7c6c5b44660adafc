// aik-agent-init: pid 1 of an agent's pid namespace (sandbox::Launch, profiles
// with a pid namespace). Launch's set-up child builds the sandbox while
// sharing the daemon's memory (CLONE_VM, so the daemon's address space is
// never copied), then execs this small static program as the namespace's
// init:
//
//   aik-agent-init ERRFD d|- EXE ARGV0 ARGS...   (environment: the agent's)
//
// fds 0-2 (and 3, AIKERNEL_FD) are already the agent's; ERRFD is the error
// pipe (sandbox/child_common.h); every other fd is close-on-exec; all signals
// are blocked; the working directory, rlimits, credentials, Landlock and
// seccomp are in force. It forks the agent, which (with `d`) arms
// PR_SET_PDEATHSIG, unblocks signals and execs EXE, reporting a failure on
// ERRFD. The init itself closes every fd, forwards SIGTERM, SIGINT, SIGHUP,
// SIGQUIT, SIGUSR1, SIGUSR2 and SIGCONT to the agent, reaps orphans, and exits
// with the agent's exit code, or 128 + signal when the agent was killed. When
// it exits the kernel kills whatever is left in the namespace.
//
// Kept free of anything that allocates or starts threads before the fork; it
// is linked statically so it maps a few pages instead of the daemon's image.
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sandbox/child_common.h"

namespace {

int ParseFd(const char* s) {
  int v = 0;
  if (*s == '\0') return -1;
  for (; *s; ++s) {
    if (*s < '0' || *s > '9' || v > 100000) return -1;
    v = v * 10 + (*s - '0');
  }
  return v;
}

}  // namespace

int main(int argc, char** argv) {
  using aikernel::sandbox::internal::ReportAndExit;
  if (argc < 5) return 127;
  const int err_fd = ParseFd(argv[1]);
  const bool die_with_parent = argv[2][0] == 'd';
  const char* exe = argv[3];
  if (err_fd < 0) return 127;

  long agent = syscall(SYS_clone, SIGCHLD, 0, nullptr, nullptr, 0);
  if (agent < 0) ReportAndExit(err_fd, "fork agent", "", errno);
  if (agent == 0) {
    if (die_with_parent) prctl(PR_SET_PDEATHSIG, SIGKILL);
    // The error pipe closes at exec: the daemon's EOF means the agent runs.
    if (syscall(SYS_fcntl, err_fd, F_SETFD, FD_CLOEXEC) < 0)
      ReportAndExit(err_fd, "close-on-exec error pipe", "", errno);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    execve(exe, argv + 4, environ);
    ReportAndExit(err_fd, "execve", exe, errno);
  }

  aikernel::sandbox::internal::RunInitLoop(static_cast<pid_t>(agent));
}
