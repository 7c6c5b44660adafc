// kernel::RateCounters: calls per (principal, action) in the last minute and
// the last hour, kept by the kernel and handed to policies as
// context.counters (step 2 of the dispatch path).
//
// Hit() counts one call at `now_s` and returns the counts of the calls made
// before it: the last 60 one-second buckets and the last 60 one-minute
// buckets (the current minute's bucket included), so "minute" is exact to the
// second and "hour" to the minute. Memory: one fixed-size window per key that
// has been seen (keys are principal ids and actions, both bounded).
// Thread-safe; keys are sharded over 16 mutexes.
#pragma once

#include <array>
#include <cstdint>
#include <mutex>
#include <string>
#include <unordered_map>

#include "kernel/authorizer.h"

namespace aikernel::kernel {

class RateCounters {
 public:
  RateCounts Hit(const std::string& principal, std::string_view action, int64_t now_s);
  // Counts without recording a call.
  RateCounts Peek(const std::string& principal, std::string_view action, int64_t now_s);

 private:
  struct Window {
    std::array<int64_t, 60> sec_stamp{}, sec_count{};
    std::array<int64_t, 60> min_stamp{}, min_count{};
    RateCounts Count(int64_t now_s) const;
    void Add(int64_t now_s);
  };
  struct Shard {
    std::mutex mu;
    std::unordered_map<std::string, Window> windows;
  };
  RateCounts Access(const std::string& principal, std::string_view action, int64_t now_s,
                    bool add);
  std::array<Shard, 16> shards_;
};

}  // namespace aikernel::kernel
