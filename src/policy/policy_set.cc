#include "policy/policy_set.h"

#include <absl/container/flat_hash_set.h>

#include <algorithm>

#include "policy/lexer.h"

namespace aikernel::policy {

absl::Status PolicySet::AddText(std::string_view text, std::string_view file,
                                const ParseOptions& options) {
  AIK_ASSIGN_OR_RETURN(std::vector<Policy> ps,
                       ParsePolicies(text, file, options));
  absl::flat_hash_set<std::string_view> ids;
  for (size_t i = 0; i < ps.size(); ++i) {
    bool dup = by_id_.contains(ps[i].id) ||
               !ids.insert(std::string_view(ps[i].id)).second;
    if (dup) {
      return SyntaxError(
          ps[i].file, ps[i].loc,
          absl::StrCat("duplicate policy id \"", ps[i].id, "\""));
    }
  }
  for (Policy& p : ps) AIK_RETURN_IF_ERROR(Add(std::move(p)));
  return absl::OkStatus();
}

absl::Status PolicySet::Add(Policy p) {
  if (by_id_.contains(p.id)) {
    return absl::InvalidArgumentError(
        absl::StrCat("duplicate policy id \"", p.id, "\""));
  }
  uint32_t i = static_cast<uint32_t>(policies_.size());
  by_id_[p.id] = i;
  policies_.push_back(std::make_shared<const Policy>(std::move(p)));
  Index(i);
  return absl::OkStatus();
}

const Policy* PolicySet::Find(std::string_view id) const {
  auto it = by_id_.find(Av(id));
  return it == by_id_.end() ? nullptr : policies_[it->second].get();
}

void PolicySet::Index(uint32_t i) {
  using Op = ScopeConstraint::Op;
  const Policy& p = *policies_[i];
  auto file = [&](const ScopeConstraint& c, Dim& dim) {
    switch (c.op) {
      case Op::kEq:
      case Op::kIn:
      case Op::kIsIn:
        dim.by_uid[c.uid].push_back(i);
        return true;
      case Op::kIs:
        dim.by_type[c.type].push_back(i);
        return true;
      case Op::kInSet:
        if (c.uids.empty()) return false;
        for (const EntityUid& u : c.uids) dim.by_uid[u].push_back(i);
        return true;
      case Op::kAny:
        return false;
    }
    return false;
  };
  // Principal and resource: `is T` alone is weak, so prefer an entity key in
  // either dimension before falling back to a type key.
  auto has_uid = [](const ScopeConstraint& c) {
    return c.op == Op::kEq || c.op == Op::kIn || c.op == Op::kIsIn;
  };
  if (has_uid(p.principal)) {
    file(p.principal, principal_);
  } else if (has_uid(p.resource)) {
    file(p.resource, resource_);
  } else if (!file(p.principal, principal_) && !file(p.resource, resource_) &&
             !file(p.action, action_)) {
    unscoped_.push_back(i);
  }
}

void PolicySet::Lookup(const Dim& dim, const EntityUid& uid,
                       const Entities& entities, std::vector<uint32_t>* out) {
  auto add = [&](const std::vector<uint32_t>& v) {
    out->insert(out->end(), v.begin(), v.end());
  };
  if (!dim.by_uid.empty()) {
    if (auto it = dim.by_uid.find(uid); it != dim.by_uid.end()) add(it->second);
    if (const Entities::Node* n = entities.Find(uid)) {
      for (const EntityUid& a : n->ancestors) {
        if (a == uid) continue;
        if (auto it = dim.by_uid.find(a); it != dim.by_uid.end())
          add(it->second);
      }
    }
  }
  if (!dim.by_type.empty()) {
    if (auto it = dim.by_type.find(uid.type); it != dim.by_type.end())
      add(it->second);
  }
}

void PolicySet::Candidates(const Request& req, const Entities& entities,
                           std::vector<uint32_t>* out) const {
  out->clear();
  out->insert(out->end(), unscoped_.begin(), unscoped_.end());
  Lookup(principal_, req.principal, entities, out);
  Lookup(resource_, req.resource, entities, out);
  Lookup(action_, req.action, entities, out);
  std::sort(out->begin(), out->end());
  out->erase(std::unique(out->begin(), out->end()), out->end());
}

}  // namespace aikernel::policy
