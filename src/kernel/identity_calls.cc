#include "kernel/identity_calls.h"

#include <absl/strings/match.h>
#include <spdlog/spdlog.h>

namespace aikernel::kernel {
namespace {

StatusOr<identity::Subject> SubjectOf(const Principal& p) {
  if (p.kind != Principal::Kind::kAgent || p.spiffe_id.empty() || p.instance_id.empty()) {
    return absl::PermissionDeniedError(absl::StrCat(
        p.Id(), " has no SPIFFE identity: SVIDs are issued only to agents the kernel spawned"));
  }
  return identity::Subject{p.spiffe_id, p.instance_id};
}

}  // namespace

IdentityCalls::IdentityCalls(identity::NodeCA* ca, identity::RevocationList* revocations,
                             ConnectionTable* connections, IdentitySettings settings,
                             const Clock* clock)
    : ca_(ca),
      revocations_(revocations),
      connections_(connections),
      settings_(settings),
      clock_(clock) {}

std::string IdentityCalls::FetchResource(const Principal& p) {
  return "spiffe-id:" + (p.spiffe_id.empty() ? std::string("none") : p.spiffe_id);
}

StatusOr<identity::X509Svid> IdentityCalls::FetchX509(const Principal& p) {
  AIK_ASSIGN_OR_RETURN(identity::Subject subject, SubjectOf(p));
  return ca_->IssueX509SVID(subject, settings_.x509_svid_ttl);
}

StatusOr<identity::JwtSvid> IdentityCalls::FetchJwt(
    const Principal& p, const std::vector<std::string>& audiences) {
  AIK_ASSIGN_OR_RETURN(identity::Subject subject, SubjectOf(p));
  return ca_->IssueJWTSVID(subject, audiences, settings_.jwt_svid_ttl);
}

StatusOr<identity::JwtClaims> IdentityCalls::Validate(const std::string& token,
                                                      const std::string& audience) const {
  return ca_->ValidateJWTSVID(token, audience);
}

Status IdentityCalls::CheckPresented(const Principal& p, const std::string& authorization,
                                     std::string* subject) const {
  constexpr std::string_view kScheme = "bearer ";
  if (authorization.find(',') != std::string::npos) {
    return absl::UnauthenticatedError(
        "authorization: more than one credential presented (send one 'Bearer <JWT-SVID>')");
  }
  if (authorization.size() <= kScheme.size() ||
      !absl::EqualsIgnoreCase(authorization.substr(0, kScheme.size()),
                              std::string(kScheme))) {
    return absl::UnauthenticatedError(
        "authorization: only 'Bearer <JWT-SVID>' is accepted");
  }
  const std::string token = authorization.substr(kScheme.size());
  StatusOr<identity::JwtClaims> claims = ca_->ValidateJWTSVID(token, NodeSpiffeId());
  if (!claims.ok()) {
    // A token naming itself for another audience is refused like any other
    // bad one; its subject is not known to be genuine unless it was signed.
    return absl::UnauthenticatedError(absl::StrCat("authorization: bearer token refused: ",
                                                   claims.status().message()));
  }
  *subject = claims->spiffe_id;
  const std::string own = p.spiffe_id.empty() ? p.Id() : p.spiffe_id;
  if (p.kind != Principal::Kind::kAgent || claims->spiffe_id != p.spiffe_id) {
    return absl::UnauthenticatedError(absl::StrCat(
        "token subject ", claims->spiffe_id, " is not this connection's identity ", own,
        " (a token never replaces the identity the kernel bound to the connection)"));
  }
  if (!claims->instance.empty() && claims->instance != p.instance_id) {
    return absl::UnauthenticatedError(
        absl::StrCat("token instance ", claims->instance, " of ", claims->spiffe_id,
                     " is not this connection's instance ", p.instance_id));
  }
  return absl::OkStatus();
}

StatusOr<std::pair<std::string, std::string>> IdentityCalls::RotateCA() {
  std::string previous = ca_->ActiveKid();
  AIK_ASSIGN_OR_RETURN(std::string kid, ca_->RotateCA());
  return std::make_pair(kid, previous);
}

audit::Record IdentityCalls::RevocationRecord(const std::string& resource,
                                              const Status& outcome) const {
  if (!outcome.ok()) {
    spdlog::error("identity: revoking {}: {} (in force in memory)", resource,
                  std::string(outcome.message()));
  }
  audit::Record r;
  r.principal = "kernel";
  r.action = "identity.revoke";
  r.resource = resource;
  r.decision = audit::Decision::kAllow;
  r.rule_ids = {"kernel/event"};
  r.code = static_cast<int32_t>(outcome.code());
  return r;
}

audit::Record IdentityCalls::EndInstance(const std::string& spiffe_id,
                                         const std::string& instance) {
  if (connections_ != nullptr) connections_->RevokeAgent(instance);
  Status s = revocations_ == nullptr
                 ? absl::FailedPreconditionError("no revocation list")
                 : revocations_->RevokeInstance(spiffe_id, instance, NowS());
  return RevocationRecord(absl::StrCat("spiffe-id:", spiffe_id, "#", instance), s);
}

audit::Record IdentityCalls::RemoveAgent(const std::string& spiffe_id) {
  Status s = revocations_ == nullptr
                 ? absl::FailedPreconditionError("no revocation list")
                 : revocations_->RevokeSubjectBefore(spiffe_id, NowS());
  return RevocationRecord("spiffe-id:" + spiffe_id, s);
}

Status IdentityCalls::Prune() {
  if (revocations_ == nullptr) return absl::OkStatus();
  // Everything issued before now - max_svid_ttl has expired.
  return revocations_->Prune(NowS(), settings_.max_svid_ttl.count());
}

std::string IdentityCalls::NodeSpiffeId() const {
  return "spiffe://" + ca_->trust_domain() + "/node";
}

StatusOr<identity::X509Svid> IdentityCalls::IssueNodeSvid(std::chrono::seconds ttl) {
  return ca_->IssueX509SVID(identity::Subject{NodeSpiffeId(), "node"},
                            std::min(ttl, settings_.max_svid_ttl));
}

}  // namespace aikernel::kernel
