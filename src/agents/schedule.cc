#include "agents/schedule.h"

#include <algorithm>

namespace aikernel::agents {

int64_t EffectivePriority(int64_t priority, int64_t enqueued_ns, int64_t now_ns,
                          int64_t aging_interval_ns) {
  if (aging_interval_ns <= 0 || now_ns <= enqueued_ns) return priority;
  return priority + (now_ns - enqueued_ns) / aging_interval_ns;
}

void RunQueue::Push(const std::string& name, int64_t priority, int64_t memory_bytes,
                    int64_t now_ns) {
  Remove(name);
  entries_.push_back(Entry{name, priority, memory_bytes, now_ns, next_seq_++});
}

bool RunQueue::Remove(const std::string& name) {
  auto it = std::find_if(entries_.begin(), entries_.end(),
                         [&](const Entry& e) { return e.name == name; });
  if (it == entries_.end()) return false;
  entries_.erase(it);
  return true;
}

bool RunQueue::Contains(const std::string& name) const {
  return std::any_of(entries_.begin(), entries_.end(),
                     [&](const Entry& e) { return e.name == name; });
}

std::vector<RunQueue::Entry> RunQueue::Ordered(int64_t now_ns) const {
  std::vector<Entry> out = entries_;
  std::stable_sort(out.begin(), out.end(), [&](const Entry& a, const Entry& b) {
    int64_t pa = EffectivePriority(a.priority, a.enqueued_ns, now_ns, aging_ns_);
    int64_t pb = EffectivePriority(b.priority, b.enqueued_ns, now_ns, aging_ns_);
    if (pa != pb) return pa > pb;
    return a.seq < b.seq;
  });
  return out;
}

uint32_t RunQueue::Position(const std::string& name, int64_t now_ns) const {
  std::vector<Entry> order = Ordered(now_ns);
  for (size_t i = 0; i < order.size(); ++i) {
    if (order[i].name == name) return static_cast<uint32_t>(i + 1);
  }
  return 0;
}

int64_t BackoffMs(int64_t initial_ms, int64_t max_ms, int64_t attempt) {
  if (attempt < 0) attempt = 0;
  int64_t d = initial_ms;
  for (int64_t i = 0; i < attempt && d < max_ms; ++i) d *= 2;
  return std::min(d, max_ms);
}

bool CrashLoopWindow::Record(int64_t now_ns, int64_t max_restarts, int64_t window_ns) {
  while (!times_.empty() && now_ns - times_.front() >= window_ns) times_.pop_front();
  times_.push_back(now_ns);
  return static_cast<int64_t>(times_.size()) <= max_restarts;
}

}  // namespace aikernel::agents
