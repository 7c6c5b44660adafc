#include "identity/node_key.h"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "identity/ossl.h"

// The file, PEM and OpenSSL-error helpers are identity/ossl.h's (the node CA
// uses the same ones); what is here is only what is Ed25519-specific.

namespace aikernel::identity {

namespace {

using ossl::MdCtxPtr;
using ossl::PkeyPtr;
using ossl::SslErrors;

StatusOr<std::string> RawPublic(EVP_PKEY* pkey) {
  unsigned char raw[32];
  size_t len = sizeof raw;
  if (EVP_PKEY_get_raw_public_key(pkey, raw, &len) != 1 || len != 32) {
    return absl::InternalError("cannot read the raw Ed25519 public key: " +
                               SslErrors());
  }
  return std::string(reinterpret_cast<char*>(raw), len);
}

std::string KeyIdOfRaw(const std::string& raw) {
  return ossl::Hex(ossl::Sha256(raw).substr(0, 8));
}

StatusOr<PkeyPtr> ParsePublicPem(const std::string& pem) {
  ossl::BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  PkeyPtr key(bio ? PEM_read_bio_PUBKEY(bio.get(), nullptr, nullptr, nullptr)
                  : nullptr);
  if (!key) {
    return absl::InvalidArgumentError("not a PEM public key: " + SslErrors());
  }
  if (EVP_PKEY_get_id(key.get()) != EVP_PKEY_ED25519) {
    return absl::InvalidArgumentError("public key is not Ed25519");
  }
  return key;
}

// ossl::ReadPrivateKeyFile (NOT_FOUND if absent, refuses a non-regular or
// group/world-accessible file), then insists on Ed25519.
StatusOr<PkeyPtr> ReadPrivateKey(const std::string& path) {
  AIK_ASSIGN_OR_RETURN(PkeyPtr key, ossl::ReadPrivateKeyFile(path));
  if (EVP_PKEY_get_id(key.get()) != EVP_PKEY_ED25519) {
    return absl::FailedPreconditionError("key file " + path +
                                         " does not hold an Ed25519 key");
  }
  return key;
}

StatusOr<PkeyPtr> Generate() {
  PkeyPtr key(EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519"));
  if (!key) {
    return absl::InternalError("cannot generate an Ed25519 key: " +
                               SslErrors());
  }
  return key;
}

}  // namespace

class NodeKey::Impl {
 public:
  PkeyPtr key;
  std::string raw_public;
  std::string pem_public;
  std::string key_id;
};

NodeKey::NodeKey(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
NodeKey::~NodeKey() = default;

StatusOr<std::unique_ptr<NodeKey>> NodeKey::LoadOrCreate(
    const std::string& keys_dir) {
  AIK_RETURN_IF_ERROR(ossl::EnsurePrivateDir(keys_dir));
  const std::string key_path = keys_dir + "/node.key";
  const std::string pub_path = keys_dir + "/node.pub";

  StatusOr<PkeyPtr> key = ReadPrivateKey(key_path);
  if (absl::IsNotFound(key.status())) {
    AIK_ASSIGN_OR_RETURN(PkeyPtr fresh, Generate());
    AIK_ASSIGN_OR_RETURN(std::string pem, ossl::PrivateKeyPem(fresh.get()));
    // Links into place and fsyncs keys_dir.
    Status w = ossl::WriteFileAtomic(key_path, pem, 0600, /*exclusive=*/true);
    OPENSSL_cleanse(pem.data(), pem.size());
    if (absl::IsAlreadyExists(w)) {
      key = ReadPrivateKey(key_path);  // another process won the race
    } else {
      AIK_RETURN_IF_ERROR(w);
      key = std::move(fresh);
    }
  }
  if (!key.ok()) return key.status();

  auto impl = std::make_unique<Impl>();
  impl->key = std::move(key).value();
  AIK_ASSIGN_OR_RETURN(impl->raw_public, RawPublic(impl->key.get()));
  AIK_ASSIGN_OR_RETURN(impl->pem_public, ossl::PublicKeyPem(impl->key.get()));
  impl->key_id = KeyIdOfRaw(impl->raw_public);

  // node.pub follows node.key: (re)write it if missing, unreadable or
  // different.
  StatusOr<std::string> existing = ossl::ReadFile(pub_path);
  if (!existing.ok() || *existing != impl->pem_public) {
    AIK_RETURN_IF_ERROR(ossl::WriteFileAtomic(pub_path, impl->pem_public, 0644,
                                              /*exclusive=*/false));
  }
  return std::unique_ptr<NodeKey>(new NodeKey(std::move(impl)));
}

StatusOr<std::string> NodeKey::Sign(const std::string& message) const {
  MdCtxPtr ctx(EVP_MD_CTX_new());
  if (!ctx || EVP_DigestSignInit(ctx.get(), nullptr, nullptr, nullptr,
                                 impl_->key.get()) != 1) {
    return absl::InternalError("Ed25519 sign init failed: " + SslErrors());
  }
  unsigned char sig[64];
  size_t len = sizeof sig;
  if (EVP_DigestSign(ctx.get(), sig, &len,
                     reinterpret_cast<const unsigned char*>(message.data()),
                     message.size()) != 1 ||
      len != 64) {
    return absl::InternalError("Ed25519 sign failed: " + SslErrors());
  }
  return std::string(reinterpret_cast<char*>(sig), len);
}

std::string NodeKey::PublicKeyRaw() const { return impl_->raw_public; }
std::string NodeKey::PublicKeyPem() const { return impl_->pem_public; }
std::string NodeKey::KeyId() const { return impl_->key_id; }

StatusOr<bool> VerifyEd25519(const std::string& public_key_pem,
                             const std::string& message,
                             const std::string& signature) {
  AIK_ASSIGN_OR_RETURN(PkeyPtr key, ParsePublicPem(public_key_pem));
  if (signature.size() != 64) return false;
  MdCtxPtr ctx(EVP_MD_CTX_new());
  if (!ctx || EVP_DigestVerifyInit(ctx.get(), nullptr, nullptr, nullptr,
                                   key.get()) != 1) {
    return absl::InternalError("Ed25519 verify init failed: " + SslErrors());
  }
  int rc = EVP_DigestVerify(
      ctx.get(), reinterpret_cast<const unsigned char*>(signature.data()),
      signature.size(), reinterpret_cast<const unsigned char*>(message.data()),
      message.size());
  if (rc != 1) ERR_clear_error();
  return rc == 1;
}

StatusOr<std::string> KeyIdOfPem(const std::string& public_key_pem) {
  AIK_ASSIGN_OR_RETURN(PkeyPtr key, ParsePublicPem(public_key_pem));
  AIK_ASSIGN_OR_RETURN(std::string raw, RawPublic(key.get()));
  return KeyIdOfRaw(raw);
}

}  // namespace aikernel::identity
