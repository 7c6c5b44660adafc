// The SDK's Identity calls (proto/aikernel/v1/identity.proto): protobuf <->
// the plain types of aikernel/identity.h.

#include "aikernel/client.h"
#include "sdk/client_impl.h"

namespace aikernel {
inline namespace sdk {

namespace pb = ::aikernel::v1;

namespace {

// In this namespace, beside the overload below.
using internal::AuditSeqOf;
using internal::FromProto;

TrustBundle FromProto(const pb::TrustBundleResponse& m) {
  TrustBundle b;
  b.trust_domain = m.trust_domain();
  b.pem = m.pem();
  b.jwks_json = m.jwks_json();
  b.spiffe_bundle_json = m.spiffe_bundle_json();
  for (const pb::CertificateAuthority& c : m.cas()) {
    CertificateAuthority ca;
    ca.kid = c.kid();
    ca.not_before = FromProto(c.not_before());
    ca.not_after = FromProto(c.not_after());
    ca.active = c.active();
    if (c.has_retired_at()) ca.retired_at = FromProto(c.retired_at());
    if (c.has_issued_until()) ca.issued_until = FromProto(c.issued_until());
    b.cas.push_back(std::move(ca));
  }
  return b;
}

}  // namespace

#define AIK_IDENTITY_CALL(Method, Out, req, fill) \
  AIK_SDK_UNARY(identity, Identity, Method, Out, req, fill)

Result<X509Svid> Client::FetchX509SVID(const CallOptions& call) {
  return AIK_IDENTITY_CALL(FetchX509SVID, X509Svid, pb::FetchX509SVIDRequest(),
                           [](const pb::FetchX509SVIDResponse& resp, X509Svid& r) {
                             const pb::X509SVID& m = resp.svid();
                             r.spiffe_id = m.spiffe_id();
                             r.instance_id = m.instance_id();
                             r.cert_pem = m.cert_pem();
                             r.key_pem = m.key_pem();
                             r.bundle_pem = m.bundle_pem();
                             r.serial_hex = m.serial_hex();
                             r.ca_kid = m.ca_kid();
                             r.issued_at = FromProto(m.issued_at());
                             r.expires_at = FromProto(m.expires_at());
                           });
}

Result<JwtSvid> Client::FetchJWTSVID(const std::vector<std::string>& audiences,
                                     const CallOptions& call) {
  pb::FetchJWTSVIDRequest req;
  for (const auto& a : audiences) req.add_audiences(a);
  return AIK_IDENTITY_CALL(FetchJWTSVID, JwtSvid, req,
                           [](const pb::FetchJWTSVIDResponse& resp, JwtSvid& r) {
                             const pb::JWTSVID& m = resp.svid();
                             r.token = m.token();
                             r.spiffe_id = m.spiffe_id();
                             r.instance_id = m.instance_id();
                             r.audiences.assign(m.audiences().begin(), m.audiences().end());
                             r.jti = m.jti();
                             r.kid = m.kid();
                             r.issued_at = FromProto(m.issued_at());
                             r.expires_at = FromProto(m.expires_at());
                           });
}

Result<JwtValidation> Client::ValidateJWTSVID(std::string_view token, std::string_view audience,
                                              const CallOptions& call) {
  pb::ValidateJWTSVIDRequest req;
  req.set_token(std::string(token));
  req.set_audience(std::string(audience));
  return AIK_IDENTITY_CALL(ValidateJWTSVID, JwtValidation, req,
                           [](const pb::ValidateJWTSVIDResponse& m, JwtValidation& r) {
                             r.valid = m.valid();
                             r.reason = m.reason();
                             r.spiffe_id = m.spiffe_id();
                             r.subject_is_caller = m.subject_is_caller();
                             r.instance_id = m.instance_id();
                             r.audiences.assign(m.audiences().begin(), m.audiences().end());
                             r.jti = m.jti();
                             r.kid = m.kid();
                             r.issued_at = FromProto(m.issued_at());
                             r.expires_at = FromProto(m.expires_at());
                           });
}

Result<TrustBundle> Client::FetchTrustBundle(const CallOptions& call) {
  return AIK_IDENTITY_CALL(TrustBundle, TrustBundle, pb::TrustBundleRequest(),
                           [](const pb::TrustBundleResponse& m, TrustBundle& r) {
                             r = FromProto(m);
                           });
}

Result<RotateCAResult> Client::RotateCA(const CallOptions& call) {
  Result<RotateCAResult> r =
      AIK_IDENTITY_CALL(RotateCA, RotateCAResult, pb::RotateCARequest(),
                        [](const pb::RotateCAResponse& m, RotateCAResult& out) {
                          out.kid = m.kid();
                          out.previous_kid = m.previous_kid();
                          out.bundle = FromProto(m.bundle());
                        });
  if (r.ok()) r->bundle.audit_sequence = r->audit_sequence;
  return r;
}

}  // namespace sdk
}  // namespace aikernel
