// sandbox::LaunchThread: one thread that runs sandbox::Launch calls (or any
// closure) in order, so an Asio loop never waits for a child to exec.
//
// Contract
// - Post() is thread-safe; closures run one at a time on the thread, in the
//   order posted. A closure posts its result back to its loop itself.
// - The thread lives as long as the object: children launched with
//   LaunchSpec::die_with_parent get PR_SET_PDEATHSIG tied to the thread that
//   forked them, so keep the LaunchThread alive as long as the supervision.
// - Stop() (and the destructor) finishes the closure in progress, drops the
//   queued ones and joins; Post() after Stop() drops the closure.
#pragma once

#include <pthread.h>

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

namespace aikernel::sandbox {

class LaunchThread {
 public:
  // `name`: the thread's name (at most 15 characters), e.g. "aik-launch".
  explicit LaunchThread(std::string name = "aik-launch")
      : name_(std::move(name)), thread_([this] { Loop(); }) {}
  ~LaunchThread() { Stop(); }
  LaunchThread(const LaunchThread&) = delete;
  LaunchThread& operator=(const LaunchThread&) = delete;

  void Post(std::function<void()> fn) {
    std::lock_guard<std::mutex> l(mu_);
    if (stop_) return;
    queue_.push_back(std::move(fn));
    cv_.notify_one();
  }
  void Stop() {
    {
      std::lock_guard<std::mutex> l(mu_);
      stop_ = true;
      queue_.clear();
      cv_.notify_one();
    }
    if (thread_.joinable()) thread_.join();
  }

 private:
  void Loop() {
    pthread_setname_np(pthread_self(), name_.c_str());
    for (;;) {
      std::function<void()> fn;
      {
        std::unique_lock<std::mutex> l(mu_);
        cv_.wait(l, [&] { return stop_ || !queue_.empty(); });
        if (stop_) return;
        fn = std::move(queue_.front());
        queue_.pop_front();
      }
      fn();
    }
  }
  const std::string name_;  // before thread_: the thread reads it
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> queue_;  // GUARDED_BY(mu_)
  bool stop_ = false;                        // GUARDED_BY(mu_)
  std::thread thread_;
};

}  // namespace aikernel::sandbox
