#include "identity/spiffe_id.h"

namespace aikernel::identity {

namespace {

constexpr std::string_view kScheme = "spiffe://";
constexpr size_t kMaxTrustDomain = 255;
constexpr size_t kMaxId = 2048;

bool TrustDomainChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' ||
         c == '-' || c == '_';
}

bool PathChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
         (c >= '0' && c <= '9') || c == '.' || c == '-' || c == '_';
}

}  // namespace

Status ValidateTrustDomain(std::string_view td) {
  if (td.empty()) return absl::InvalidArgumentError("trust domain is empty");
  if (td.size() > kMaxTrustDomain) {
    return absl::InvalidArgumentError(absl::StrCat(
        "trust domain is longer than ", kMaxTrustDomain, " characters"));
  }
  for (char c : td) {
    if (!TrustDomainChar(c)) {
      return absl::InvalidArgumentError(
          "trust domain \"" + std::string(td) +
          "\" has a character outside [a-z0-9.-_] "
          "(SPIFFE trust domains are lower case, no port or userinfo)");
    }
  }
  return absl::OkStatus();
}

Status ValidatePathSegment(std::string_view seg) {
  if (seg.empty()) {
    return absl::InvalidArgumentError("SPIFFE ID path has an empty segment");
  }
  if (seg == "." || seg == "..") {
    return absl::InvalidArgumentError(
        "SPIFFE ID path segment is \".\" or \"..\"");
  }
  for (char c : seg) {
    if (!PathChar(c)) {
      return absl::InvalidArgumentError(
          "SPIFFE ID path segment \"" + std::string(seg) +
          "\" has a character outside [A-Za-z0-9.-_]");
    }
  }
  return absl::OkStatus();
}

StatusOr<SpiffeId> ParseSpiffeId(std::string_view id) {
  if (id.size() > kMaxId) {
    return absl::InvalidArgumentError("SPIFFE ID is longer than 2048 bytes");
  }
  if (id.substr(0, kScheme.size()) != kScheme) {
    return absl::InvalidArgumentError(
        "\"" + std::string(id) + "\" is not a SPIFFE ID (scheme spiffe://)");
  }
  std::string_view rest = id.substr(kScheme.size());
  size_t slash = rest.find('/');
  std::string_view td = rest.substr(0, slash);
  AIK_RETURN_IF_ERROR(ValidateTrustDomain(td));
  SpiffeId out;
  out.trust_domain = std::string(td);
  if (slash == std::string_view::npos) return out;
  std::string_view path = rest.substr(slash);
  std::string_view p = path;
  while (!p.empty()) {  // p starts with '/'
    p.remove_prefix(1);
    size_t next = p.find('/');
    AIK_RETURN_IF_ERROR(ValidatePathSegment(p.substr(0, next)));
    if (next == std::string_view::npos) break;
    p = p.substr(next);
  }
  out.path = std::string(path);
  return out;
}

StatusOr<SpiffeId> ParseWorkloadId(std::string_view id,
                                   std::string_view trust_domain) {
  AIK_ASSIGN_OR_RETURN(SpiffeId parsed, ParseSpiffeId(id));
  if (parsed.path.empty()) {
    return absl::InvalidArgumentError(
        "\"" + std::string(id) +
        "\" names a trust domain, not a workload (empty path)");
  }
  if (parsed.trust_domain != trust_domain) {
    return absl::InvalidArgumentError("\"" + std::string(id) +
                                      "\" is not in trust domain " +
                                      std::string(trust_domain));
  }
  return parsed;
}

StatusOr<std::string> AgentSpiffeId(std::string_view trust_domain,
                                    std::string_view name) {
  AIK_RETURN_IF_ERROR(ValidateTrustDomain(trust_domain));
  AIK_RETURN_IF_ERROR(ValidatePathSegment(name));
  return std::string(kScheme) + std::string(trust_domain) + "/agent/" +
         std::string(name);
}

}  // namespace aikernel::identity
