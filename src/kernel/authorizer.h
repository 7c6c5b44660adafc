// kernel::Authorizer: step 3 of the dispatch path, deciding a call.
//
// Until the Cedar engine lands (policy issue), BuiltinAuthorizer is the
// whole policy, complete in itself and default-deny:
//   builtin/whoami       anyone may call Kernel.Whoami;
//   builtin/operator     operators may call every Admin syscall;
//   builtin/default-deny everything else is denied.
// Decide() is const and thread-safe. Any error inside an authorizer must be
// returned as a deny, never as an allow.
#pragma once

#include <string>
#include <vector>

#include "kernel/principal.h"
#include "kernel/syscalls.h"

namespace aikernel::kernel {

struct Decision {
  bool allow = false;
  std::vector<std::string> rule_ids;  // the rules that determined it
  std::string reason;                 // human-readable, for the error message
};

class Authorizer {
 public:
  virtual ~Authorizer() = default;
  virtual Decision Decide(const Principal& principal, const SyscallInfo& call,
                          const std::string& resource) const = 0;
};

class BuiltinAuthorizer final : public Authorizer {
 public:
  Decision Decide(const Principal& principal, const SyscallInfo& call,
                  const std::string& resource) const override;
};

}  // namespace aikernel::kernel
