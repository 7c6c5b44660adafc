#include "identity/ossl.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>

#include "common/text.h"
#include "common/unique_fd.h"

namespace aikernel::identity::ossl {

namespace {

std::string Errno(int e) { return strerror(e); }

std::string ModeString(mode_t mode) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "%04o", static_cast<unsigned>(mode & 07777));
  return buf;
}

const unsigned char* U(std::string_view s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}

std::string BioContents(BIO* bio) {
  char* data = nullptr;
  long n = BIO_get_mem_data(bio, &data);
  return std::string(data, n > 0 ? static_cast<size_t>(n) : 0);
}

std::string DirOf(const std::string& path) {
  size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

}  // namespace

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

Status SslError(std::string_view what) {
  return absl::InternalError(std::string(what) + ": " + SslErrors());
}

std::string Hex(std::string_view bytes) { return HexEncode(bytes); }

std::string Base64UrlEncode(std::string_view bytes) {
  static const char* kAlphabet =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string out;
  out.reserve((bytes.size() * 4 + 2) / 3);
  size_t i = 0;
  for (; i + 3 <= bytes.size(); i += 3) {
    uint32_t v = (uint8_t(bytes[i]) << 16) | (uint8_t(bytes[i + 1]) << 8) |
                 uint8_t(bytes[i + 2]);
    out.push_back(kAlphabet[(v >> 18) & 63]);
    out.push_back(kAlphabet[(v >> 12) & 63]);
    out.push_back(kAlphabet[(v >> 6) & 63]);
    out.push_back(kAlphabet[v & 63]);
  }
  size_t rest = bytes.size() - i;
  if (rest == 1) {
    uint32_t v = uint8_t(bytes[i]) << 16;
    out.push_back(kAlphabet[(v >> 18) & 63]);
    out.push_back(kAlphabet[(v >> 12) & 63]);
  } else if (rest == 2) {
    uint32_t v = (uint8_t(bytes[i]) << 16) | (uint8_t(bytes[i + 1]) << 8);
    out.push_back(kAlphabet[(v >> 18) & 63]);
    out.push_back(kAlphabet[(v >> 12) & 63]);
    out.push_back(kAlphabet[(v >> 6) & 63]);
  }
  return out;
}

StatusOr<std::string> Base64UrlDecode(std::string_view text) {
  auto value = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '-') return 62;
    if (c == '_') return 63;
    return -1;
  };
  if (text.size() % 4 == 1) {
    return absl::InvalidArgumentError(
        "base64url text has an impossible length");
  }
  std::string out;
  out.reserve(text.size() * 3 / 4);
  uint32_t acc = 0;
  int bits = 0;
  for (char c : text) {
    int v = value(c);
    if (v < 0) {
      return absl::InvalidArgumentError(
          "base64url text has a character "
          "outside the alphabet");
    }
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xff));
    }
  }
  // Unused trailing bits must be zero (canonical encoding only).
  if (bits > 0 && (acc & ((1u << bits) - 1)) != 0) {
    return absl::InvalidArgumentError("base64url text is not canonical");
  }
  return out;
}

std::string Sha256(std::string_view bytes) {
  unsigned char md[32];
  unsigned int len = 0;
  EVP_Digest(bytes.data(), bytes.size(), md, &len, EVP_sha256(), nullptr);
  return std::string(reinterpret_cast<char*>(md), 32);
}

StatusOr<std::string> RandomBytes(size_t n) {
  std::string out(n, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(out.data()),
                 static_cast<int>(n)) != 1) {
    return SslError("RAND_bytes failed");
  }
  return out;
}

StatusOr<PkeyPtr> GenerateP256() {
  PkeyPtr key(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
  if (!key) return SslError("cannot generate an EC P-256 key");
  return key;
}

bool IsP256(EVP_PKEY* key) {
  if (EVP_PKEY_get_base_id(key) != EVP_PKEY_EC) return false;
  char name[64];
  size_t len = 0;
  if (EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, name,
                                     sizeof name, &len) != 1) {
    ERR_clear_error();
    return false;
  }
  return std::string_view(name, len) == "prime256v1" ||
         std::string_view(name, len) == "P-256";
}

