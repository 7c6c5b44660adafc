// Cedar authorization: one request against a policy set and an entity store.
//
// Semantics (Cedar's): a policy is satisfied when its scope matches and every
// `when` condition is true and every `unless` condition is false. If any
// forbid is satisfied the decision is Deny and the reasons are the satisfied
// forbids; otherwise, if any permit is satisfied, Allow with the satisfied
// permits as reasons; otherwise Deny with no reasons (default deny). A policy
// whose evaluation errors is skipped (it neither permits nor forbids) and is
// listed in `errors` with the message; errors never make a decision Allow.
//
// Authorize never fails as a call: every outcome is a Response. It reads the
// PolicySet, Request and Entities (all const) and keeps no state, so any
// number of threads may call it concurrently on shared, unchanging inputs.
#pragma once

#include <string>
#include <vector>

#include "policy/entities.h"
#include "policy/evaluator.h"
#include "policy/policy_set.h"

namespace aikernel::policy {

enum class Decision : uint8_t { kDeny, kAllow };

struct PolicyError {
  std::string policy_id;
  std::string message;
};

struct Response {
  Decision decision = Decision::kDeny;
  std::vector<std::string> reasons;  // determining policy ids, policy order
  std::vector<PolicyError> errors;   // erroring policy ids, policy order
};

Response Authorize(const PolicySet& policies, const Request& request,
                   const Entities& entities);

}  // namespace aikernel::policy
