// kernel::ApprovalQueue: calls parked for an operator's decision (step 4 of
// the dispatch path).
//
// When a call is allowed by a permit annotated @approval("reason"), the
// kernel Park()s it and its gRPC thread Wait()s until an operator approves or
// denies it (Decide, from the Admin approval syscalls), the timeout passes
// (a deny), or the daemon shuts down (CancelAll: a deny). Ids count from 1 and
// are never reused within a daemon run. Thread-safe.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "common/status.h"

namespace aikernel::kernel {

struct PendingApproval {
  uint64_t id = 0;
  std::string principal;  // canonical principal id of the caller
  std::string action;
  std::string resource;
  std::string reason;                 // the @approval annotation
  std::vector<std::string> rule_ids;  // the permits that decided it
  int64_t requested_ns = 0;           // realtime
  int64_t deadline_ns = 0;            // realtime
};

struct ApprovalOutcome {
  enum class Kind { kApproved, kDenied, kTimedOut, kCancelled };
  Kind kind = Kind::kTimedOut;
  std::string by;      // the deciding operator's principal id
  std::string reason;  // the operator's reason (deny)
};

class ApprovalQueue {
 public:
  explicit ApprovalQueue(std::chrono::milliseconds timeout) : timeout_(timeout) {}

  // Registers a pending call; fills id, requested_ns and deadline_ns.
  uint64_t Park(PendingApproval* p, int64_t now_ns);
  // Blocks until `id` is decided, times out or is cancelled; forgets it.
  ApprovalOutcome Wait(uint64_t id);

  std::vector<PendingApproval> List() const;
  // NOT_FOUND if `id` is not waiting (unknown, already decided, timed out).
  Status Decide(uint64_t id, bool approve, const std::string& by, const std::string& reason);
  // Every waiting call is denied as cancelled; later Parks are too.
  void CancelAll();

  void SetTimeout(std::chrono::milliseconds timeout);
  std::chrono::milliseconds timeout() const;

 private:
  struct Entry {
    PendingApproval info;
    bool decided = false;
    ApprovalOutcome outcome;
    std::chrono::steady_clock::time_point deadline;
  };
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::map<uint64_t, Entry> entries_;  // GUARDED_BY(mu_)
  uint64_t next_id_ = 1;               // GUARDED_BY(mu_)
  bool cancelled_ = false;             // GUARDED_BY(mu_)
  std::chrono::milliseconds timeout_;  // GUARDED_BY(mu_)
};

}  // namespace aikernel::kernel
