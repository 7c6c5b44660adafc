#include "kernel/authorizer.h"

namespace aikernel::kernel {

Decision BuiltinAuthorizer::Decide(const Principal& principal,
                                   const SyscallInfo& call,
                                   const std::string& /*resource*/) const {
  if (call.id == Syscall::kWhoami) {
    return {true, {"builtin/whoami"}, ""};
  }
  if (call.service == Service::kAdmin &&
      principal.kind == Principal::Kind::kOperator) {
    return {true, {"builtin/operator"}, ""};
  }
  std::string reason = principal.Id() + " may not call " +
                       std::string(call.action) +
                       " (rule builtin/default-deny";
  if (call.service == Service::kAdmin) {
    reason += ": Admin is for operators, uid 0 or the configured admin group";
  }
  reason += ")";
  return {false, {"builtin/default-deny"}, reason};
}

}  // namespace aikernel::kernel
