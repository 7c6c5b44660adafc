// identity/spiffe_id.h: SPIFFE IDs and trust domain names, validated by the
// SPIFFE-ID specification (github.com/spiffe/spiffe, standards/SPIFFE-ID.md).
//
// - A trust domain is 1..255 characters of [a-z0-9.-_] (lower case only).
// - A SPIFFE ID is "spiffe://" + trust domain + path; the path is empty or a
//   sequence of "/segment" with each segment non-empty, of [A-Za-z0-9.-_],
//   and neither "." nor ".."; no trailing slash, query, fragment, userinfo
//   or port; at most 2048 bytes.
// - An agent's ID is spiffe://<trust-domain>/agent/<name>.
// Pure functions; thread-safe. Errors are INVALID_ARGUMENT naming the rule.
#pragma once

#include <string>
#include <string_view>

#include "common/status.h"

namespace aikernel::identity {

struct SpiffeId {
  std::string trust_domain;
  std::string path;  // "" or "/a/b"
  std::string str() const { return "spiffe://" + trust_domain + path; }
};

Status ValidateTrustDomain(std::string_view trust_domain);
Status ValidatePathSegment(std::string_view segment);
StatusOr<SpiffeId> ParseSpiffeId(std::string_view id);
// Parses `id` and requires a non-empty path (a workload, not the trust
// domain itself) in `trust_domain`.
StatusOr<SpiffeId> ParseWorkloadId(std::string_view id,
                                   std::string_view trust_domain);
// spiffe://<trust_domain>/agent/<name>; `name` must be one valid segment.
StatusOr<std::string> AgentSpiffeId(std::string_view trust_domain,
                                    std::string_view name);

}  // namespace aikernel::identity
