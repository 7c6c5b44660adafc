// NodeCA: JWT-SVID issuance and validation (JWS compact, ES256).
#include <nlohmann/json.hpp>

#include "identity/ca_internal.h"
#include "identity/spiffe_id.h"

namespace aikernel::identity {

using nlohmann::json;

namespace {

constexpr size_t kMaxToken = 8192;
constexpr size_t kMaxAudiences = 16;
constexpr size_t kMaxAudience = 512;

Status Reject(const std::string& reason, const std::string& detail) {
  return absl::UnauthenticatedError(reason + ": " + detail);
}

Status ValidateAudience(const std::string& aud) {
  if (aud.empty() || aud.size() > kMaxAudience) {
    return absl::InvalidArgumentError("an audience must be 1..512 bytes");
  }
  for (unsigned char c : aud) {
    if (c < 0x20 || c == 0x7f) {
      return absl::InvalidArgumentError(
          "an audience must not contain control characters");
    }
  }
  return absl::OkStatus();
}

json::const_iterator Find(const json& obj, const char* key) {
  return obj.find(key);
}

}  // namespace

StatusOr<JwtSvid> NodeCA::IssueJWTSVID(
    const Subject& subject, const std::vector<std::string>& audiences,
    std::chrono::seconds ttl) {
  AIK_ASSIGN_OR_RETURN(const int64_t ttl_s, impl_->TtlSeconds(ttl));
  if (audiences.empty() || audiences.size() > kMaxAudiences) {
    return absl::InvalidArgumentError("a JWT-SVID needs 1..16 audiences");
  }
  for (const std::string& aud : audiences) {
    AIK_RETURN_IF_ERROR(ValidateAudience(aud));
  }
  AIK_ASSIGN_OR_RETURN(std::string jti_raw, ossl::RandomBytes(16));
  JwtSvid out;
  out.spiffe_id = subject.spiffe_id;
  out.instance = subject.instance;
  out.audiences = audiences;
  out.jti = ossl::Base64UrlEncode(jti_raw);
  Status st = impl_->WithActive([&](CaKey& ca, int64_t now) -> Status {
    AIK_RETURN_IF_ERROR(impl_->CheckIssuable(subject, now));
    const int64_t expiry = now + ttl_s;
    json claims = {{"sub", subject.spiffe_id},
                   {"aud", audiences},
                   {"exp", expiry},
                   {"iat", now},
                   {"jti", out.jti}};
    if (!subject.instance.empty()) claims["aik_instance"] = subject.instance;
    const std::string signing_input =
        ca.jws_header_b64 + "." +
        ossl::Base64UrlEncode(
            claims.dump(-1, ' ', false, json::error_handler_t::replace));
    AIK_ASSIGN_OR_RETURN(std::string sig,
                         ossl::SignEs256(ca.key.get(), signing_input));
    AIK_RETURN_IF_ERROR(impl_->NoteIssued(ca, expiry));
    out.token = signing_input + "." + ossl::Base64UrlEncode(sig);
    out.kid = ca.kid;
    out.issued_at_s = now;
    out.expires_at_s = expiry;
    return absl::OkStatus();
  });
  AIK_RETURN_IF_ERROR(st);
  return out;
}

StatusOr<JwtClaims> NodeCA::ValidateJWTSVID(const std::string& token,
                                            const std::string& audience) const {
  if (audience.empty()) {
    return absl::InvalidArgumentError(
        "validating a JWT-SVID needs an audience");
  }
  if (token.size() > kMaxToken) {
    return Reject("malformed", "token is longer than 8192 bytes");
  }
  const size_t dot1 = token.find('.');
  const size_t dot2 =
      dot1 == std::string::npos ? dot1 : token.find('.', dot1 + 1);
  if (dot2 == std::string::npos ||
      token.find('.', dot2 + 1) != std::string::npos || dot1 == 0 ||
      dot2 == dot1 + 1 || dot2 + 1 == token.size()) {
    return Reject("malformed", "not three non-empty dot-separated parts");
  }
  std::string_view t(token);
  const std::string_view header_b64 = t.substr(0, dot1);
  const std::string_view payload_b64 = t.substr(dot1 + 1, dot2 - dot1 - 1);
  const std::string_view sig_b64 = t.substr(dot2 + 1);

  // Header.
  StatusOr<std::string> header_text = ossl::Base64UrlDecode(header_b64);
  if (!header_text.ok()) {
    return Reject("malformed", "header: " + header_text.status().ToString());
  }
  json header = json::parse(*header_text, nullptr, false);
  if (header.is_discarded() || !header.is_object()) {
    return Reject("malformed", "header is not a JSON object");
  }
  auto alg = Find(header, "alg");
  if (alg == header.end() || !alg->is_string()) {
    return Reject("malformed", "header has no alg");
  }
  if (alg->get_ref<const std::string&>() != "ES256") {
    return Reject("unsupported alg",
                  "\"" + alg->get<std::string>() + "\" (only ES256)");
  }
  auto typ = Find(header, "typ");
  if (typ != header.end() &&
      (!typ->is_string() || (typ->get_ref<const std::string&>() != "JWT" &&
                             typ->get_ref<const std::string&>() != "JOSE"))) {
    return Reject("malformed", "header typ is not JWT");
  }
  if (header.contains("crit")) {
    return Reject("malformed", "header has crit (no extensions understood)");
  }
  auto kid_it = Find(header, "kid");
  if (kid_it == header.end() || !kid_it->is_string()) {
    return Reject("unknown kid", "header has no kid");
  }
  const std::string kid = kid_it->get<std::string>();

  std::shared_ptr<CaKey> ca;
  int64_t now;
  {
    std::shared_lock lock(impl_->mu);
    now = impl_->NowS();
    ca = impl_->FindKidLocked(kid, now);
  }
  if (!ca) {
    return Reject("unknown kid",
                  "\"" + kid + "\" is not in this node's trust bundle");
  }

  // Signature.
  StatusOr<std::string> sig = ossl::Base64UrlDecode(sig_b64);
  if (!sig.ok() || sig->size() != 64) {
    return Reject("bad signature", "not a 64-byte ES256 signature");
  }
  if (!ossl::VerifyEs256(ca->key.get(), t.substr(0, dot2), *sig)) {
    return Reject("bad signature", "ES256 verification failed for kid " + kid);
  }

  // Claims.
  StatusOr<std::string> payload_text = ossl::Base64UrlDecode(payload_b64);
  if (!payload_text.ok()) {
    return Reject("malformed", "payload: " + payload_text.status().ToString());
  }
  json claims = json::parse(*payload_text, nullptr, false);
  if (claims.is_discarded() || !claims.is_object()) {
    return Reject("malformed", "payload is not a JSON object");
  }
  JwtClaims out;
  out.kid = kid;
  auto sub = Find(claims, "sub");
  if (sub == claims.end() || !sub->is_string()) {
    return Reject("malformed", "no sub claim");
  }
  out.spiffe_id = sub->get<std::string>();
  StatusOr<SpiffeId> id = ParseSpiffeId(out.spiffe_id);
  if (!id.ok()) return Reject("malformed", std::string(id.status().message()));
  if (id->trust_domain != impl_->opt.trust_domain || id->path.empty()) {
    return Reject("wrong trust domain", "sub " + out.spiffe_id +
                                            " is not a workload of " +
                                            impl_->opt.trust_domain);
  }
  auto exp = Find(claims, "exp");
  auto iat = Find(claims, "iat");
  if (exp == claims.end() || !exp->is_number_integer()) {
    return Reject("malformed", "no integer exp claim");
  }
  if (iat == claims.end() || !iat->is_number_integer()) {
    return Reject("malformed", "no integer iat claim");
  }
  out.expires_at_s = exp->get<int64_t>();
  out.issued_at_s = iat->get<int64_t>();
  const int64_t leeway = impl_->opt.leeway.count();
  if (now >= out.expires_at_s + leeway) {
    return Reject("expired", "exp " + ossl::FormatTime(out.expires_at_s) +
                                 " is not after now " + ossl::FormatTime(now));
  }
  if (out.issued_at_s > now + leeway) {
    return Reject("not yet valid", "iat " + ossl::FormatTime(out.issued_at_s) +
                                       " is after now " +
                                       ossl::FormatTime(now));
  }
  auto nbf = Find(claims, "nbf");
  if (nbf != claims.end()) {
    if (!nbf->is_number_integer()) return Reject("malformed", "nbf");
    if (nbf->get<int64_t>() > now + leeway) {
      return Reject("not yet valid",
                    "nbf " + ossl::FormatTime(nbf->get<int64_t>()) +
                        " is after now " + ossl::FormatTime(now));
    }
  }
  auto aud = Find(claims, "aud");
  if (aud != claims.end() && aud->is_string()) {
    out.audiences.push_back(aud->get<std::string>());
  } else if (aud != claims.end() && aud->is_array()) {
    for (const json& a : *aud) {
      if (!a.is_string()) return Reject("malformed", "aud has a non-string");
      out.audiences.push_back(a.get<std::string>());
    }
  } else {
    return Reject("malformed", "no aud claim");
  }
  bool for_us = false;
  for (const std::string& a : out.audiences) for_us |= (a == audience);
  if (!for_us) {
    return Reject("wrong audience",
                  "\"" + audience + "\" is not among the token's audiences");
  }
  auto jti = Find(claims, "jti");
  if (jti == claims.end() || !jti->is_string()) {
    return Reject("malformed", "no jti claim");
  }
  out.jti = jti->get<std::string>();
  auto inst = Find(claims, "aik_instance");
  if (inst != claims.end()) {
    if (!inst->is_string()) return Reject("malformed", "aik_instance");
    out.instance = inst->get<std::string>();
  }
  if (impl_->opt.revocations != nullptr) {
    AIK_RETURN_IF_ERROR(impl_->opt.revocations->Check(
        out.spiffe_id, out.instance, out.issued_at_s));
  }
  return out;
}

StatusOr<JwtClaims> NodeCA::ValidateJWTSVIDFrom(
    const std::string& token, const std::string& audience,
    const Subject& presenter) const {
  AIK_ASSIGN_OR_RETURN(JwtClaims claims, ValidateJWTSVID(token, audience));
  if (claims.spiffe_id != presenter.spiffe_id ||
      (!presenter.instance.empty() && claims.instance != presenter.instance)) {
    return Reject("not the presenter's",
                  "the token names " + claims.spiffe_id + "#" +
                      claims.instance + " but the caller is " +
                      presenter.spiffe_id + "#" + presenter.instance);
  }
  return claims;
}

}  // namespace aikernel::identity
