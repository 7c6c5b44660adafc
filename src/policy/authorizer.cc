#include "policy/authorizer.h"

namespace aikernel::policy {

Response Authorize(const PolicySet& policies, const Request& request,
                   const Entities& entities) {
  thread_local std::vector<uint32_t> candidates;
  policies.Candidates(request, entities, &candidates);
  Evaluator ev(request, entities);
  Response resp;
  std::vector<const std::string*> permits;
  std::vector<const std::string*> forbids;
  for (uint32_t i : candidates) {
    const Policy& p = policies.policy(i);
    absl::StatusOr<bool> sat = ev.Satisfied(p);
    if (!sat.ok()) {
      resp.errors.push_back(
          PolicyError{p.id, std::string(sat.status().message())});
      continue;
    }
    if (!*sat) continue;
    (p.effect == Effect::kForbid ? forbids : permits).push_back(&p.id);
  }
  const auto& winners = !forbids.empty() ? forbids : permits;
  resp.decision =
      forbids.empty() && !permits.empty() ? Decision::kAllow : Decision::kDeny;
  resp.reasons.reserve(winners.size());
  for (const std::string* id : winners) resp.reasons.push_back(*id);
  return resp;
}

}  // namespace aikernel::policy
