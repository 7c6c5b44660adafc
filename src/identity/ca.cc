// NodeCA: keys, files, rotation and the trust bundle. Issuance and
// validation live in x509_svid.cc and jwt_svid.cc.
#include <dirent.h>
#include <openssl/x509v3.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <climits>
#include <nlohmann/json.hpp>
#include <set>

#include "identity/ca_internal.h"
#include "identity/spiffe_id.h"

namespace aikernel::identity {

using nlohmann::json;

int64_t SystemNowNs() {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return int64_t{ts.tv_sec} * 1000000000 + ts.tv_nsec;
}

std::string JwkThumbprint(const std::string& x_b64, const std::string& y_b64) {
  // RFC 7638 section 3.2: required members in lexicographic order, no
  // whitespace.
  const std::string canonical = R"({"crv":"P-256","kty":"EC","x":")" + x_b64 +
                                R"(","y":")" + y_b64 + R"("})";
  return ossl::Base64UrlEncode(ossl::Sha256(canonical));
}

Status ValidateInstance(const std::string& instance) {
  if (instance.size() > 128) {
    return absl::InvalidArgumentError("instance id is longer than 128 bytes");
  }
  for (char c : instance) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || c == '.' || c == '_' || c == ':' ||
              c == '-';
    if (!ok) {
      return absl::InvalidArgumentError(
          "instance id \"" + instance +
          "\" has a character outside [A-Za-z0-9._:-]");
    }
  }
  return absl::OkStatus();
}

namespace {

std::string KeyPath(const std::string& dir, const std::string& kid) {
  return dir + "/ca-" + kid + ".key";
}
std::string CertPath(const std::string& dir, const std::string& kid) {
  return dir + "/ca-" + kid + ".crt";
}

Status AddExt(X509* cert, X509V3_CTX* ctx, int nid, const std::string& value) {
  ossl::X509ExtPtr ext(X509V3_EXT_conf_nid(nullptr, ctx, nid, value.c_str()));
  if (!ext || X509_add_ext(cert, ext.get(), -1) != 1) {
    return ossl::SslError("cannot add extension " + value);
  }
  return absl::OkStatus();
}

// Fills the derived fields of a CaKey from its key and certificate.
StatusOr<std::shared_ptr<CaKey>> MakeCaKey(ossl::PkeyPtr key,
                                           ossl::X509Ptr cert) {
  auto ca = std::make_shared<CaKey>();
  std::string x, y;
  AIK_RETURN_IF_ERROR(ossl::P256Coordinates(key.get(), &x, &y));
  ca->jwk_x = ossl::Base64UrlEncode(x);
  ca->jwk_y = ossl::Base64UrlEncode(y);
  ca->kid = JwkThumbprint(ca->jwk_x, ca->jwk_y);
  json header = {{"alg", "ES256"}, {"kid", ca->kid}, {"typ", "JWT"}};
  ca->jws_header_b64 = ossl::Base64UrlEncode(header.dump());
  AIK_ASSIGN_OR_RETURN(ca->cert_pem, ossl::CertPem(cert.get()));
  unsigned char* der = nullptr;
  int der_len = i2d_X509(cert.get(), &der);
  if (der_len <= 0) return ossl::SslError("cannot encode the CA certificate");
  std::string b64(4 * ((static_cast<size_t>(der_len) + 2) / 3) + 1, '\0');
  int b64_len = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(b64.data()),
                                der, der_len);
  OPENSSL_free(der);
  b64.resize(static_cast<size_t>(b64_len));
  ca->cert_der_b64 = std::move(b64);
  AIK_ASSIGN_OR_RETURN(ca->not_before_s,
                       ossl::Asn1ToUnix(X509_get0_notBefore(cert.get())));
  AIK_ASSIGN_OR_RETURN(ca->not_after_s,
                       ossl::Asn1ToUnix(X509_get0_notAfter(cert.get())));
  ca->key = std::move(key);
  ca->cert = std::move(cert);
  return ca;
}

