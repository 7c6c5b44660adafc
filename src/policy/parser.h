// The Cedar policy parser.
//
// ParsePolicies turns the text of a .cedar file into policies: effect,
// annotations, scope (==, in, is, is ... in; action in [..]), when/unless
// conditions, with every operator of the expression grammar. Ids are
// `<id_prefix><n>` numbered from `first_index` in source order (Cedar's
// `policy0`, `policy1`, ...) unless `use_id_annotation` is set and the policy
// carries @id("...").
//
// On failure it returns InvalidArgument with "file:line:col: expected X,
// found Y" (or a specific message such as "integer literal too large"),
// for the first error. Templates (?principal, ?resource) are refused.
// Pure function, thread-safe; the result owns everything it refers to.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "policy/ast.h"

namespace aikernel::policy {

struct ParseOptions {
  std::string id_prefix = "policy";
  int first_index = 0;
  bool use_id_annotation = false;
};

absl::StatusOr<std::vector<Policy>> ParsePolicies(
    std::string_view text, std::string_view file = "<policies>",
    const ParseOptions& options = {});

// Parses one expression (used by tests and by tools).
absl::StatusOr<ExprPtr> ParseExpression(std::string_view text,
                                        std::string_view file = "<expr>");

}  // namespace aikernel::policy