StatusOr<std::string> PrivateKeyPem(EVP_PKEY* key) {
  BioPtr bio(BIO_new(BIO_s_secmem()));
  if (!bio || PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0,
                                       nullptr, nullptr) != 1) {
    return SslError("cannot encode the private key");
  }
  return BioContents(bio.get());
}

StatusOr<std::string> PublicKeyPem(EVP_PKEY* key) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_PUBKEY(bio.get(), key) != 1) {
    return SslError("cannot encode the public key");
  }
  return BioContents(bio.get());
}

StatusOr<PkeyPtr> ParsePrivateKeyPem(std::string_view pem) {
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  PkeyPtr key(
      bio ? PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr)
          : nullptr);
  if (!key) {
    return absl::InvalidArgumentError("not a PEM private key: " + SslErrors());
  }
  return key;
}

StatusOr<std::string> CertPem(X509* cert) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_X509(bio.get(), cert) != 1) {
    return SslError("cannot encode the certificate");
  }
  return BioContents(bio.get());
}

StatusOr<X509Ptr> ParseCertPem(std::string_view pem) {
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  X509Ptr cert(bio ? PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)
                   : nullptr);
  if (!cert) {
    return absl::InvalidArgumentError("not a PEM certificate: " + SslErrors());
  }
  return cert;
}

std::optional<std::vector<std::string>> UriSans(X509* cert) {
  GeneralNamesPtr sans(static_cast<GENERAL_NAMES*>(
      X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr)));
  if (!sans) return std::nullopt;
  std::vector<std::string> uris;
  for (int i = 0; i < sk_GENERAL_NAME_num(sans.get()); ++i) {
    const GENERAL_NAME* gn = sk_GENERAL_NAME_value(sans.get(), i);
    if (gn->type != GEN_URI) continue;
    const ASN1_IA5STRING* uri = gn->d.uniformResourceIdentifier;
    uris.emplace_back(reinterpret_cast<const char*>(ASN1_STRING_get0_data(uri)),
                      static_cast<size_t>(ASN1_STRING_length(uri)));
  }
  return uris;
}

Status P256Coordinates(EVP_PKEY* key, std::string* x, std::string* y) {
  BIGNUM* bx = nullptr;
  BIGNUM* by = nullptr;
  if (EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_EC_PUB_X, &bx) != 1 ||
      EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_EC_PUB_Y, &by) != 1) {
    BN_free(bx);
    BN_free(by);
    return SslError("cannot read the EC public key coordinates");
  }
  BnPtr hx(bx), hy(by);
  x->assign(32, '\0');
  y->assign(32, '\0');
  if (BN_bn2binpad(bx, reinterpret_cast<unsigned char*>(x->data()), 32) != 32 ||
      BN_bn2binpad(by, reinterpret_cast<unsigned char*>(y->data()), 32) != 32) {
    return SslError("EC coordinate does not fit 32 bytes");
  }
  return absl::OkStatus();
}

namespace {

StatusOr<std::string> P256Point(EVP_PKEY* key) {
  unsigned char point[65];
  size_t len = 0;
  if (EVP_PKEY_get_octet_string_param(key, OSSL_PKEY_PARAM_PUB_KEY, point,
                                      sizeof point, &len) != 1 ||
      len != 65 || point[0] != 0x04) {
    return SslError("cannot read the P-256 public point");
  }
  return std::string(reinterpret_cast<char*>(point), len);
}

}  // namespace

Status SetP256PublicKey(X509* cert, EVP_PKEY* key) {
  AIK_ASSIGN_OR_RETURN(std::string point, P256Point(key));
  X509_PUBKEY* pub = X509_get_X509_PUBKEY(cert);
  auto* penc = static_cast<unsigned char*>(OPENSSL_malloc(point.size()));
  if (pub == nullptr || penc == nullptr) {
    OPENSSL_free(penc);
    return SslError("cannot set the certificate's public key");
  }
  memcpy(penc, point.data(), point.size());
  if (X509_PUBKEY_set0_param(pub, OBJ_nid2obj(NID_X9_62_id_ecPublicKey),
                             V_ASN1_OBJECT, OBJ_nid2obj(NID_X9_62_prime256v1),
                             penc, static_cast<int>(point.size())) != 1) {
    OPENSSL_free(penc);
    return SslError("cannot set the certificate's public key");
  }
  return absl::OkStatus();
}