StatusOr<std::shared_ptr<CaKey>> GenerateCa(const std::string& trust_domain,
                                            int64_t now_s, int64_t ttl_s) {
  AIK_ASSIGN_OR_RETURN(ossl::PkeyPtr key, ossl::GenerateP256());
  std::string x, y;
  AIK_RETURN_IF_ERROR(ossl::P256Coordinates(key.get(), &x, &y));
  const std::string kid =
      JwkThumbprint(ossl::Base64UrlEncode(x), ossl::Base64UrlEncode(y));

  ossl::X509Ptr cert(X509_new());
  if (!cert || X509_set_version(cert.get(), X509_VERSION_3) != 1) {
    return ossl::SslError("cannot create a certificate");
  }
  AIK_ASSIGN_OR_RETURN(std::string serial, ossl::RandomBytes(16));
  serial[0] = static_cast<char>((serial[0] & 0x7f) | 0x01);
  ossl::BnPtr bn(BN_bin2bn(
      reinterpret_cast<const unsigned char*>(serial.data()), 16, nullptr));
  if (!bn || !BN_to_ASN1_INTEGER(bn.get(), X509_get_serialNumber(cert.get()))) {
    return ossl::SslError("cannot set the serial number");
  }
  X509_NAME* name = X509_get_subject_name(cert.get());
  const std::string cn = trust_domain + " CA " + kid.substr(0, 12);
  const std::string org = "aikernel";
  if (X509_NAME_add_entry_by_txt(
          name, "O", MBSTRING_UTF8,
          reinterpret_cast<const unsigned char*>(org.c_str()), -1, -1,
          0) != 1 ||
      X509_NAME_add_entry_by_txt(
          name, "CN", MBSTRING_UTF8,
          reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1, 0) != 1 ||
      X509_set_issuer_name(cert.get(), name) != 1) {
    return ossl::SslError("cannot set the CA name");
  }
  if (!ASN1_TIME_set(X509_getm_notBefore(cert.get()),
                     static_cast<time_t>(now_s - 60)) ||
      !ASN1_TIME_set(X509_getm_notAfter(cert.get()),
                     static_cast<time_t>(now_s + ttl_s)) ||
      X509_set_pubkey(cert.get(), key.get()) != 1) {
    return ossl::SslError("cannot set the CA validity or key");
  }
  X509V3_CTX ctx;
  X509V3_set_ctx(&ctx, cert.get(), cert.get(), nullptr, nullptr, 0);
  AIK_RETURN_IF_ERROR(
      AddExt(cert.get(), &ctx, NID_basic_constraints, "critical,CA:TRUE"));
  AIK_RETURN_IF_ERROR(
      AddExt(cert.get(), &ctx, NID_key_usage, "critical,keyCertSign,cRLSign"));
  AIK_RETURN_IF_ERROR(
      AddExt(cert.get(), &ctx, NID_subject_key_identifier, "hash"));
  AIK_RETURN_IF_ERROR(
      AddExt(cert.get(), &ctx, NID_authority_key_identifier, "keyid:always"));
  AIK_RETURN_IF_ERROR(AddExt(cert.get(), &ctx, NID_subject_alt_name,
                             "URI:spiffe://" + trust_domain));
  if (X509_sign(cert.get(), key.get(), EVP_sha256()) <= 0) {
    return ossl::SslError("cannot self-sign the CA certificate");
  }
  return MakeCaKey(std::move(key), std::move(cert));
}

// Writes a new CA's key (0600, exclusive) and certificate (0644).
Status WriteCaFiles(const std::string& dir, CaKey& ca) {
  AIK_ASSIGN_OR_RETURN(std::string pem, ossl::PrivateKeyPem(ca.key.get()));
  Status s = ossl::WriteFileAtomic(KeyPath(dir, ca.kid), pem, 0600,
                                   /*exclusive=*/true);
  OPENSSL_cleanse(pem.data(), pem.size());
  AIK_RETURN_IF_ERROR(s);
  return ossl::WriteFileAtomic(CertPath(dir, ca.kid), ca.cert_pem, 0644,
                               /*exclusive=*/false);
}

