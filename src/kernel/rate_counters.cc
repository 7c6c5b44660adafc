#include "kernel/rate_counters.h"

#include <functional>

namespace aikernel::kernel {

RateCounts RateCounters::Window::Count(int64_t now_s) const {
  RateCounts c;
  for (size_t i = 0; i < 60; ++i) {
    // A bucket counts if its second is within (now-60, now].
    if (sec_count[i] != 0 && sec_stamp[i] > now_s - 60 && sec_stamp[i] <= now_s) {
      c.minute += sec_count[i];
    }
    const int64_t now_m = now_s / 60;
    if (min_count[i] != 0 && min_stamp[i] > now_m - 60 && min_stamp[i] <= now_m) {
      c.hour += min_count[i];
    }
  }
  return c;
}

void RateCounters::Window::Add(int64_t now_s) {
  size_t si = static_cast<size_t>(now_s % 60);
  if (sec_stamp[si] != now_s) {
    sec_stamp[si] = now_s;
    sec_count[si] = 0;
  }
  ++sec_count[si];
  const int64_t now_m = now_s / 60;
  size_t mi = static_cast<size_t>(now_m % 60);
  if (min_stamp[mi] != now_m) {
    min_stamp[mi] = now_m;
    min_count[mi] = 0;
  }
  ++min_count[mi];
}

RateCounts RateCounters::Access(const std::string& principal, std::string_view action,
                                int64_t now_s, bool add) {
  std::string key;
  key.reserve(principal.size() + action.size() + 1);
  key.append(principal).push_back('\0');
  key.append(action);
  Shard& shard = shards_[std::hash<std::string>{}(key) % shards_.size()];
  std::lock_guard<std::mutex> lock(shard.mu);
  if (!add) {
    auto it = shard.windows.find(key);
    return it == shard.windows.end() ? RateCounts{} : it->second.Count(now_s);
  }
  Window& w = shard.windows[key];
  RateCounts c = w.Count(now_s);
  w.Add(now_s);
  return c;
}

RateCounts RateCounters::Hit(const std::string& principal, std::string_view action,
                             int64_t now_s) {
  return Access(principal, action, now_s, true);
}

RateCounts RateCounters::Peek(const std::string& principal, std::string_view action,
                              int64_t now_s) {
  return Access(principal, action, now_s, false);
}

}  // namespace aikernel::kernel
