// Helpers for the policy unit tests: evaluate an expression text against a
// small entity store and request.
#pragma once

#include <gtest/gtest.h>

#include <string>
#include <string_view>

#include "policy/engine.h"

namespace aikernel::policy::testing {

inline Entities MakeEntities(std::string_view json) {
  auto es = EntitiesFromJsonText(json);
  EXPECT_TRUE(es.ok()) << es.status();
  return es.ok() ? std::move(*es) : Entities();
}

inline Request MakeRequest(std::string_view context_json = "{}") {
  Request r;
  r.principal = {"User", "alice"};
  r.action = {"Action", "view"};
  r.resource = {"Photo", "p1"};
  auto j = ParseJsonText(context_json);
  EXPECT_TRUE(j.ok());
  auto ctx = ContextFromJson(*j);
  EXPECT_TRUE(ctx.ok()) << ctx.status();
  if (ctx.ok()) r.context = *ctx;
  return r;
}

// Evaluates `expr`; returns the value or the error status.
inline absl::StatusOr<Value> EvalText(std::string_view expr,
                                      const Entities& es = Entities(),
                                      const Request& req = MakeRequest()) {
  auto e = ParseExpression(expr);
  if (!e.ok()) return e.status();
  Evaluator ev(req, es);
  return ev.Eval(**e);
}

// "true"/"false"/"1"/... for a value, or "error" for an evaluation error.
inline std::string Show(std::string_view expr, const Entities& es = Entities(),
                        const Request& req = MakeRequest()) {
  auto v = EvalText(expr, es, req);
  if (!v.ok()) return "error";
  return v->ToString();
}

}  // namespace aikernel::policy::testing
