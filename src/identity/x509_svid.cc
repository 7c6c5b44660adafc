// NodeCA: X.509-SVID issuance and validation.
#include <openssl/x509v3.h>

#include "identity/ca_internal.h"
#include "identity/spiffe_id.h"

namespace aikernel::identity {

namespace {

Status AddExt(X509* cert, X509V3_CTX* ctx, int nid, const std::string& value) {
  ossl::X509ExtPtr ext(X509V3_EXT_conf_nid(nullptr, ctx, nid, value.c_str()));
  if (!ext || X509_add_ext(cert, ext.get(), -1) != 1) {
    return ossl::SslError("cannot add extension " + value);
  }
  return absl::OkStatus();
}

std::string SerialHex(X509* cert) {
  ossl::BnPtr bn(ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), nullptr));
  if (!bn) return "";
  std::string bytes(static_cast<size_t>(BN_num_bytes(bn.get())), '\0');
  BN_bn2bin(bn.get(), reinterpret_cast<unsigned char*>(bytes.data()));
  return ossl::Hex(bytes);
}

Status Untrusted(const std::string& why) {
  return absl::UnauthenticatedError("untrusted: " + why);
}
Status NotSvid(const std::string& why) {
  return absl::UnauthenticatedError("not an SVID: " + why);
}

}  // namespace

StatusOr<X509Svid> NodeCA::IssueX509SVID(const Subject& subject,
                                         std::chrono::seconds ttl) {
  AIK_ASSIGN_OR_RETURN(const int64_t ttl_s, impl_->TtlSeconds(ttl));
  // Key generation is the slow part; do it before taking any lock.
  AIK_ASSIGN_OR_RETURN(ossl::PkeyPtr key, ossl::GenerateP256());
  AIK_ASSIGN_OR_RETURN(std::string serial, ossl::RandomBytes(16));
  serial[0] = static_cast<char>((serial[0] & 0x7f) | 0x01);  // positive, 128b

  X509Svid out;
  out.spiffe_id = subject.spiffe_id;
  out.instance = subject.instance;
  Status st = impl_->WithActive([&](CaKey& ca, int64_t now) -> Status {
    AIK_RETURN_IF_ERROR(impl_->CheckIssuable(subject, now));
    const int64_t expiry = now + ttl_s;
    ossl::X509Ptr cert(X509_new());
    if (!cert || X509_set_version(cert.get(), X509_VERSION_3) != 1) {
      return ossl::SslError("cannot create a certificate");
    }
    ossl::BnPtr bn(BN_bin2bn(
        reinterpret_cast<const unsigned char*>(serial.data()), 16, nullptr));
    if (!bn ||
        !BN_to_ASN1_INTEGER(bn.get(), X509_get_serialNumber(cert.get()))) {
      return ossl::SslError("cannot set the serial number");
    }
    X509_NAME* name = X509_get_subject_name(cert.get());
    const std::string org = "aikernel";
    if (X509_NAME_add_entry_by_txt(
            name, "O", MBSTRING_UTF8,
            reinterpret_cast<const unsigned char*>(org.c_str()), -1, -1,
            0) != 1) {
      return ossl::SslError("cannot set the subject");
    }
    if (!subject.instance.empty() &&
        X509_NAME_add_entry_by_txt(
            name, "CN", MBSTRING_UTF8,
            reinterpret_cast<const unsigned char*>(subject.instance.c_str()),
            -1, -1, 0) != 1) {
      return ossl::SslError("cannot set the subject");
    }
    if (X509_set_issuer_name(cert.get(),
                             X509_get_subject_name(ca.cert.get())) != 1 ||
        !ASN1_TIME_set(X509_getm_notBefore(cert.get()),
                       static_cast<time_t>(now)) ||
        !ASN1_TIME_set(X509_getm_notAfter(cert.get()),
                       static_cast<time_t>(expiry))) {
      return ossl::SslError("cannot set issuer or validity");
    }
    AIK_RETURN_IF_ERROR(ossl::SetP256PublicKey(cert.get(), key.get()));
    X509V3_CTX ctx;
    X509V3_set_ctx(&ctx, ca.cert.get(), cert.get(), nullptr, nullptr, 0);
    AIK_RETURN_IF_ERROR(
        AddExt(cert.get(), &ctx, NID_basic_constraints, "critical,CA:FALSE"));
    AIK_RETURN_IF_ERROR(
        AddExt(cert.get(), &ctx, NID_key_usage, "critical,digitalSignature"));
    AIK_RETURN_IF_ERROR(
        AddExt(cert.get(), &ctx, NID_ext_key_usage, "serverAuth,clientAuth"));
    AIK_RETURN_IF_ERROR(
        AddExt(cert.get(), &ctx, NID_subject_key_identifier, "hash"));
    AIK_RETURN_IF_ERROR(
        AddExt(cert.get(), &ctx, NID_authority_key_identifier, "keyid:always"));
    AIK_RETURN_IF_ERROR(AddExt(cert.get(), &ctx, NID_subject_alt_name,
                               "URI:" + subject.spiffe_id));
    if (X509_sign(cert.get(), ca.key.get(), EVP_sha256()) <= 0) {
      return ossl::SslError("cannot sign the X.509-SVID");
    }
    // Track the expiry (and persist its bound) before handing it out.
    AIK_RETURN_IF_ERROR(impl_->NoteIssued(ca, expiry));
    AIK_ASSIGN_OR_RETURN(out.cert_pem, ossl::CertPem(cert.get()));
    out.bundle_pem = impl_->BundlePemLocked(now);
    out.serial_hex = SerialHex(cert.get());
    out.ca_kid = ca.kid;
    out.issued_at_s = now;
    out.expires_at_s = expiry;
    return absl::OkStatus();
  });
  AIK_RETURN_IF_ERROR(st);
  AIK_ASSIGN_OR_RETURN(out.key_pem, ossl::P256PrivateKeyPem(key.get()));
  return out;
}

