#include "net/peer_auth.h"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <memory>
#include <vector>

#include "identity/ossl.h"
#include "identity/spiffe_id.h"
#include "net/mailbox.h"

namespace aikernel::net {
namespace {

using identity::ossl::BioPtr;
using identity::ossl::MdCtxPtr;
using identity::ossl::PkeyPtr;
using identity::ossl::X509Ptr;
using StorePtr = identity::ossl::X509StorePtr;
using StoreCtxPtr = identity::ossl::X509StoreCtxPtr;
using StackPtr =
    std::unique_ptr<STACK_OF(X509), identity::ossl::Deleter<+[](STACK_OF(X509)* s) {
                      sk_X509_pop_free(s, X509_free);
                    }>>;

Status Unauthenticated(const std::string& why) {
  ERR_clear_error();
  return absl::UnauthenticatedError(why);
}

// Every certificate in `pem`, in order.
std::vector<X509Ptr> ParseCerts(const std::string& pem) {
  std::vector<X509Ptr> out;
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (!bio) return out;
  for (;;) {
    X509* c = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr);
    if (c == nullptr) break;
    out.emplace_back(c);
  }
  ERR_clear_error();
  return out;
}

StatusOr<std::string> UriSan(X509* cert) {
  std::optional<std::vector<std::string>> uris = identity::ossl::UriSans(cert);
  if (!uris) return Unauthenticated("malformed: no subjectAltName");
  if (uris->size() != 1) {
    return Unauthenticated(
        absl::StrCat("malformed: ", uris->size(), " URI SANs, want one spiffe:// ID"));
  }
  const std::string& uri = uris->front();
  StatusOr<identity::SpiffeId> id = identity::ParseSpiffeId(uri);
  if (!id.ok()) return Unauthenticated(absl::StrCat("malformed: ", id.status().message()));
  return id->str();
}

}  // namespace

std::string NodeSpiffeId(const std::string& trust_domain) {
  return "spiffe://" + trust_domain + "/aikernel/node";
}

StatusOr<std::string> SpiffeIdOf(const std::string& cert_pem) {
  std::vector<X509Ptr> certs = ParseCerts(cert_pem);
  if (certs.empty()) return Unauthenticated("malformed: no certificate");
  return UriSan(certs[0].get());
}

StatusOr<std::string> VerifyPeerCertificate(const std::string& leaf_pem,
                                            const std::string& chain_pem,
                                            const std::string& bundle_pem,
                                            const std::string& trust_domain, int64_t now_s) {
  std::vector<X509Ptr> leaf = ParseCerts(leaf_pem);
  if (leaf.empty()) return Unauthenticated("malformed: no peer certificate");
  AIK_ASSIGN_OR_RETURN(std::string id, UriSan(leaf[0].get()));
  StatusOr<identity::SpiffeId> parsed = identity::ParseSpiffeId(id);
  if (!parsed.ok() || parsed->trust_domain != trust_domain) {
    return Unauthenticated(absl::StrCat("wrong trust domain: ", id, " is not in '",
                                        trust_domain, "'"));
  }
  std::vector<X509Ptr> roots = ParseCerts(bundle_pem);
  if (roots.empty()) {
    return Unauthenticated(absl::StrCat("untrusted: the bundle for '", trust_domain,
                                        "' holds no certificate"));
  }
  StorePtr store(X509_STORE_new());
  for (const X509Ptr& r : roots) X509_STORE_add_cert(store.get(), r.get());
  StackPtr untrusted(sk_X509_new_null());
  for (X509Ptr& c : ParseCerts(chain_pem)) {
    // The chain property repeats the leaf first; only intermediates matter.
    if (X509_cmp(c.get(), leaf[0].get()) == 0) continue;
    sk_X509_push(untrusted.get(), c.release());
  }
  StoreCtxPtr ctx(X509_STORE_CTX_new());
  if (!ctx || X509_STORE_CTX_init(ctx.get(), store.get(), leaf[0].get(), untrusted.get()) != 1) {
    return Unauthenticated("malformed: cannot set up verification");
  }
  X509_STORE_CTX_set_time(ctx.get(), 0, static_cast<time_t>(now_s));
  X509_STORE_CTX_set_purpose(ctx.get(), X509_PURPOSE_ANY);
  if (X509_verify_cert(ctx.get()) != 1) {
    int err = X509_STORE_CTX_get_error(ctx.get());
    std::string what = X509_verify_cert_error_string(err);
    if (err == X509_V_ERR_CERT_HAS_EXPIRED) return Unauthenticated("expired: " + what);
    if (err == X509_V_ERR_CERT_NOT_YET_VALID) return Unauthenticated("not yet valid: " + what);
    return Unauthenticated(absl::StrCat("untrusted: ", what, " (against the bundle of '",
                                        trust_domain, "')"));
  }
  return id;
}

