// A set of Cedar policies, indexed by scope.
//
// Each policy is filed under one key taken from its scope, in order of
// selectivity: the entity of `principal == E` / `principal in E` /
// `principal is T in E`, else the type of `principal is T`, else the same for
// the resource, else the entities of the action constraint; a policy with an
// unconstrained scope is kept in a short list that every request scans.
// ForEachCandidate then visits, in policy order, only the policies filed
// under the request's principal, resource or action, their ancestors, or
// their types (plus the unconstrained ones), so a decision does not pay for
// policies that cannot match. Candidates still have their full scope checked
// by the evaluator.
//
// Add/AddText refuse (InvalidArgument, set unchanged) a duplicate id or a
// parse error. A PolicySet is not synchronized: build it on one thread, then
// share it read-only (const) with any number of threads; hot reload builds a
// new set and swaps a shared_ptr<const PolicySet>.
#pragma once

#include <absl/container/flat_hash_map.h>

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "policy/ast.h"
#include "policy/entities.h"
#include "policy/evaluator.h"
#include "policy/parser.h"

namespace aikernel::policy {

class PolicySet {
 public:
  PolicySet() = default;

  // Parses `text` (see parser.h for ids) and adds every policy, or none.
  absl::Status AddText(std::string_view text,
                       std::string_view file = "<policies>",
                       const ParseOptions& options = {});
  absl::Status Add(Policy p);

  size_t size() const { return policies_.size(); }
  const Policy& policy(size_t i) const { return *policies_[i]; }
  // nullptr when no policy has this id.
  const Policy* Find(std::string_view id) const;

  // Indices (ascending) of the policies whose scope may match `req`.
  void Candidates(const Request& req, const Entities& entities,
                  std::vector<uint32_t>* out) const;

 private:
  using Buckets = absl::flat_hash_map<EntityUid, std::vector<uint32_t>>;
  using TypeBuckets = absl::flat_hash_map<std::string, std::vector<uint32_t>>;
  struct Dim {
    Buckets by_uid;
    TypeBuckets by_type;
  };
  // Files policy `i` under its most selective scope key.
  void Index(uint32_t i);
  static void Lookup(const Dim& dim, const EntityUid& uid,
                     const Entities& entities, std::vector<uint32_t>* out);

  std::vector<std::shared_ptr<const Policy>> policies_;
  absl::flat_hash_map<std::string, uint32_t> by_id_;
  Dim principal_;
  Dim resource_;
  Dim action_;
  std::vector<uint32_t> unscoped_;
};

}  // namespace aikernel::policy
