// kernel::CedarAuthorizer: every call decided by the Cedar engine (src/policy).
//
// The request (docs/policy.md lists it in full):
//   principal  Operator::"<uid>" | User::"<uid>" | Anonymous::"anonymous" |
//              Agent::"<spiffe id>" (parents: Group::"<name>" per group);
//              added per call to an entity layer over the store's entities,
//              with attributes uid, gid, pid (and instance, name, memory,
//              the entity Memory::"agent/<name>" of its own namespace, and
//              identity, its SpiffeId::"<spiffe id>", for agents)
//   action     Action::"<syscall action>" (syscalls.cc)
//   resource   the call's typed resource, e.g. Node::"n1", Agent::"web"
//   context    { args: the request message as a record (secrets redacted),
//                node: String, time: datetime,
//                counters: { minute: Long, hour: Long, total: Long },
//                budgets: { <quota>: { limit, used, remaining: Long } } for
//                  the caller's hard quotas that cover the call (kernel/quota.h;
//                  empty for principals without quotas) }
//
// The policy store (policy/store.h) is swapped atomically by Install(); a
// decision uses the store that was current when it started. Before any
// Install() only the builtin policies (kBuiltinPolicies) are in force.
// Decide() and Install() are thread-safe.
#pragma once

#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "kernel/authorizer.h"

#include "policy/store.h"

namespace aikernel::kernel {

// Policies every daemon has, whatever is installed: anyone may Whoami.
inline constexpr const char kBuiltinPolicies[] =
    "@id(\"builtin.whoami\")\n"
    "permit(principal, action == Action::\"kernel.whoami\", resource);\n";

class CedarAuthorizer final : public Authorizer {
 public:
  using NameSet = std::set<std::string, std::less<>>;
  CedarAuthorizer();

  Decision Decide(const AuthzRequest& request) const override;

  // Makes `store` the set in force (atomically).
  void Install(std::shared_ptr<const policy::PolicyStore> store);
  std::shared_ptr<const policy::PolicyStore> store() const;

  // Field names (at any depth) whose values appear as "[redacted]" in
  // context.args.
  void SetRedactedFields(const std::vector<std::string>& names);

  // The Cedar request and per-call entities for `request` (for explain and
  // tests). `layer` must be built over the store's entities.
  policy::Request BuildRequest(const AuthzRequest& request, policy::Entities* layer) const;

  // A protobuf message as a Cedar record: scalars as Long/Bool/String
  // (bytes as String, enums by name, floating point as decimal when it fits),
  // repeated fields as sets, maps and messages as records, Timestamp as
  // datetime and Duration as duration. Unset message fields are omitted;
  // scalar fields are always present (proto3 defaults). Values of fields
  // named in `redacted` become "[redacted]".
  static policy::Value MessageToValue(const google::protobuf::Message& m,
                                      const NameSet* redacted);

  static policy::EntityUid PrincipalUid(const Principal& p);

 private:
  mutable std::mutex mu_;
  std::shared_ptr<const policy::PolicyStore> store_;  // GUARDED_BY(mu_)
  std::shared_ptr<const NameSet> redacted_;  // GUARDED_BY(mu_)
};

}  // namespace aikernel::kernel