StatusOr<std::string> Sign(const std::string& key_pem, const std::string& message) {
  BioPtr bio(BIO_new_mem_buf(key_pem.data(), static_cast<int>(key_pem.size())));
  PkeyPtr key(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
  if (!key) return Unauthenticated("malformed: node TLS key");
  MdCtxPtr md(EVP_MD_CTX_new());
  size_t n = 0;
  if (EVP_DigestSignInit(md.get(), nullptr, EVP_sha256(), nullptr, key.get()) != 1 ||
      EVP_DigestSign(md.get(), nullptr, &n,
                     reinterpret_cast<const unsigned char*>(message.data()),
                     message.size()) != 1) {
    ERR_clear_error();
    return absl::InternalError("assertion: cannot sign");
  }
  std::string sig(n, '\0');
  if (EVP_DigestSign(md.get(), reinterpret_cast<unsigned char*>(sig.data()), &n,
                     reinterpret_cast<const unsigned char*>(message.data()),
                     message.size()) != 1) {
    ERR_clear_error();
    return absl::InternalError("assertion: cannot sign");
  }
  sig.resize(n);
  return sig;
}

Status Verify(const std::string& cert_pem, const std::string& message,
              const std::string& signature) {
  std::vector<X509Ptr> certs = ParseCerts(cert_pem);
  if (certs.empty()) return Unauthenticated("malformed: no certificate to verify with");
  EVP_PKEY* key = X509_get0_pubkey(certs[0].get());
  if (key == nullptr) return Unauthenticated("malformed: certificate has no public key");
  MdCtxPtr md(EVP_MD_CTX_new());
  if (EVP_DigestVerifyInit(md.get(), nullptr, EVP_sha256(), nullptr, key) != 1 ||
      EVP_DigestVerify(md.get(), reinterpret_cast<const unsigned char*>(signature.data()),
                       signature.size(),
                       reinterpret_cast<const unsigned char*>(message.data()),
                       message.size()) != 1) {
    return Unauthenticated("bad signature: the assertion does not verify with the peer's key");
  }
  return absl::OkStatus();
}

namespace {

void Put(std::string* out, std::string_view field) {
  uint64_t n = field.size();
  for (int i = 7; i >= 0; --i) out->push_back(static_cast<char>((n >> (8 * i)) & 0xff));
  out->append(field);
}

void Put(std::string* out, int64_t v) { Put(out, std::to_string(v)); }

}  // namespace

std::string AssertionBytes(const std::string& sender_trust_domain,
                           const std::vector<Envelope>& messages) {
  std::string out = "aikernel-peer-deliver-v1";
  out.push_back('\0');
  Put(&out, sender_trust_domain);
  Put(&out, static_cast<int64_t>(messages.size()));
  for (const Envelope& e : messages) {
    Put(&out, e.message_id);
    Put(&out, e.sender);
    Put(&out, e.recipient);
    Put(&out, e.topic);
    Put(&out, e.payload);
    Put(&out, e.sent_ns);
    Put(&out, e.expires_ns);
    Put(&out, e.correlation);
  }
  return out;
}

std::string ToolCallAssertionBytes(const std::string& sender_trust_domain,
                                   const ToolCallClaim& claim) {
  std::string out = "aikernel-peer-toolcall-v1";
  out.push_back('\0');
  Put(&out, sender_trust_domain);
  Put(&out, claim.caller);
  Put(&out, claim.target);
  Put(&out, claim.tool);
  Put(&out, claim.args_json);
  Put(&out, claim.timeout_ns);
  Put(&out, claim.correlation);
  Put(&out, claim.issued_ns);
  return out;
}

}  // namespace aikernel::net
