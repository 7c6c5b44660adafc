#include "kernel/rate_counters.h"

namespace aikernel::kernel {

RateCounts RateCounters::Window::Count(int64_t now_s) const {
  RateCounts c;
  const int64_t now_m = now_s / 60;
  for (size_t i = 0; i < 60; ++i) {
    // A bucket counts if its second is within (now-60, now].
    if (sec_count[i] != 0 && sec_stamp[i] > now_s - 60 && sec_stamp[i] <= now_s) {
      c.minute += sec_count[i];
      c.bytes_minute += sec_bytes[i];
    }
    if (min_count[i] != 0 && min_stamp[i] > now_m - 60 && min_stamp[i] <= now_m) {
      c.hour += min_count[i];
      c.bytes_hour += min_bytes[i];
    }
  }
  c.total = total;
  return c;
}

void RateCounters::Window::Add(int64_t now_s, int64_t bytes) {
  size_t si = static_cast<size_t>(now_s % 60);
  if (sec_stamp[si] != now_s) {
    sec_stamp[si] = now_s;
    sec_count[si] = 0;
    sec_bytes[si] = 0;
  }
  ++sec_count[si];
  sec_bytes[si] += bytes;
  const int64_t now_m = now_s / 60;
  size_t mi = static_cast<size_t>(now_m % 60);
  if (min_stamp[mi] != now_m) {
    min_stamp[mi] = now_m;
    min_count[mi] = 0;
    min_bytes[mi] = 0;
  }
  ++min_count[mi];
  min_bytes[mi] += bytes;
  ++total;
}

std::string RateCounters::Key(const std::string& principal, std::string_view action) {
  std::string key;
  key.reserve(principal.size() + action.size() + 1);
  key.append(principal).push_back('\0');
  key.append(action);
  return key;
}

// By principal, so a principal's windows (one per action and the all-actions
// one) share a lock and Admit() sees them consistently.
RateCounters::Shard& RateCounters::ShardOf(const std::string& principal) {
  return shards_[std::hash<std::string>{}(principal) % shards_.size()];
}

RateCounts RateCounters::Hit(const std::string& principal, std::string_view action,
                             int64_t now_s) {
  const std::string key = Key(principal, action);
  Shard& shard = ShardOf(principal);
  std::lock_guard<std::mutex> lock(shard.mu);
  Window& w = shard.windows[key];
  RateCounts c = w.Count(now_s);
  w.Add(now_s, 0);
  return c;
}

RateCounts RateCounters::Peek(const std::string& principal, std::string_view action,
                              int64_t now_s) {
  const std::string key = Key(principal, action);
  Shard& shard = ShardOf(principal);
  std::lock_guard<std::mutex> lock(shard.mu);
  auto it = shard.windows.find(key);
  return it == shard.windows.end() ? RateCounts{} : it->second.Count(now_s);
}

Usage RateCounters::Admit(const std::string& principal, std::string_view action, int64_t now_s,
                          int64_t bytes, const std::function<bool(const Usage&)>& admit,
                          bool* admitted) {
  // "*" is not an action id (those are dotted lower-case names), so the
  // all-actions window cannot collide with one.
  const std::string key = Key(principal, action), all_key = Key(principal, "*");
  Shard& shard = ShardOf(principal);
  std::lock_guard<std::mutex> lock(shard.mu);
  Window& w = shard.windows[key];
  Window& all = shard.windows[all_key];
  Usage u{w.Count(now_s), all.Count(now_s)};
  *admitted = admit(u);
  if (*admitted) {
    w.Add(now_s, bytes);
    all.Add(now_s, bytes);
  }
  return u;
}

}  // namespace aikernel::kernel
