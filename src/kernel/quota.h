// kernel quotas: an agent spec's hard quotas ([quotas] in agents/spec.h) as
// they apply to one call, step 2 (admit) of the dispatch path.
//
// ApplicableQuotas() lists every quota of `q` that covers `action`, with the
// usage before the call and what the call adds: the all-actions call quotas
// (calls_per_minute, calls_per_hour, calls_total), the request-byte quotas
// (bytes_per_minute, bytes_per_hour), the tool-call budget (tool_calls, on
// action tool.call only) and the action's own quotas
// (actions.<action>.per_minute, .per_hour, .total). The kernel refuses the
// call RESOURCE_EXHAUSTED if any is exceeded, before policy is evaluated, and
// hands the rest to policies as context.budgets. Pure functions; thread-safe.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "agents/spec.h"
#include "common/status.h"
#include "kernel/authorizer.h"
#include "kernel/rate_counters.h"

namespace aikernel::kernel {

// The action the tool-call budget counts.
inline constexpr std::string_view kToolCallAction = "tool.call";

std::vector<QuotaUse> ApplicableQuotas(const agents::Quotas& q, std::string_view action,
                                       const Usage& usage, int64_t bytes);

// The Cedar attribute name of a quota in context.budgets: the spec's name,
// with the call's own action quotas as action_per_minute, action_per_hour
// and action_total (so policies need not spell the action).
std::string BudgetKey(const QuotaUse& q);

// The refusal for an exceeded quota: RESOURCE_EXHAUSTED naming it, its
// limit and its window.
Status QuotaExceeded(const QuotaUse& q, std::string_view action);

// INVALID_ARGUMENT naming the key unless every quotas.actions key is an
// action of the syscall table.
Status CheckQuotaActions(const agents::Quotas& q);

}  // namespace aikernel::kernel
