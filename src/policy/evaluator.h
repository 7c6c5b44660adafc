// The Cedar evaluator: expressions and single policies against one request.
//
// An Evaluator borrows a Request and an Entities store (both must outlive
// it) and is used by one thread at a time; evaluators are cheap to make, so
// use one per decision. Eval returns the value of an expression, or
// InvalidArgument for a Cedar evaluation error: a type error, an integer
// overflow, a missing attribute or tag, an attribute of an entity that does
// not exist, or an extension-function error. `&&`, `||` and `if` evaluate
// only what they need, so an error in an unevaluated branch is not raised.
#pragma once

#include <string_view>

#include "common/status.h"
#include "policy/ast.h"
#include "policy/entities.h"
#include "policy/strutil.h"
#include "policy/value.h"

namespace aikernel::policy {

struct Request {
  EntityUid principal;
  EntityUid action;
  EntityUid resource;
  Value context = Value::MakeRecord({});  // must be a record
};

// True when `uid` satisfies one scope constraint (never errors).
bool ScopeMatches(const ScopeConstraint& c, const EntityUid& uid,
                  const Entities& entities);

// Cedar `like`: `*` matches any sequence of bytes, literals match exactly.
bool MatchesPattern(std::string_view s, const std::vector<PatternElem>& pat);

class Evaluator {
 public:
  Evaluator(const Request& request, const Entities& entities);

  absl::StatusOr<Value> Eval(const Expr& e);

  // Whether the policy's scope and all of its conditions hold. An error in a
  // condition (or a non-boolean condition) is returned as the error.
  absl::StatusOr<bool> Satisfied(const Policy& p);

 private:
  absl::StatusOr<bool> EvalBool(const Expr& e);
  absl::StatusOr<Value> EvalIn(const Value& lhs, const Value& rhs);
  absl::StatusOr<Value> EvalAttr(const Expr& e, const Value& base);

  const Request& req_;
  const Entities& entities_;
  Value principal_;
  Value action_;
  Value resource_;
};

}  // namespace aikernel::policy
