// kernel::Principal: who a call is from, as the kernel established it.
//
// A Principal is built by the kernel from what the OS tells it about the
// connection (SO_PEERCRED / SO_PEERGROUPS at accept time), never from a
// request field. Value type; immutable once built.
#pragma once

#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

#include "agents/spec.h"

namespace aikernel::kernel {

struct Principal {
  enum class Kind { kAnonymous, kUser, kOperator, kAgent };

  Kind kind = Kind::kAnonymous;
  uid_t uid = static_cast<uid_t>(-1);
  gid_t gid = static_cast<gid_t>(-1);
  pid_t pid = 0;
  std::vector<gid_t> groups;  // supplementary groups of the peer
  std::string spiffe_id;      // agents only
  std::string instance_id;    // agents only
  std::string agent_name;     // agents only
  std::vector<std::string> agent_groups;  // agents only: the spec's groups
  // Agents only: the spec's hard quotas (kernel/quota.h); null: none.
  std::shared_ptr<const agents::Quotas> quotas;

  // The canonical string in the audit ledger: "operator:0", "user:1000",
  // "agent:<spiffe-id>#<instance>", "anonymous".
  std::string Id() const;
  static Principal Anonymous() { return Principal{}; }
};

const char* KindName(Principal::Kind kind);

}  // namespace aikernel::kernel
