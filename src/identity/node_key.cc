#include "identity/node_key.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>

#include "common/unique_fd.h"

namespace aikernel::identity {

namespace {

struct PkeyFree {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
struct BioFree {
  void operator()(BIO* b) const { BIO_free(b); }
};
struct MdCtxFree {
  void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
};
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyFree>;
using BioPtr = std::unique_ptr<BIO, BioFree>;
using MdCtxPtr = std::unique_ptr<EVP_MD_CTX, MdCtxFree>;

// The OpenSSL error queue as text (and cleared).
std::string SslErrors() {
  std::string out;
  unsigned long e;
  while ((e = ERR_get_error()) != 0) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    if (!out.empty()) out += "; ";
    out += buf;
  }
  return out.empty() ? "no OpenSSL error" : out;
}

std::string Errno(int e) { return strerror(e); }

std::string ModeString(mode_t mode) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "%04o", static_cast<unsigned>(mode & 07777));
  return buf;
}

std::string Hex(const unsigned char* p, size_t n) {
  static const char* kDigits = "0123456789abcdef";
  std::string out;
  out.reserve(n * 2);
  for (size_t i = 0; i < n; ++i) {
    out.push_back(kDigits[p[i] >> 4]);
    out.push_back(kDigits[p[i] & 15]);
  }
  return out;
}

StatusOr<std::string> RawPublic(EVP_PKEY* pkey) {
  unsigned char raw[32];
  size_t len = sizeof raw;
  if (EVP_PKEY_get_raw_public_key(pkey, raw, &len) != 1 || len != 32) {
    return absl::InternalError("cannot read the raw Ed25519 public key: " +
                               SslErrors());
  }
  return std::string(reinterpret_cast<char*>(raw), len);
}

StatusOr<std::string> PemPublic(EVP_PKEY* pkey) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_PUBKEY(bio.get(), pkey) != 1) {
    return absl::InternalError("cannot encode the public key: " + SslErrors());
  }
  char* data = nullptr;
  long n = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(n));
}

std::string KeyIdOfRaw(const std::string& raw) {
  unsigned char md[32];
  unsigned int len = 0;
  EVP_Digest(raw.data(), raw.size(), md, &len, EVP_sha256(), nullptr);
  return Hex(md, 8);
}

StatusOr<PkeyPtr> ParsePublicPem(const std::string& pem) {
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
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

// Writes `data` to `path` via a fresh temporary file (mode `mode`), fsyncs
// it, and links it into place. With `exclusive`, fails ALREADY_EXISTS if
// `path` exists; otherwise replaces it.
Status WriteFileAtomic(const std::string& path, const std::string& data,
                       mode_t mode, bool exclusive) {
  std::string tmp = path + ".tmp." + std::to_string(::getpid());
  ::unlink(tmp.c_str());
  UniqueFd fd(::open(
      tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode));
  if (!fd.valid()) {
    return absl::UnavailableError("cannot create " + tmp + ": " + Errno(errno));
  }
  auto fail = [&](const std::string& what) {
    int e = errno;
    ::unlink(tmp.c_str());
    return absl::UnavailableError(what + " " + tmp + ": " + Errno(e));
  };
  if (::fchmod(fd.get(), mode) != 0) return fail("cannot chmod");
  size_t off = 0;
  while (off < data.size()) {
    ssize_t n = ::write(fd.get(), data.data() + off, data.size() - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      return fail("cannot write");
    }
    off += static_cast<size_t>(n);
  }
  if (::fsync(fd.get()) != 0) return fail("cannot fsync");
  fd.reset();
  if (exclusive) {
    int rc = ::link(tmp.c_str(), path.c_str());
    int e = errno;
    ::unlink(tmp.c_str());
    if (rc != 0) {
      if (e == EEXIST) return absl::AlreadyExistsError(path + " exists");
      return absl::UnavailableError("cannot link " + path + ": " + Errno(e));
    }
  } else if (::rename(tmp.c_str(), path.c_str()) != 0) {
    return fail("cannot rename to " + path + " from");
  }
  return absl::OkStatus();
}

Status SyncDir(const std::string& dir) {
  UniqueFd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd.valid() || ::fsync(fd.get()) != 0) {
    return absl::UnavailableError("cannot fsync " + dir + ": " + Errno(errno));
  }
  return absl::OkStatus();
}