StatusOr<std::string> P256PrivateKeyPem(EVP_PKEY* key) {
  AIK_ASSIGN_OR_RETURN(std::string point, P256Point(key));
  BIGNUM* priv = nullptr;
  if (EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_PRIV_KEY, &priv) != 1) {
    return SslError("cannot read the P-256 private scalar");
  }
  BnPtr hold(priv);
  // PKCS#8 PrivateKeyInfo { 0, {id-ecPublicKey, prime256v1},
  //   OCTET STRING ECPrivateKey { 1, OCTET STRING d, [1] BIT STRING Q } }
  static const unsigned char kHead[] = {
      0x30, 0x81, 0x87, 0x02, 0x01, 0x00, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86,
      0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d,
      0x03, 0x01, 0x07, 0x04, 0x6d, 0x30, 0x6b, 0x02, 0x01, 0x01, 0x04, 0x20};
  static const unsigned char kMid[] = {0xa1, 0x44, 0x03, 0x42, 0x00};
  unsigned char der[sizeof kHead + 32 + sizeof kMid + 65];
  memcpy(der, kHead, sizeof kHead);
  if (BN_bn2binpad(priv, der + sizeof kHead, 32) != 32) {
    return SslError("P-256 private scalar does not fit 32 bytes");
  }
  memcpy(der + sizeof kHead + 32, kMid, sizeof kMid);
  memcpy(der + sizeof kHead + 32 + sizeof kMid, point.data(), 65);
  std::string pem = "-----BEGIN PRIVATE KEY-----\n";
  unsigned char line[65];
  for (size_t off = 0; off < sizeof der; off += 48) {
    int n = EVP_EncodeBlock(
        line, der + off,
        static_cast<int>(std::min<size_t>(48, sizeof der - off)));
    pem.append(reinterpret_cast<char*>(line), static_cast<size_t>(n));
    pem.push_back('\n');
  }
  pem += "-----END PRIVATE KEY-----\n";
  OPENSSL_cleanse(der, sizeof der);
  OPENSSL_cleanse(line, sizeof line);
  return pem;
}

StatusOr<PkeyPtr> P256FromCoordinates(std::string_view x, std::string_view y) {
  if (x.size() != 32 || y.size() != 32) {
    return absl::InvalidArgumentError("P-256 coordinates must be 32 bytes");
  }
  std::string point = "\x04";
  point.append(x);
  point.append(y);
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME,
                                       const_cast<char*>("prime256v1"), 0),
      OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, point.data(),
                                        point.size()),
      OSSL_PARAM_construct_end()};
  std::unique_ptr<EVP_PKEY_CTX, Deleter<EVP_PKEY_CTX_free>> ctx(
      EVP_PKEY_CTX_new_from_name(nullptr, "EC", nullptr));
  EVP_PKEY* raw = nullptr;
  if (!ctx || EVP_PKEY_fromdata_init(ctx.get()) != 1 ||
      EVP_PKEY_fromdata(ctx.get(), &raw, EVP_PKEY_PUBLIC_KEY, params) != 1) {
    return absl::InvalidArgumentError("not a P-256 point: " + SslErrors());
  }
  return PkeyPtr(raw);
}

StatusOr<std::string> EcdsaDerToRaw(std::string_view der) {
  const unsigned char* p = U(der);
  EcdsaSigPtr sig(d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(der.size())));
  if (!sig) return SslError("not a DER ECDSA signature");
  const BIGNUM* r = nullptr;
  const BIGNUM* s = nullptr;
  ECDSA_SIG_get0(sig.get(), &r, &s);
  std::string raw(64, '\0');
  auto* out = reinterpret_cast<unsigned char*>(raw.data());
  if (BN_bn2binpad(r, out, 32) != 32 || BN_bn2binpad(s, out + 32, 32) != 32) {
    return SslError("ECDSA signature component does not fit 32 bytes");
  }
  return raw;
}

