// agents scheduling math: the run queue (priority with aging), restart
// backoff, and the crash-loop window. Pure and deterministic (time is passed
// in), so tests/agents checks them without a daemon. Not thread-safe; the
// Supervisor uses them on its loop.
#pragma once

#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <vector>

namespace aikernel::agents {

// Effective priority of a waiting entry: its priority plus one for every
// `aging_interval_ns` it has waited. So an entry of priority p waiting
// behind a stream of newer priority-q entries (q > p) overtakes them after
// at most (q - p + 1) aging intervals: nothing waits forever.
int64_t EffectivePriority(int64_t priority, int64_t enqueued_ns, int64_t now_ns,
                          int64_t aging_interval_ns);

class RunQueue {
 public:
  struct Entry {
    std::string name;
    int64_t priority = 0;
    int64_t memory_bytes = 0;
    int64_t enqueued_ns = 0;
    uint64_t seq = 0;  // FIFO among equals
  };

  explicit RunQueue(int64_t aging_interval_ns) : aging_ns_(aging_interval_ns) {}

  // Adds `name` (replacing an entry of the same name).
  void Push(const std::string& name, int64_t priority, int64_t memory_bytes, int64_t now_ns);
  bool Remove(const std::string& name);
  bool Contains(const std::string& name) const;
  size_t size() const { return entries_.size(); }

  // Entries in the order they would start at `now_ns`: highest effective
  // priority first, then earliest enqueued.
  std::vector<Entry> Ordered(int64_t now_ns) const;
  // 1-based position of `name` in Ordered(now_ns); 0 if absent.
  uint32_t Position(const std::string& name, int64_t now_ns) const;

  // Removes and returns the first entry in order that `fits` admits. The
  // head is never skipped for a smaller one behind it (no starvation of
  // large agents): if the head does not fit, nothing starts.
  template <typename Fits>
  std::optional<Entry> PopIf(int64_t now_ns, Fits fits) {
    std::vector<Entry> order = Ordered(now_ns);
    if (order.empty() || !fits(order.front())) return std::nullopt;
    Remove(order.front().name);
    return order.front();
  }

 private:
  int64_t aging_ns_;
  uint64_t next_seq_ = 0;
  std::vector<Entry> entries_;
};

// Delay before restart number `attempt` (0-based):
// min(initial_ms * 2^attempt, max_ms).
int64_t BackoffMs(int64_t initial_ms, int64_t max_ms, int64_t attempt);

// Restarts within a sliding window. Record() notes one at `now_ns` and
// returns false when that makes more than `max_restarts` within `window_ns`
// (a crash loop).
class CrashLoopWindow {
 public:
  bool Record(int64_t now_ns, int64_t max_restarts, int64_t window_ns);
  void Reset() { times_.clear(); }
  size_t count() const { return times_.size(); }

 private:
  std::deque<int64_t> times_;
};

}  // namespace aikernel::agents
