#include "kernel/approvals.h"

namespace aikernel::kernel {

uint64_t ApprovalQueue::Park(PendingApproval* p, int64_t now_ns) {
  std::lock_guard<std::mutex> lock(mu_);
  p->id = next_id_++;
  p->requested_ns = now_ns;
  p->deadline_ns = now_ns + static_cast<int64_t>(timeout_.count()) * 1'000'000;
  Entry e;
  e.info = *p;
  e.deadline = std::chrono::steady_clock::now() + timeout_;
  if (cancelled_) {
    e.decided = true;
    e.outcome.kind = ApprovalOutcome::Kind::kCancelled;
  }
  entries_.emplace(p->id, std::move(e));
  return p->id;
}

ApprovalOutcome ApprovalQueue::Wait(uint64_t id) {
  std::unique_lock<std::mutex> lock(mu_);
  auto it = entries_.find(id);
  if (it == entries_.end()) return {ApprovalOutcome::Kind::kCancelled, "", ""};
  cv_.wait_until(lock, it->second.deadline, [&] { return it->second.decided; });
  ApprovalOutcome out = it->second.decided
                            ? it->second.outcome
                            : ApprovalOutcome{ApprovalOutcome::Kind::kTimedOut, "", ""};
  entries_.erase(it);
  return out;
}

std::vector<PendingApproval> ApprovalQueue::List() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<PendingApproval> out;
  const auto now = std::chrono::steady_clock::now();
  for (const auto& [id, e] : entries_) {
    if (!e.decided && e.deadline > now) out.push_back(e.info);
  }
  return out;
}

Status ApprovalQueue::Decide(uint64_t id, bool approve, const std::string& by,
                             const std::string& reason) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = entries_.find(id);
  if (it == entries_.end() || it->second.decided ||
      it->second.deadline <= std::chrono::steady_clock::now()) {
    return absl::NotFoundError(absl::StrCat("approval ", id, " is not waiting"));
  }
  it->second.decided = true;
  it->second.outcome = {approve ? ApprovalOutcome::Kind::kApproved
                                : ApprovalOutcome::Kind::kDenied,
                        by, reason};
  cv_.notify_all();
  return absl::OkStatus();
}

void ApprovalQueue::CancelAll() {
  std::lock_guard<std::mutex> lock(mu_);
  cancelled_ = true;
  for (auto& [id, e] : entries_) {
    if (!e.decided) {
      e.decided = true;
      e.outcome.kind = ApprovalOutcome::Kind::kCancelled;
    }
  }
  cv_.notify_all();
}

void ApprovalQueue::SetTimeout(std::chrono::milliseconds timeout) {
  std::lock_guard<std::mutex> lock(mu_);
  timeout_ = timeout;
}

std::chrono::milliseconds ApprovalQueue::timeout() const {
  std::lock_guard<std::mutex> lock(mu_);
  return timeout_;
}

}  // namespace aikernel::kernel
