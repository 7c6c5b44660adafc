#include "kernel/authorizer.h"

#include <cctype>

namespace aikernel::kernel {

ResourceRef ParseResourceString(const std::string& s) {
  size_t colon = s.find(':');
  if (colon == std::string::npos || colon == 0) return {"Resource", s};
  std::string type = s.substr(0, colon);
  type[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(type[0])));
  return {type, s.substr(colon + 1)};
}

}  // namespace aikernel::kernel