StatusOr<X509SvidInfo> NodeCA::ValidateX509SVID(
    const std::string& cert_pem) const {
  StatusOr<ossl::X509Ptr> parsed = ossl::ParseCertPem(cert_pem);
  if (!parsed.ok()) {
    return absl::UnauthenticatedError("malformed: " +
                                      parsed.status().ToString());
  }
  X509* leaf = parsed->get();
  if (X509_check_ca(leaf) != 0) return NotSvid("the certificate is a CA");
  X509SvidInfo info;
  {
    std::shared_lock lock(impl_->mu);
    const int64_t now = impl_->NowS();
    ossl::X509StorePtr store(X509_STORE_new());
    ossl::X509StoreCtxPtr ctx(X509_STORE_CTX_new());
    if (!store || !ctx) return ossl::SslError("cannot make an X509_STORE");
    std::vector<std::shared_ptr<CaKey>> trusted;
    for (const auto& ca : impl_->cas) {
      if (!Impl::InBundle(*ca, now)) continue;
      if (X509_STORE_add_cert(store.get(), ca->cert.get()) != 1) {
        return ossl::SslError("cannot add a CA to the store");
      }
      trusted.push_back(ca);
    }
    if (X509_STORE_CTX_init(ctx.get(), store.get(), leaf, nullptr) != 1) {
      return ossl::SslError("cannot init the verify context");
    }
    X509_STORE_CTX_set_time(ctx.get(), 0, static_cast<time_t>(now));
    if (X509_verify_cert(ctx.get()) != 1) {
      int err = X509_STORE_CTX_get_error(ctx.get());
      ossl::SslErrors();
      return Untrusted(X509_verify_cert_error_string(err));
    }
    STACK_OF(X509)* chain = X509_STORE_CTX_get0_chain(ctx.get());
    X509* issuer = sk_X509_num(chain) > 1 ? sk_X509_value(chain, 1) : nullptr;
    for (const auto& ca : trusted) {
      if (issuer != nullptr && X509_cmp(issuer, ca->cert.get()) == 0) {
        info.ca_kid = ca->kid;
      }
    }
    if (info.ca_kid.empty()) return Untrusted("not issued by a node CA");
  }
  std::vector<std::string> uris =
      ossl::UriSans(leaf).value_or(std::vector<std::string>{});
  if (uris.size() != 1) return NotSvid("it must have exactly one URI SAN");
  info.spiffe_id = uris[0];
  Status id = ParseWorkloadId(info.spiffe_id, impl_->opt.trust_domain).status();
  if (!id.ok()) return NotSvid(std::string(id.message()));
  X509_NAME* name = X509_get_subject_name(leaf);
  int idx = X509_NAME_get_index_by_NID(name, NID_commonName, -1);
  if (idx >= 0) {
    const ASN1_STRING* cn =
        X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, idx));
    info.instance.assign(
        reinterpret_cast<const char*>(ASN1_STRING_get0_data(cn)),
        static_cast<size_t>(ASN1_STRING_length(cn)));
  }
  info.serial_hex = SerialHex(leaf);
  AIK_ASSIGN_OR_RETURN(info.issued_at_s,
                       ossl::Asn1ToUnix(X509_get0_notBefore(leaf)));
  AIK_ASSIGN_OR_RETURN(info.expires_at_s,
                       ossl::Asn1ToUnix(X509_get0_notAfter(leaf)));
  if (impl_->opt.revocations != nullptr) {
    AIK_RETURN_IF_ERROR(impl_->opt.revocations->Check(
        info.spiffe_id, info.instance, info.issued_at_s));
  }
  return info;
}

}  // namespace aikernel::identity
