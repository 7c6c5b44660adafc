// kernel::Authorizer: step 3 of the dispatch path, deciding a call.
//
// The kernel hands the authorizer everything a policy may look at: who
// (the authenticated Principal), what (the syscall row, whose `action` is the
// Cedar action id), on what (a typed resource), and the call's context (its
// arguments as a protobuf message, the node, the time, and the caller's
// recent call counters). The daemon's authorizer is kernel::CedarAuthorizer
// (cedar_authorizer.h); tests may supply their own.
//
// Decide() is const and thread-safe. Any error inside an authorizer must be
// returned as a deny, never as an allow.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "kernel/principal.h"
#include "kernel/syscalls.h"

namespace google::protobuf {
class Message;
}

namespace aikernel::kernel {

// A resource as Cedar sees it: Type::"id", e.g. Node::"n1", Agent::"web".
struct ResourceRef {
  std::string type;
  std::string id;
};

// The ledger form "node:n1" -> {Node, n1}: the type is the part before the
// first ':' with its first letter upper-cased, and a kind in kebab-case
// becomes CamelCase ("trust-domain:td" -> {TrustDomain, td}); no ':' gives
// {Resource, s}.
ResourceRef ParseResourceString(const std::string& s);

// Calls the same principal made with the same action before this one.
struct RateCounts {
  int64_t minute = 0;  // in the last 60 s
  int64_t hour = 0;    // in the last 3600 s
  int64_t total = 0;   // since the kernel started (for an agent: its instance)
  int64_t bytes_minute = 0;  // request bytes of those calls
  int64_t bytes_hour = 0;
};

// One hard quota as it applies to a call (kernel/quota.h): `used` before the
// call, `cost` what the call adds (1 call, or its request bytes).
struct QuotaUse {
  std::string name;  // as in the spec: "calls_per_minute", "actions.memory.write.total"
  int64_t limit = 0;
  int64_t used = 0;
  int64_t cost = 0;
  int64_t remaining() const { return limit - used - cost; }  // after this call
  bool exceeded() const { return used + cost > limit; }
};

// Context attributes a syscall adds beside args/node/time/counters (e.g.
// msg.send's topic, size, remote, same_group), computed by the kernel, never
// copied from a request field unchecked. Cedar sees context.<name>.
using ContextValue = std::variant<bool, int64_t, std::string>;
using ContextAttrs = std::vector<std::pair<std::string, ContextValue>>;

struct AuthzRequest {
  const Principal* principal = nullptr;
  const SyscallInfo* call = nullptr;
  ResourceRef resource;
  const google::protobuf::Message* args = nullptr;  // may be null
  // Extra context (a JSON object, may be null): each key is added to the
  // Cedar context, "args" replacing the one built from `args` (tool calls:
  // the JSON arguments, already redacted; http.fetch adds "http").
  const nlohmann::json* context = nullptr;
  std::string node;
  int64_t time_ns = 0;  // receipt time, ns since the Unix epoch
  RateCounts counts;
  const ContextAttrs* extra = nullptr;  // may be null
  // The caller's quotas with their use, for context.budgets (admitted
  // calls only, so none is exceeded); empty for principals without quotas.
  std::vector<QuotaUse> budgets;
};

struct Decision {
  bool allow = false;
  // The rules that determined it: the satisfied permits (allow), the
  // satisfied forbids (deny), or "default-deny" when nothing permitted.
  std::vector<std::string> rule_ids;
  // Policies whose evaluation errored (skipped), with their messages.
  std::vector<std::string> error_ids;
  std::vector<std::string> error_messages;
  std::string reason;  // human-readable, for the error message
  // Set when an allow was decided by a permit annotated @approval("..."):
  // the call must wait for an operator. The value is the annotation's text.
  std::optional<std::string> approval;
  // Hex SHA-256 of the policy set that decided ("" if the authorizer has
  // none); the kernel ties audit records to the recorded policy loads.
  std::string policy_set;
};

class Authorizer {
 public:
  virtual ~Authorizer() = default;
  virtual Decision Decide(const AuthzRequest& request) const = 0;
};

}  // namespace aikernel::kernel
