// kernel::RateCounters: calls (and request bytes) per (principal, action) in
// the last minute and the last hour, and over the counter's lifetime, kept by
// the kernel for admission (kernel/quota.h) and handed to policies as
// context.counters (step 2 of the dispatch path).
//
// Hit() counts one call at `now_s` and returns the counts of the calls made
// before it: the last 60 one-second buckets and the last 60 one-minute
// buckets (the current minute's bucket included), so "minute" is exact to the
// second and "hour" to the minute. Admit() does the same for a principal with
// quotas: it also counts the principal's calls over all actions, and lets a
// check decide, under the same lock, whether the call is counted at all
// (refused calls are not), so concurrent calls cannot overrun a quota.
// Memory: one fixed-size window per key that has been seen (keys are
// principal ids and actions, both bounded). Thread-safe; keys are sharded
// over 16 mutexes by principal.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <unordered_map>

#include "kernel/authorizer.h"

namespace aikernel::kernel {

// The counts admission looks at: this action's and all actions'.
struct Usage {
  RateCounts action;
  RateCounts all;
};

class RateCounters {
 public:
  RateCounts Hit(const std::string& principal, std::string_view action, int64_t now_s);
  // Counts without recording a call.
  RateCounts Peek(const std::string& principal, std::string_view action, int64_t now_s);
  // Calls `admit` with the usage before this call (both windows); counts the
  // call (1 call, `bytes` bytes, in both) only if it returns true. Returns the
  // usage before the call.
  Usage Admit(const std::string& principal, std::string_view action, int64_t now_s,
              int64_t bytes, const std::function<bool(const Usage&)>& admit, bool* admitted);

 private:
  struct Window {
    std::array<int64_t, 60> sec_stamp{}, sec_count{}, sec_bytes{};
    std::array<int64_t, 60> min_stamp{}, min_count{}, min_bytes{};
    int64_t total = 0;
    RateCounts Count(int64_t now_s) const;
    void Add(int64_t now_s, int64_t bytes);
  };
  struct Shard {
    std::mutex mu;
    std::unordered_map<std::string, Window> windows;
  };
  static std::string Key(const std::string& principal, std::string_view action);
  Shard& ShardOf(const std::string& principal);
  std::array<Shard, 16> shards_;
};

}  // namespace aikernel::kernel
