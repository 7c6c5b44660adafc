#include "rpc/identity_service.h"

#include <grpcpp/grpcpp.h>
#include <spdlog/spdlog.h>

#include "aikernel/v1/identity.grpc.pb.h"
#include "rpc/service_util.h"

namespace aikernel::rpc {
namespace {

namespace pb = ::aikernel::v1;
using kernel::CallRequest;
using kernel::IdentityCalls;
using kernel::Principal;
using kernel::Syscall;

// Audiences are at most 512 bytes (identity/ca.h); a longer one is refused
// by the CA, and the ledger keeps a bounded prefix of it.
constexpr size_t kMaxResourceAudience = 512;

void SetSeconds(int64_t s, google::protobuf::Timestamp* ts) {
  SetTimestamp(s * 1'000'000'000, ts);
}

void ToProto(const identity::TrustBundle& b, pb::TrustBundleResponse* out) {
  out->set_trust_domain(b.trust_domain);
  out->set_pem(b.pem);
  out->set_jwks_json(b.jwks_json);
  out->set_spiffe_bundle_json(b.spiffe_bundle_json);
  for (const identity::CaInfo& ca : b.cas) {
    pb::CertificateAuthority* c = out->add_cas();
    c->set_kid(ca.kid);
    SetSeconds(ca.not_before_s, c->mutable_not_before());
    SetSeconds(ca.not_after_s, c->mutable_not_after());
    c->set_active(ca.active);
    if (ca.retired_at_s != 0) SetSeconds(ca.retired_at_s, c->mutable_retired_at());
    if (ca.issued_until_s != 0) SetSeconds(ca.issued_until_s, c->mutable_issued_until());
  }
}

class IdentityService final : public pb::Identity::Service {
 public:
  explicit IdentityService(kernel::Kernel* k) : k_(k) {}

  grpc::Status FetchX509SVID(grpc::ServerContext* ctx, const pb::FetchX509SVIDRequest* req,
                             pb::FetchX509SVIDResponse* resp) override {
    CallRequest call{CallerOf(ctx), Syscall::kIdentityFetchX509, "", req};
    call.bind = &IdentityCalls::BindFetch;
    return Finish(ctx, k_->Dispatch(call, [&](const Principal& p) -> Status {
      AIK_ASSIGN_OR_RETURN(IdentityCalls * id, k_->Identity());
      AIK_ASSIGN_OR_RETURN(identity::X509Svid s, id->FetchX509(p));
      pb::X509SVID* out = resp->mutable_svid();
      out->set_spiffe_id(s.spiffe_id);
      out->set_instance_id(s.instance);
      out->set_cert_pem(s.cert_pem);
      out->set_key_pem(s.key_pem);
      out->set_bundle_pem(s.bundle_pem);
      out->set_serial_hex(s.serial_hex);
      out->set_ca_kid(s.ca_kid);
      SetSeconds(s.issued_at_s, out->mutable_issued_at());
      SetSeconds(s.expires_at_s, out->mutable_expires_at());
      spdlog::debug("identity: issued X.509-SVID serial {} to {} (expires {})", s.serial_hex,
                    p.Id(), s.expires_at_s);
      return absl::OkStatus();
    }));
  }

  grpc::Status FetchJWTSVID(grpc::ServerContext* ctx, const pb::FetchJWTSVIDRequest* req,
                            pb::FetchJWTSVIDResponse* resp) override {
    CallRequest call{CallerOf(ctx), Syscall::kIdentityFetchJwt, "", req};
    call.bind = &IdentityCalls::BindFetch;
    return Finish(ctx, k_->Dispatch(call, [&](const Principal& p) -> Status {
      AIK_ASSIGN_OR_RETURN(IdentityCalls * id, k_->Identity());
      std::vector<std::string> aud(req->audiences().begin(), req->audiences().end());
      if (aud.empty()) return absl::InvalidArgumentError("audiences: at least one is required");
      AIK_ASSIGN_OR_RETURN(identity::JwtSvid s, id->FetchJwt(p, aud));
      pb::JWTSVID* out = resp->mutable_svid();
      out->set_token(s.token);
      out->set_spiffe_id(s.spiffe_id);
      out->set_instance_id(s.instance);
      for (const auto& a : s.audiences) out->add_audiences(a);
      out->set_jti(s.jti);
      out->set_kid(s.kid);
      SetSeconds(s.issued_at_s, out->mutable_issued_at());
      SetSeconds(s.expires_at_s, out->mutable_expires_at());
      spdlog::debug("identity: issued JWT-SVID jti {} to {}", s.jti, p.Id());
      return absl::OkStatus();
    }));
  }

  grpc::Status ValidateJWTSVID(grpc::ServerContext* ctx, const pb::ValidateJWTSVIDRequest* req,
                               pb::ValidateJWTSVIDResponse* resp) override {
    Status rejection;
    const std::string& aud = req->audience();
    CallRequest call{CallerOf(ctx), Syscall::kIdentityValidateJwt,
                     "jwt-audience:" + (aud.size() <= kMaxResourceAudience
                                            ? aud
                                            : aud.substr(0, kMaxResourceAudience) +
                                                  "...(truncated)"),
                     req};
    call.audited_outcome = &rejection;
    return Finish(ctx, k_->Dispatch(call, [&](const Principal& p) -> Status {
      AIK_ASSIGN_OR_RETURN(IdentityCalls * id, k_->Identity());
      if (aud.empty()) return absl::InvalidArgumentError("audience: must not be empty");
      StatusOr<identity::JwtClaims> claims = id->Validate(req->token(), aud);
      if (!claims.ok()) {
        if (claims.status().code() != absl::StatusCode::kUnauthenticated) {
          return claims.status();  // not a verdict on the token: an error
        }
        rejection = claims.status();
        resp->set_valid(false);
        resp->set_reason(std::string(claims.status().message()));
        spdlog::info("identity: {} presented a JWT-SVID that was refused: {}", p.Id(),
                     std::string(claims.status().message()));
        return absl::OkStatus();
      }
      resp->set_valid(true);
      resp->set_subject_is_caller(
          p.kind == Principal::Kind::kAgent && claims->spiffe_id == p.spiffe_id &&
          (claims->instance.empty() || claims->instance == p.instance_id));
      resp->set_spiffe_id(claims->spiffe_id);
      resp->set_instance_id(claims->instance);
      for (const auto& a : claims->audiences) resp->add_audiences(a);
      resp->set_jti(claims->jti);
      resp->set_kid(claims->kid);
      SetSeconds(claims->issued_at_s, resp->mutable_issued_at());
      SetSeconds(claims->expires_at_s, resp->mutable_expires_at());
      return absl::OkStatus();
    }));
  }

  grpc::Status TrustBundle(grpc::ServerContext* ctx, const pb::TrustBundleRequest* req,
                           pb::TrustBundleResponse* resp) override {
    CallRequest call{CallerOf(ctx), Syscall::kIdentityBundle, TrustDomainResource(), req};
    return Finish(ctx, k_->Dispatch(call, [&](const Principal&) -> Status {
      AIK_ASSIGN_OR_RETURN(IdentityCalls * id, k_->Identity());
      ToProto(id->Bundle(), resp);
      return absl::OkStatus();
    }));
  }

  grpc::Status RotateCA(grpc::ServerContext* ctx, const pb::RotateCARequest* req,
                        pb::RotateCAResponse* resp) override {
    CallRequest call{CallerOf(ctx), Syscall::kIdentityRotateCa, TrustDomainResource(), req};
    return Finish(ctx, k_->Dispatch(call, [&](const Principal& p) -> Status {
      AIK_ASSIGN_OR_RETURN(IdentityCalls * id, k_->Identity());
      AIK_ASSIGN_OR_RETURN(auto kids, id->RotateCA());
      resp->set_kid(kids.first);
      resp->set_previous_kid(kids.second);
      ToProto(id->Bundle(), resp->mutable_bundle());
      spdlog::info("identity: {} rotated the node CA: {} is the signer, {} retired", p.Id(),
                   kids.first, kids.second);
      return absl::OkStatus();
    }));
  }

 private:
  // "trust-domain:<td>": Cedar's TrustDomain::"<td>".
  std::string TrustDomainResource() const {
    StatusOr<IdentityCalls*> id = k_->Identity();
    return "trust-domain:" + (id.ok() ? (*id)->trust_domain() : std::string("none"));
  }

  kernel::Kernel* k_;
};

}  // namespace

ServicePtr MakeIdentityService(kernel::Kernel* kernel) {
  return ServicePtr(new IdentityService(kernel), [](grpc::Service* s) { delete s; });
}

}  // namespace aikernel::rpc