StatusOr<std::string> EcdsaRawToDer(std::string_view raw) {
  if (raw.size() != 64) {
    return absl::InvalidArgumentError("an ES256 signature is 64 bytes");
  }
  BnPtr r(BN_bin2bn(U(raw), 32, nullptr));
  BnPtr s(BN_bin2bn(U(raw) + 32, 32, nullptr));
  EcdsaSigPtr sig(ECDSA_SIG_new());
  if (!r || !s || !sig || ECDSA_SIG_set0(sig.get(), r.get(), s.get()) != 1) {
    return SslError("cannot build an ECDSA signature");
  }
  r.release();  // owned by sig now
  s.release();
  unsigned char* der = nullptr;
  int len = i2d_ECDSA_SIG(sig.get(), &der);
  if (len <= 0) return SslError("cannot encode an ECDSA signature");
  std::string out(reinterpret_cast<char*>(der), static_cast<size_t>(len));
  OPENSSL_free(der);
  return out;
}

StatusOr<std::string> SignEs256(EVP_PKEY* key, std::string_view data) {
  MdCtxPtr ctx(EVP_MD_CTX_new());
  if (!ctx ||
      EVP_DigestSignInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key) != 1) {
    return SslError("ES256 sign init failed");
  }
  unsigned char der[80];
  size_t len = sizeof der;
  if (EVP_DigestSign(ctx.get(), der, &len, U(data), data.size()) != 1) {
    return SslError("ES256 sign failed");
  }
  return EcdsaDerToRaw(std::string_view(reinterpret_cast<char*>(der), len));
}

bool VerifyEs256(EVP_PKEY* key, std::string_view data,
                 std::string_view raw_sig) {
  StatusOr<std::string> der = EcdsaRawToDer(raw_sig);
  if (!der.ok()) {
    ERR_clear_error();
    return false;
  }
  MdCtxPtr ctx(EVP_MD_CTX_new());
  if (!ctx || EVP_DigestVerifyInit(ctx.get(), nullptr, EVP_sha256(), nullptr,
                                   key) != 1) {
    ERR_clear_error();
    return false;
  }
  int rc =
      EVP_DigestVerify(ctx.get(), U(*der), der->size(), U(data), data.size());
  if (rc != 1) ERR_clear_error();
  return rc == 1;
}

std::string FormatTime(int64_t unix_s) {
  time_t t = static_cast<time_t>(unix_s);
  struct tm tm;
  gmtime_r(&t, &tm);
  char buf[32];
  strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

StatusOr<int64_t> Asn1ToUnix(const ASN1_TIME* t) {
  struct tm tm;
  if (t == nullptr || ASN1_TIME_to_tm(t, &tm) != 1) {
    return SslError("cannot read a certificate time");
  }
  return static_cast<int64_t>(timegm(&tm));
}

// ---------------------------------------------------------------- files ---

Status EnsurePrivateDir(const std::string& dir) {
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

namespace {

// Reads an open fd to the end (at most 1 MiB).
StatusOr<std::string> ReadAll(int fd, const std::string& path) {
  std::string out;
  char buf[4096];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      return absl::UnavailableError("cannot read " + path + ": " +
                                    Errno(errno));
    }
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
    if (out.size() > (1 << 20)) {
      return absl::FailedPreconditionError(path + " is too large");
    }
  }
  return out;
}

}  // namespace

StatusOr<PkeyPtr> ReadPrivateKeyFile(const std::string& path) {
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
  AIK_ASSIGN_OR_RETURN(std::string pem, ReadAll(fd.get(), path));
  StatusOr<PkeyPtr> key = ParsePrivateKeyPem(pem);
  OPENSSL_cleanse(pem.data(), pem.size());
  if (!key.ok()) {
    return absl::DataLossError("key file " + path +
                               " is not a PEM private key");
  }
  return key;
}

StatusOr<std::string> ReadFile(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
  if (!fd.valid()) {
    if (errno == ENOENT) return absl::NotFoundError(path + " does not exist");
    return absl::UnavailableError("cannot open " + path + ": " + Errno(errno));
  }
  return ReadAll(fd.get(), path);
}

Status WriteFileAtomic(const std::string& path, std::string_view data,
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
  const std::string dir = DirOf(path);
  UniqueFd dfd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!dfd.valid() || ::fsync(dfd.get()) != 0) {
    return absl::UnavailableError("cannot fsync " + dir + ": " + Errno(errno));
  }
  return absl::OkStatus();
}

}  // namespace aikernel::identity::ossl
