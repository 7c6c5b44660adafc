// Pure parts of the SDK: names, Status::ToString, hex. No gRPC here.
#include "aikernel/status.h"

#include "aikernel/client.h"

namespace aikernel {
inline namespace sdk {

namespace {
constexpr const char* kCodeNames[] = {
    "OK",
    "CANCELLED",
    "UNKNOWN",
    "INVALID_ARGUMENT",
    "DEADLINE_EXCEEDED",
    "NOT_FOUND",
    "ALREADY_EXISTS",
    "PERMISSION_DENIED",
    "RESOURCE_EXHAUSTED",
    "FAILED_PRECONDITION",
    "ABORTED",
    "OUT_OF_RANGE",
    "UNIMPLEMENTED",
    "INTERNAL",
    "UNAVAILABLE",
    "DATA_LOSS",
    "UNAUTHENTICATED",
};
}  // namespace

StatusCode StatusCodeFromInt(int code) {
  if (code < 0 || code > 16) return StatusCode::kUnknown;
  return static_cast<StatusCode>(code);
}

const char* StatusCodeName(StatusCode code) {
  int c = static_cast<int>(code);
  if (c < 0 || c > 16) return "UNKNOWN";
  return kCodeNames[c];
}

std::string Status::ToString() const {
  if (ok() && message_.empty()) return "OK";
  std::string s = StatusCodeName(code_);
  if (!message_.empty()) {
    s += ": ";
    s += message_;
  }
  return s;
}

const char* PrincipalKindName(PrincipalKind kind) {
  switch (kind) {
    case PrincipalKind::kAnonymous: return "anonymous";
    case PrincipalKind::kUser: return "user";
    case PrincipalKind::kOperator: return "operator";
    case PrincipalKind::kAgent: return "agent";
    case PrincipalKind::kUnspecified: break;
  }
  return "unspecified";
}

const char* DecisionName(Decision d) {
  switch (d) {
    case Decision::kAllow: return "allow";
    case Decision::kDeny: return "deny";
    case Decision::kUnspecified: break;
  }
  return "unspecified";
}

std::string HexEncode(std::string_view bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) {
    out.push_back(kHex[c >> 4]);
    out.push_back(kHex[c & 0xf]);
  }
  return out;
}

}  // namespace sdk
}  // namespace aikernel