StatusOr<std::shared_ptr<CaKey>> LoadCa(const std::string& dir,
                                        const std::string& kid) {
  AIK_ASSIGN_OR_RETURN(ossl::PkeyPtr key,
                       ossl::ReadPrivateKeyFile(KeyPath(dir, kid)));
  if (!ossl::IsP256(key.get())) {
    return absl::FailedPreconditionError("key file " + KeyPath(dir, kid) +
                                         " does not hold an EC P-256 key");
  }
  StatusOr<std::string> pem = ossl::ReadFile(CertPath(dir, kid));
  if (!pem.ok()) {
    return absl::DataLossError("CA certificate missing: " +
                               pem.status().ToString());
  }
  StatusOr<ossl::X509Ptr> cert = ossl::ParseCertPem(*pem);
  if (!cert.ok()) {
    return absl::DataLossError(CertPath(dir, kid) +
                               " is damaged: " + cert.status().ToString());
  }
  if (X509_check_private_key(cert->get(), key.get()) != 1) {
    ossl::SslErrors();
    return absl::DataLossError(CertPath(dir, kid) + " does not match " +
                               KeyPath(dir, kid));
  }
  AIK_ASSIGN_OR_RETURN(auto ca,
                       MakeCaKey(std::move(key), std::move(cert).value()));
  if (ca->kid != kid) {
    return absl::DataLossError("CA key " + KeyPath(dir, kid) + " has key id " +
                               ca->kid);
  }
  return ca;
}

// Removes ca-*.key / ca-*.crt files whose kid is not in `keep` (left by a
// crash during rotation, or by a CA that dropped out of the bundle).
void RemoveStrayCaFiles(const std::string& dir,
                        const std::set<std::string>& keep) {
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return;
  std::vector<std::string> doomed;
  while (struct dirent* e = ::readdir(d)) {
    std::string name = e->d_name;
    if (name.rfind("ca-", 0) != 0 || name.size() < 8) continue;
    std::string ext = name.substr(name.size() - 4);
    if (ext != ".key" && ext != ".crt") continue;
    std::string kid = name.substr(3, name.size() - 7);
    if (keep.count(kid) == 0) doomed.push_back(dir + "/" + name);
  }
  ::closedir(d);
  for (const std::string& path : doomed) ::unlink(path.c_str());
}

}  // namespace

// ---------------------------------------------------------------- Impl ---

bool NodeCA::Impl::InBundle(const CaKey& ca, int64_t now_s) {
  if (ca.not_after_s <= now_s) return false;
  if (ca.retired_at_s == 0) return true;
  return ca.issued_until_s.load(std::memory_order_relaxed) > now_s;
}

std::shared_ptr<CaKey> NodeCA::Impl::FindKidLocked(const std::string& kid,
                                                   int64_t now_s) const {
  for (const auto& ca : cas) {
    if (ca->kid == kid) return InBundle(*ca, now_s) ? ca : nullptr;
  }
  return nullptr;
}

std::string NodeCA::Impl::BundlePemLocked(int64_t now_s) const {
  std::string pem = active->cert_pem;
  for (auto it = cas.rbegin(); it != cas.rend(); ++it) {
    if (*it != active && InBundle(**it, now_s)) pem += (*it)->cert_pem;
  }
  return pem;
}

Status NodeCA::Impl::WriteStateLocked() {
  json doc = {{"version", 1},
              {"trust_domain", opt.trust_domain},
              {"active", active->kid},
              {"cas", json::array()}};
  for (const auto& ca : cas) {
    doc["cas"].push_back({{"kid", ca->kid},
                          {"retired_at", ca->retired_at_s},
                          {"issued_until", ca->persisted_until_s.load()}});
  }
  return ossl::WriteFileAtomic(state_path, doc.dump(1) + "\n", 0600,
                               /*exclusive=*/false);
}

