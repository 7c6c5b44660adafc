// What the agent programs that aikerneld spawns in tests and benchmarks
// (tests/integration/agent_probe.cc, tests/net/msg_agent.cc,
// bench/net/bench_agent.cc) share: how they start and how they wait to be
// stopped. They print one line per fact, read by the test from the agent's
// log, so stdout is line-buffered; SIGTERM is blocked before any thread
// exists (the SDK's gRPC starts some), so every thread inherits the mask and
// WaitForTerm()'s sigwait() is its one taker. Header only; no state.
#pragma once

#include <pthread.h>
#include <signal.h>

#include <cstdio>

namespace aikernel::testing {

inline sigset_t TermSet() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  return set;
}

// First thing in main().
inline void StartAgentProgram() {
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  sigset_t term = TermSet();
  pthread_sigmask(SIG_BLOCK, &term, nullptr);
}

inline void WaitForTerm() {
  sigset_t term = TermSet();
  int sig = 0;
  sigwait(&term, &sig);
}

}  // namespace aikernel::testing
