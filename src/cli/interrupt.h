// InterruptToStop: turns Ctrl-C (SIGINT) and SIGTERM into a stop_token for
// the follow commands (`audit tail -f`, `agent logs -f`), so they end the
// stream and exit 0 instead of dying mid-write with 130.
//
// Contract: construct it before the first gRPC channel exists. Signals are
// blocked in the constructing thread, and threads inherit the mask, so every
// thread made afterwards (gRPC's included) leaves SIGINT/SIGTERM pending for
// the watcher, which takes them with sigtimedwait. The destructor joins the
// watcher and restores the old mask.
#pragma once

#include <pthread.h>
#include <signal.h>

#include <stop_token>
#include <thread>

namespace aikernel::cli {

class InterruptToStop {
 public:
  InterruptToStop() {
    sigemptyset(&set_);
    sigaddset(&set_, SIGINT);
    sigaddset(&set_, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set_, &old_);
    watcher_ = std::jthread([this](std::stop_token st) {
      // sigtimedwait with a tick, so the destructor's stop request is seen.
      timespec tick{0, 100'000'000};
      while (!st.stop_requested()) {
        if (sigtimedwait(&set_, nullptr, &tick) > 0) {
          source_.request_stop();
          return;
        }
      }
    });
  }
  ~InterruptToStop() {
    watcher_.request_stop();
    watcher_.join();
    pthread_sigmask(SIG_SETMASK, &old_, nullptr);
  }
  InterruptToStop(const InterruptToStop&) = delete;
  InterruptToStop& operator=(const InterruptToStop&) = delete;

  std::stop_token token() const { return source_.get_token(); }

 private:
  sigset_t set_;
  sigset_t old_;
  std::stop_source source_;
  std::jthread watcher_;
};

}  // namespace aikernel::cli