Status NodeCA::Impl::NoteIssued(CaKey& ca, int64_t expiry_s) {
  int64_t cur = ca.issued_until_s.load(std::memory_order_relaxed);
  while (cur < expiry_s && !ca.issued_until_s.compare_exchange_weak(
                               cur, expiry_s, std::memory_order_relaxed)) {
  }
  if (expiry_s <= ca.persisted_until_s.load()) return absl::OkStatus();
  std::lock_guard lock(state_mu);
  if (expiry_s <= ca.persisted_until_s.load()) return absl::OkStatus();
  const int64_t old = ca.persisted_until_s.load();
  ca.persisted_until_s.store(expiry_s + opt.expiry_step.count());
  Status s = WriteStateLocked();
  if (!s.ok()) ca.persisted_until_s.store(old);
  return s;
}

Status NodeCA::Impl::CheckIssuable(const Subject& subject,
                                   int64_t now_s) const {
  AIK_RETURN_IF_ERROR(
      ParseWorkloadId(subject.spiffe_id, opt.trust_domain).status());
  AIK_RETURN_IF_ERROR(ValidateInstance(subject.instance));
  if (opt.revocations == nullptr) return absl::OkStatus();
  if (!subject.instance.empty() &&
      opt.revocations->IsInstanceRevoked(subject.spiffe_id, subject.instance)) {
    return absl::PermissionDeniedError(
        "instance " + subject.instance + " of " + subject.spiffe_id +
        " is revoked: no credentials are issued to it");
  }
  int64_t cutoff = opt.revocations->SubjectCutoff(subject.spiffe_id);
  if (now_s <= cutoff) {
    return absl::PermissionDeniedError(
        "credentials for " + subject.spiffe_id + " issued up to " +
        ossl::FormatTime(cutoff) +
        " are revoked; new ones can be issued from " +
        ossl::FormatTime(cutoff + 1));
  }
  return absl::OkStatus();
}

StatusOr<int64_t> NodeCA::Impl::TtlSeconds(std::chrono::seconds ttl) const {
  if (ttl.count() <= 0) {
    return absl::InvalidArgumentError("SVID ttl must be positive");
  }
  return std::min<int64_t>(ttl.count(), opt.max_svid_ttl.count());
}

StatusOr<std::string> NodeCA::Impl::RotateLocked(int64_t now_s) {
  AIK_ASSIGN_OR_RETURN(auto fresh,
                       GenerateCa(opt.trust_domain, now_s, opt.ca_ttl.count()));
  AIK_RETURN_IF_ERROR(WriteCaFiles(opt.keys_dir, *fresh));
  std::lock_guard state_lock(state_mu);
  std::shared_ptr<CaKey> old = active;
  const int64_t old_retired = old->retired_at_s;
  const int64_t old_persisted = old->persisted_until_s.load();
  old->retired_at_s = now_s;
  // The old CA issues nothing more: its exact latest expiry is final.
  old->persisted_until_s.store(old->issued_until_s.load());
  // Drop CAs out of the bundle for good.
  std::vector<std::shared_ptr<CaKey>> kept;
  for (const auto& ca : cas) {
    if (InBundle(*ca, now_s)) kept.push_back(ca);
  }
  kept.push_back(fresh);
  std::vector<std::shared_ptr<CaKey>> previous = std::move(cas);
  cas = std::move(kept);
  active = fresh;
  Status s = WriteStateLocked();
  if (!s.ok()) {  // keep the old signer; the new files are stray
    cas = std::move(previous);
    active = old;
    old->retired_at_s = old_retired;
    old->persisted_until_s.store(old_persisted);
    ::unlink(KeyPath(opt.keys_dir, fresh->kid).c_str());
    ::unlink(CertPath(opt.keys_dir, fresh->kid).c_str());
    return s;
  }
  std::set<std::string> keep;
  for (const auto& ca : cas) keep.insert(ca->kid);
  RemoveStrayCaFiles(opt.keys_dir, keep);
  return fresh->kid;
}

