// Errors as values, everywhere inside aikernel.
//
// aikernel uses absl::Status / absl::StatusOr<T> (Debian's libabsl-dev, which
// gRPC already depends on). Their codes are gRPC's codes, so the RPC edge maps
// them with one function (rpc/status_map.h). No exception crosses a thread or
// the RPC boundary. These helpers only shorten the common patterns.
#pragma once

#include <absl/status/status.h>
#include <absl/status/statusor.h>
#include <absl/strings/str_cat.h>

namespace aikernel {

using absl::Status;
using absl::StatusOr;

// Returns early from the enclosing function if `expr` is not OK.
#define AIK_RETURN_IF_ERROR(expr)                  \
  do {                                             \
    ::absl::Status aik_status_ = (expr);           \
    if (!aik_status_.ok()) return aik_status_;     \
  } while (0)

#define AIK_CONCAT_INNER(a, b) a##b
#define AIK_CONCAT(a, b) AIK_CONCAT_INNER(a, b)
// `AIK_ASSIGN_OR_RETURN(auto x, Fn())` binds the value or returns the error.
#define AIK_ASSIGN_OR_RETURN(lhs, expr) \
  AIK_ASSIGN_OR_RETURN_IMPL(AIK_CONCAT(aik_statusor_, __LINE__), lhs, expr)
#define AIK_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                              \
  if (!tmp.ok()) return tmp.status();             \
  lhs = std::move(tmp).value()

}  // namespace aikernel
