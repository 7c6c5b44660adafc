#include "kernel/principal.h"

#include <string>

namespace aikernel::kernel {

const char* KindName(Principal::Kind kind) {
  switch (kind) {
    case Principal::Kind::kAnonymous: return "anonymous";
    case Principal::Kind::kUser: return "user";
    case Principal::Kind::kOperator: return "operator";
    case Principal::Kind::kAgent: return "agent";
  }
  return "anonymous";
}

std::string Principal::Id() const {
  switch (kind) {
    case Kind::kAnonymous: return "anonymous";
    case Kind::kUser: return "user:" + std::to_string(uid);
    case Kind::kOperator: return "operator:" + std::to_string(uid);
    case Kind::kAgent: return "agent:" + spiffe_id + "#" + instance_id;
  }
  return "anonymous";
}

}  // namespace aikernel::kernel
