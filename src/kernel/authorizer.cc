#include "kernel/authorizer.h"

#include <cctype>

namespace aikernel::kernel {

ResourceRef ParseResourceString(const std::string& s) {
  size_t colon = s.find(':');
  if (colon == std::string::npos || colon == 0) return {"Resource", s};
  // "memory" -> Memory; "trust-domain" -> TrustDomain (a '-' starts a new
  // word, so the type stays a Cedar identifier).
  std::string type;
  bool upper = true;
  for (char c : s.substr(0, colon)) {
    if (c == '-') {
      upper = true;
      continue;
    }
    type.push_back(upper ? static_cast<char>(std::toupper(static_cast<unsigned char>(c))) : c);
    upper = false;
  }
  if (type.empty()) return {"Resource", s};
  return {type, s.substr(colon + 1)};
}

}  // namespace aikernel::kernel