Status EnsureDir(const std::string& dir) {
  if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
    return absl::UnavailableError("cannot create key directory " + dir + ": " +
                                  Errno(errno));
  }
  struct stat st;
  if (::lstat(dir.c_str(), &st) != 0) {
    return absl::UnavailableError("cannot stat " + dir + ": " + Errno(errno));
  }
  if (!S_ISDIR(st.st_mode)) {
    return absl::FailedPreconditionError("key directory " + dir +
                                         " is not a directory");
  }
  if ((st.st_mode & 0022) != 0) {
    return absl::FailedPreconditionError(
        "key directory " + dir + " has mode " + ModeString(st.st_mode) +
        ": it must not be group- or world-writable (chmod 700)");
  }
  return absl::OkStatus();
}

// Reads the private key file; refuses a non-regular or group/world
// accessible file. NOT_FOUND if absent.
StatusOr<PkeyPtr> ReadPrivateKey(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
  if (!fd.valid()) {
    if (errno == ENOENT) return absl::NotFoundError(path + " does not exist");
    return absl::UnavailableError("cannot open key file " + path + ": " +
                                  Errno(errno));
  }
  struct stat st;
  if (::fstat(fd.get(), &st) != 0) {
    return absl::UnavailableError("cannot stat " + path + ": " + Errno(errno));
  }
  if (!S_ISREG(st.st_mode)) {
    return absl::FailedPreconditionError("key file " + path +
                                         " is not a regular file");
  }
  if ((st.st_mode & 0077) != 0) {
    return absl::FailedPreconditionError(
        "key file " + path + " has mode " + ModeString(st.st_mode) +
        ": it must not be group- or world-accessible (chmod 600)");
  }
  std::string pem;
  char buf[4096];
  for (;;) {
    ssize_t n = ::read(fd.get(), buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      return absl::UnavailableError("cannot read " + path + ": " +
                                    Errno(errno));
    }
    if (n == 0) break;
    pem.append(buf, static_cast<size_t>(n));
    if (pem.size() > (1 << 20)) {
      return absl::FailedPreconditionError("key file " + path +
                                           " is too large");
    }
  }
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  PkeyPtr key(
      bio ? PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr)
          : nullptr);
  OPENSSL_cleanse(pem.data(), pem.size());
  if (!key) {
    return absl::DataLossError("key file " + path +
                               " is not a PEM private key: " + SslErrors());
  }
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

StatusOr<std::string> PrivatePem(EVP_PKEY* key) {
  BioPtr bio(BIO_new(BIO_s_secmem()));
  if (!bio || PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0,
                                       nullptr, nullptr) != 1) {
    return absl::InternalError("cannot encode the private key: " + SslErrors());
  }
  char* data = nullptr;
  long n = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(n));
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
  AIK_RETURN_IF_ERROR(EnsureDir(keys_dir));
  const std::string key_path = keys_dir + "/node.key";
  const std::string pub_path = keys_dir + "/node.pub";

  StatusOr<PkeyPtr> key = ReadPrivateKey(key_path);
  if (absl::IsNotFound(key.status())) {
    AIK_ASSIGN_OR_RETURN(PkeyPtr fresh, Generate());
    AIK_ASSIGN_OR_RETURN(std::string pem, PrivatePem(fresh.get()));
    Status w = WriteFileAtomic(key_path, pem, 0600, /*exclusive=*/true);
    OPENSSL_cleanse(pem.data(), pem.size());
    if (absl::IsAlreadyExists(w)) {
      key = ReadPrivateKey(key_path);  // another process won the race
    } else {
      AIK_RETURN_IF_ERROR(w);
      AIK_RETURN_IF_ERROR(SyncDir(keys_dir));
      key = std::move(fresh);
    }
  }
  if (!key.ok()) return key.status();

  auto impl = std::make_unique<Impl>();
  impl->key = std::move(key).value();
  AIK_ASSIGN_OR_RETURN(impl->raw_public, RawPublic(impl->key.get()));
  AIK_ASSIGN_OR_RETURN(impl->pem_public, PemPublic(impl->key.get()));
  impl->key_id = KeyIdOfRaw(impl->raw_public);

  // node.pub follows node.key: (re)write it if missing or different.
  std::string existing;
  if (FILE* f = std::fopen(pub_path.c_str(), "re")) {
    char buf[1024];
    size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) existing.append(buf, n);
    std::fclose(f);
  }
  if (existing != impl->pem_public) {
    AIK_RETURN_IF_ERROR(
        WriteFileAtomic(pub_path, impl->pem_public, 0644, /*exclusive=*/false));
    AIK_RETURN_IF_ERROR(SyncDir(keys_dir));
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
