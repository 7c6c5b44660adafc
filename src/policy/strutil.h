// Bridges std::string_view and Debian's absl::string_view (a distinct type
// in this absl build), so StrCat and Status messages accept both. Pure.
#pragma once

#include <absl/strings/string_view.h>

#include <string_view>

namespace aikernel::policy {

inline absl::string_view Av(std::string_view s) { return {s.data(), s.size()}; }
inline std::string_view Sv(absl::string_view s) { return {s.data(), s.size()}; }

}  // namespace aikernel::policy
