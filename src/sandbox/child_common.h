// Code run on the child side of sandbox::Launch, shared by launch.cc (the
// set-up child, and the reader of its reports) and agent_init.cc (the
// pid-namespace init, which forks and execs the agent). Everything here is
// async-signal-safe: no allocation, no locks.
//
// ChildReport: what a child reports over the error pipe when a step before
// the agent's execve fails: one fixed-size record, written with a single
// write(2) (atomic for a pipe, below PIPE_BUF), then _exit(127).
//
// RunInitLoop: the pid-namespace init's life once the agent is forked.
#pragma once

#include <errno.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

namespace aikernel::sandbox::internal {

struct ChildReport {
  char step[48];
  char detail[200];
  int err;
};

inline void CopyReportText(char* dst, unsigned long cap, const char* src) {
  unsigned long i = 0;
  if (src != nullptr)
    for (; i + 1 < cap && src[i] != '\0'; ++i) dst[i] = src[i];
  dst[i] = '\0';
}

// Writes the record to `fd` and exits the process with 127.
[[noreturn]] inline void ReportAndExit(int fd, const char* step, const char* detail, int err) {
  ChildReport r;
  CopyReportText(r.step, sizeof r.step, step);
  CopyReportText(r.detail, sizeof r.detail, detail);
  r.err = err;
  ssize_t n = write(fd, &r, sizeof r);
  (void)n;
  _exit(127);
}

inline volatile pid_t g_init_agent_pid = 0;

inline void ForwardToAgent(int sig) {
  if (g_init_agent_pid > 0) kill(g_init_agent_pid, sig);
}

// Closes every fd, forwards SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2
// and SIGCONT to `agent`, reaps every orphan, and exits with the agent's exit
// code, or 128 + signal when it was killed by one. Signals must be blocked on
// entry (they are unblocked once the handlers are in place).
[[noreturn]] inline void RunInitLoop(pid_t agent) {
  g_init_agent_pid = agent;
  syscall(SYS_close_range, 0, ~0U, 0);
  struct sigaction sa {};
  sa.sa_handler = ForwardToAgent;
  sa.sa_flags = SA_RESTART;
  static const int kForwarded[] = {SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGCONT};
  for (int sig : kForwarded) sigaction(sig, &sa, nullptr);
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);
  for (;;) {
    int st = 0;
    pid_t w = wait4(-1, &st, 0, nullptr);
    if (w == agent) {
      if (WIFEXITED(st)) _exit(WEXITSTATUS(st));
      if (WIFSIGNALED(st)) _exit(128 + WTERMSIG(st));
    } else if (w < 0 && errno == ECHILD) {
      _exit(127);
    }
  }
}

}  // namespace aikernel::sandbox::internal