// -------------------------------------------------------------- NodeCA ---

NodeCA::NodeCA(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
NodeCA::~NodeCA() = default;

StatusOr<std::unique_ptr<NodeCA>> NodeCA::Open(Options options) {
  AIK_RETURN_IF_ERROR(ValidateTrustDomain(options.trust_domain));
  if (options.max_svid_ttl.count() <= 0 || options.expiry_step.count() < 0 ||
      options.leeway.count() < 0 ||
      options.ca_ttl.count() < 2 * options.max_svid_ttl.count()) {
    return absl::InvalidArgumentError(
        "identity TTLs: need max_svid_ttl > 0 and ca_ttl >= 2 * max_svid_ttl");
  }
  if (!options.now_ns) options.now_ns = SystemNowNs;
  auto impl = std::make_unique<Impl>();
  impl->opt = std::move(options);
  const std::string& dir = impl->opt.keys_dir;
  impl->state_path = dir + "/ca.json";
  AIK_RETURN_IF_ERROR(ossl::EnsurePrivateDir(dir));
  const int64_t now = impl->NowS();

  StatusOr<std::string> text = ossl::ReadFile(impl->state_path);
  if (absl::IsNotFound(text.status())) {
    // First start.
    AIK_ASSIGN_OR_RETURN(auto ca, GenerateCa(impl->opt.trust_domain, now,
                                             impl->opt.ca_ttl.count()));
    AIK_RETURN_IF_ERROR(WriteCaFiles(dir, *ca));
    impl->cas.push_back(ca);
    impl->active = ca;
    AIK_RETURN_IF_ERROR(impl->WriteStateLocked());
  } else {
    if (!text.ok()) return text.status();
    json doc = json::parse(*text, nullptr, /*allow_exceptions=*/false);
    auto bad = [&](const std::string& why) {
      return absl::DataLossError("CA state file " + impl->state_path +
                                 " is damaged: " + why);
    };
    if (doc.is_discarded() || !doc.is_object()) return bad("not JSON");
    if (!doc.contains("version") || doc["version"] != 1) {
      return bad("unknown version");
    }
    if (!doc.contains("trust_domain") || !doc["trust_domain"].is_string() ||
        !doc.contains("active") || !doc["active"].is_string() ||
        !doc.contains("cas") || !doc["cas"].is_array()) {
      return bad("missing trust_domain, active or cas");
    }
    const std::string td = doc["trust_domain"].get<std::string>();
    if (td != impl->opt.trust_domain) {
      return absl::FailedPreconditionError(
          "the node CA in " + dir + " is for trust domain " + td +
          ", but the configured trust domain is " + impl->opt.trust_domain +
          " (move the ca-* files and ca.json away to make a new CA)");
    }
    const std::string active_kid = doc["active"].get<std::string>();
    for (const json& e : doc["cas"]) {
      if (!e.is_object() || !e.contains("kid") || !e["kid"].is_string() ||
          !e.contains("retired_at") || !e["retired_at"].is_number_integer() ||
          !e.contains("issued_until") ||
          !e["issued_until"].is_number_integer()) {
        return bad("a CA entry lacks kid, retired_at or issued_until");
      }
      const std::string kid = e["kid"].get<std::string>();
      if (kid.empty() || kid.find('/') != std::string::npos) {
        return bad("bad kid");
      }
      AIK_ASSIGN_OR_RETURN(auto ca, LoadCa(dir, kid));
      ca->retired_at_s = e["retired_at"].get<int64_t>();
      ca->issued_until_s.store(e["issued_until"].get<int64_t>());
      ca->persisted_until_s.store(e["issued_until"].get<int64_t>());
      if (kid == active_kid) {
        ca->retired_at_s = 0;
        impl->active = ca;
      }
      impl->cas.push_back(ca);
    }
    if (!impl->active) return bad("the active CA is not listed");
    // Forget CAs that have dropped out of the bundle.
    std::vector<std::shared_ptr<CaKey>> kept;
    for (const auto& ca : impl->cas) {
      if (ca == impl->active || Impl::InBundle(*ca, now)) kept.push_back(ca);
    }
    if (kept.size() != impl->cas.size()) {
      impl->cas = std::move(kept);
      AIK_RETURN_IF_ERROR(impl->WriteStateLocked());
    }
  }
  std::set<std::string> keep;
  for (const auto& ca : impl->cas) keep.insert(ca->kid);
  RemoveStrayCaFiles(dir, keep);
  if (impl->active->not_after_s - now < impl->opt.max_svid_ttl.count()) {
    std::unique_lock lock(impl->mu);
    AIK_RETURN_IF_ERROR(impl->RotateLocked(now).status());
  }
  return std::unique_ptr<NodeCA>(new NodeCA(std::move(impl)));
}

const std::string& NodeCA::trust_domain() const {
  return impl_->opt.trust_domain;
}

std::string NodeCA::ActiveKid() const {
  std::shared_lock lock(impl_->mu);
  return impl_->active->kid;
}

StatusOr<std::string> NodeCA::RotateCA() {
  std::unique_lock lock(impl_->mu);
  return impl_->RotateLocked(impl_->NowS());
}

TrustBundle NodeCA::Bundle() const {
  std::shared_lock lock(impl_->mu);
  const int64_t now = impl_->NowS();
  TrustBundle out;
  out.trust_domain = impl_->opt.trust_domain;
  std::vector<std::shared_ptr<CaKey>> order = {impl_->active};
  for (auto it = impl_->cas.rbegin(); it != impl_->cas.rend(); ++it) {
    if (*it != impl_->active && Impl::InBundle(**it, now)) order.push_back(*it);
  }
  json keys = json::array();
  json spiffe_keys = json::array();
  for (const auto& ca : order) {
    spiffe_keys.push_back({{"use", "x509-svid"},
                           {"kty", "EC"},
                           {"crv", "P-256"},
                           {"x", ca->jwk_x},
                           {"y", ca->jwk_y},
                           {"x5c", json::array({ca->cert_der_b64})}});
    spiffe_keys.push_back({{"use", "jwt-svid"},
                           {"kty", "EC"},
                           {"crv", "P-256"},
                           {"x", ca->jwk_x},
                           {"y", ca->jwk_y},
                           {"kid", ca->kid}});
    out.pem += ca->cert_pem;
    keys.push_back({{"kty", "EC"},
                    {"crv", "P-256"},
                    {"x", ca->jwk_x},
                    {"y", ca->jwk_y},
                    {"kid", ca->kid},
                    {"use", "sig"},
                    {"alg", "ES256"}});
    CaInfo info;
    info.kid = ca->kid;
    info.not_before_s = ca->not_before_s;
    info.not_after_s = ca->not_after_s;
    info.active = ca == impl_->active;
    info.retired_at_s = ca->retired_at_s;
    info.issued_until_s = ca->issued_until_s.load();
    out.cas.push_back(info);
  }
  out.jwks_json = json{{"keys", keys}}.dump();
  // The sequence grows with every rotation: the number of CAs ever made is
  // not kept, so use the active CA's creation time, which only increases.
  out.spiffe_bundle_json = json{
      {"keys", spiffe_keys},
      {"spiffe_sequence", impl_->active->not_before_s + 60},
      {"spiffe_refresh_hint",
       300}}.dump();
  return out;
}

}  // namespace aikernel::identity
