#include "kernel/quota.h"

#include "kernel/syscalls.h"

namespace aikernel::kernel {
namespace {

constexpr std::string_view kActionPrefix = "actions.";

void Add(std::vector<QuotaUse>* out, std::string name, int64_t limit, int64_t used,
         int64_t cost) {
  if (limit > 0) out->push_back({std::move(name), limit, used, cost});
}

}  // namespace

std::vector<QuotaUse> ApplicableQuotas(const agents::Quotas& q, std::string_view action,
                                       const Usage& u, int64_t bytes) {
  std::vector<QuotaUse> out;
  Add(&out, "calls_per_minute", q.calls.per_minute, u.all.minute, 1);
  Add(&out, "calls_per_hour", q.calls.per_hour, u.all.hour, 1);
  Add(&out, "calls_total", q.calls.total, u.all.total, 1);
  Add(&out, "bytes_per_minute", q.bytes_per_minute, u.all.bytes_minute, bytes);
  Add(&out, "bytes_per_hour", q.bytes_per_hour, u.all.bytes_hour, bytes);
  if (action == kToolCallAction) Add(&out, "tool_calls", q.tool_calls, u.action.total, 1);
  if (auto it = q.actions.find(std::string(action)); it != q.actions.end()) {
    const std::string p = std::string(kActionPrefix) + std::string(action) + ".";
    Add(&out, p + "per_minute", it->second.per_minute, u.action.minute, 1);
    Add(&out, p + "per_hour", it->second.per_hour, u.action.hour, 1);
    Add(&out, p + "total", it->second.total, u.action.total, 1);
  }
  return out;
}

std::string BudgetKey(const QuotaUse& q) {
  if (!q.name.starts_with(kActionPrefix)) return q.name;
  return "action_" + q.name.substr(q.name.rfind('.') + 1);
}

Status QuotaExceeded(const QuotaUse& q, std::string_view action) {
  std::string window = "over the agent instance's lifetime";
  if (q.name.ends_with("per_minute")) window = "per minute";
  if (q.name.ends_with("per_hour")) window = "per hour";
  const bool bytes = q.name.starts_with("bytes_");
  return absl::ResourceExhaustedError(absl::StrCat(
      "quota exceeded: ", q.name, " (", q.limit, bytes ? " request bytes " : " calls ", window,
      "; ", q.used, " used", bytes ? absl::StrCat(", this call ", q.cost) : std::string(),
      ") refuses ", std::string(action), "; policy was not evaluated"));
}

Status CheckQuotaActions(const agents::Quotas& q) {
  size_t n = 0;
  const SyscallInfo* all = AllSyscalls(&n);
  for (const auto& [action, quota] : q.actions) {
    bool known = false;
    for (size_t i = 0; i < n && !known; ++i) known = all[i].action == action;
    if (!known) {
      return absl::InvalidArgumentError(absl::StrCat(
          "quotas.actions: '", action, "' is not an action of this kernel (the syscall table "
          "in docs/policy.md lists them; the tool-call budget is quotas.tool_calls)"));
    }
  }
  return absl::OkStatus();
}

}  // namespace aikernel::kernel
