// identity/ossl.h: the small OpenSSL 3 and file helpers the identity library
// shares (internal to src/identity; not for other parts).
//
// - RAII: every OpenSSL object is held by a std::unique_ptr with its free
//   function as deleter (PkeyPtr, X509Ptr, ...). Nothing here is deprecated
//   in OpenSSL 3 (EVP, X509, ECDSA_SIG only).
// - Errors are absl::Status values naming what failed and the OpenSSL error
//   queue (which is cleared).
// - Key files: private keys are PEM PKCS#8, mode 0600, in a directory that is
//   not group/world-writable; a key file readable by group or world is refused
//   naming the file and its mode.
// All functions are thread-safe (no shared state).
#pragma once

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace aikernel::identity::ossl {

template <auto Fn>
struct Deleter {
  template <typename T>
  void operator()(T* p) const {
    Fn(p);
  }
};
using PkeyPtr = std::unique_ptr<EVP_PKEY, Deleter<EVP_PKEY_free>>;
using X509Ptr = std::unique_ptr<X509, Deleter<X509_free>>;
using BioPtr = std::unique_ptr<BIO, Deleter<BIO_free>>;
using MdCtxPtr = std::unique_ptr<EVP_MD_CTX, Deleter<EVP_MD_CTX_free>>;
using BnPtr = std::unique_ptr<BIGNUM, Deleter<BN_free>>;
using EcdsaSigPtr = std::unique_ptr<ECDSA_SIG, Deleter<ECDSA_SIG_free>>;
using X509StorePtr = std::unique_ptr<X509_STORE, Deleter<X509_STORE_free>>;
using X509StoreCtxPtr =
    std::unique_ptr<X509_STORE_CTX, Deleter<X509_STORE_CTX_free>>;
using X509NamePtr = std::unique_ptr<X509_NAME, Deleter<X509_NAME_free>>;
using X509ExtPtr =
    std::unique_ptr<X509_EXTENSION, Deleter<X509_EXTENSION_free>>;
using GeneralNamesPtr =
    std::unique_ptr<GENERAL_NAMES, Deleter<GENERAL_NAMES_free>>;

// The OpenSSL error queue as text ("no OpenSSL error" if empty); clears it.
std::string SslErrors();
// `what` + ": " + SslErrors(), as INTERNAL.
Status SslError(std::string_view what);

std::string Hex(std::string_view bytes);
std::string Base64UrlEncode(std::string_view bytes);  // no padding
// Strict: alphabet A-Z a-z 0-9 - _, no padding, no whitespace.
StatusOr<std::string> Base64UrlDecode(std::string_view text);
std::string Sha256(std::string_view bytes);  // 32 raw bytes
StatusOr<std::string> RandomBytes(size_t n);

// --- EC P-256 keys, certificates, PEM ---
StatusOr<PkeyPtr> GenerateP256();
bool IsP256(EVP_PKEY* key);
StatusOr<std::string> PrivateKeyPem(EVP_PKEY* key);  // PKCS#8
StatusOr<std::string> PublicKeyPem(EVP_PKEY* key);   // SPKI
StatusOr<PkeyPtr> ParsePrivateKeyPem(std::string_view pem);
StatusOr<std::string> CertPem(X509* cert);
StatusOr<X509Ptr> ParseCertPem(std::string_view pem);
// The URI entries of `cert`'s subjectAltName, in order; nullopt when it has
// no subjectAltName extension at all (callers word the two cases apart).
std::optional<std::vector<std::string>> UriSans(X509* cert);
// Fast paths for the X.509-SVID hot path. OpenSSL 3.0 routes
// X509_set_pubkey() and PEM_write_bio_PrivateKey() through its encoder
// framework, which costs ~0.4 ms and ~0.16 ms a call here (more than key
// generation and signing together); these build the same bytes directly
// from the key's parameters. Both are tested byte-for-byte against OpenSSL.
// Sets `cert`'s SubjectPublicKeyInfo to the P-256 public key of `key`.
Status SetP256PublicKey(X509* cert, EVP_PKEY* key);
// PEM PKCS#8 of a P-256 private key (with its public key), as OpenSSL
// writes it.
StatusOr<std::string> P256PrivateKeyPem(EVP_PKEY* key);
// Affine coordinates of a P-256 public key, 32 bytes each.
Status P256Coordinates(EVP_PKEY* key, std::string* x, std::string* y);
// Builds a P-256 public key from its affine coordinates (32 bytes each).
StatusOr<PkeyPtr> P256FromCoordinates(std::string_view x, std::string_view y);

// ECDSA signature conversions: DER (OpenSSL) <-> JWS raw r||s (64 bytes).
StatusOr<std::string> EcdsaDerToRaw(std::string_view der);
StatusOr<std::string> EcdsaRawToDer(std::string_view raw);

// SHA-256 ECDSA over `data`; returns the JWS raw r||s form.
StatusOr<std::string> SignEs256(EVP_PKEY* key, std::string_view data);
// True if `raw_sig` (r||s) is a valid ES256 signature of `data`.
bool VerifyEs256(EVP_PKEY* key, std::string_view data,
                 std::string_view raw_sig);

// "2026-11-26T17:18:10Z" from seconds since the epoch.
std::string FormatTime(int64_t unix_s);
// Seconds since the epoch of an ASN1_TIME.
StatusOr<int64_t> Asn1ToUnix(const ASN1_TIME* t);

// --- files ---
// Creates `dir` (0700) if absent; refuses a non-directory or a directory
// that is group- or world-writable.
Status EnsurePrivateDir(const std::string& dir);
// Reads a PEM private key file. NOT_FOUND if absent; FAILED_PRECONDITION if
// it is not a regular file or its mode grants any group/world access
// (message names the file and mode); DATA_LOSS if it is not a PEM key.
StatusOr<PkeyPtr> ReadPrivateKeyFile(const std::string& path);
// Reads a whole (small) file. NOT_FOUND if absent.
StatusOr<std::string> ReadFile(const std::string& path);
// Writes `data` to `path` through a temporary file with `mode`, fsync, then
// rename (or link, if `exclusive`: ALREADY_EXISTS if `path` exists), then
// fsyncs the directory.
Status WriteFileAtomic(const std::string& path, std::string_view data,
                       mode_t mode, bool exclusive);

}  // namespace aikernel::identity::ossl
