// identity::NodeCA: the node's certificate authority for its trust domain,
// and the issuer and validator of SPIFFE SVIDs (X.509 and JWT).
//
// Trust model (docs/identity.md): one trust domain per node (config, e.g.
// "node-a.example"). The CA is an EC P-256 key with a self-signed
// certificate (basicConstraints critical CA:TRUE, keyUsage critical
// keyCertSign+cRLSign, URI SAN spiffe://<trust-domain>). The same key signs
// X.509-SVIDs (SHA-256 ECDSA) and JWT-SVIDs (JWS ES256), so the trust bundle
// is one list of keys in two encodings: PEM certificates and a JWKS.
//
// Key id (`kid`): the RFC 7638 JWK SHA-256 thumbprint of the CA's public key,
// base64url without padding (43 characters). Anyone holding the JWKS or the
// CA certificate can recompute it.
//
// Files, under Options::keys_dir (normally <state-dir>/keys, 0700):
//   ca-<kid>.key   CA private key, PEM PKCS#8, 0600 (refused if group/world
//                  accessible, naming file and mode)
//   ca-<kid>.crt   CA certificate, PEM, 0644
//   ca.json        0600: trust domain, active kid, per CA its retirement
//                  time and the latest expiry of anything it issued
// The first Open() makes the CA; later ones load it (same CA, same bundle).
//
// Rotation: RotateCA() makes a new CA the signer. The old one stays in the
// bundle (and its kid stays valid for JWTs) until the last credential it
// issued expires, then drops out and its files are deleted at the next
// RotateCA() or Open(). The latest expiry is tracked in memory exactly and
// persisted as an upper bound rounded up to Options::expiry_step, so a crash
// can only keep an old CA slightly longer, never drop it early. A CA within
// Options::max_svid_ttl of its own expiry is rotated automatically before it
// issues, so an SVID never outlives its CA.
//
// Revocation: with Options::revocations set, issuance to a revoked instance
// (or a subject revoked in this very second) is refused and validation
// refuses revoked credentials (see revocation.h).
//
// Time: every check reads Options::now_ns (ns since the Unix epoch), so tests
// move time without waiting. Credential times are whole seconds.
//
// Thread-safe: all methods may be called concurrently. Issue/validate take a
// shared lock; RotateCA takes it exclusively.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/status.h"
#include "identity/revocation.h"

namespace aikernel::identity {

// Realtime clock, ns since the Unix epoch.
using NowFn = std::function<int64_t()>;
int64_t SystemNowNs();

// Who a credential is for: an agent's SPIFFE ID plus the instance id the
// kernel gave this run of it ("" for a credential not tied to an instance).
struct Subject {
  std::string spiffe_id;
  std::string instance;
};

struct X509Svid {
  std::string spiffe_id;
  std::string instance;
  std::string cert_pem;    // the leaf only
  std::string key_pem;     // its private key, PEM PKCS#8 (EC P-256)
  std::string bundle_pem;  // every CA in the trust bundle at issue time
  std::string serial_hex;
  std::string ca_kid;        // the issuing CA
  int64_t issued_at_s = 0;   // notBefore
  int64_t expires_at_s = 0;  // notAfter
};

struct JwtSvid {
  std::string token;  // compact JWS
  std::string spiffe_id;
  std::string instance;
  std::vector<std::string> audiences;
  std::string jti;
  std::string kid;
  int64_t issued_at_s = 0;
  int64_t expires_at_s = 0;
};

// What a valid JWT-SVID says.
struct JwtClaims {
  std::string spiffe_id;  // sub
  std::string instance;   // aik_instance ("" if absent)
  std::vector<std::string> audiences;
  std::string jti;
  std::string kid;
  int64_t issued_at_s = 0;
  int64_t expires_at_s = 0;
};

// What a valid X.509-SVID says.
struct X509SvidInfo {
  std::string spiffe_id;
  std::string instance;  // subject commonName ("" if absent)
  std::string serial_hex;
  std::string ca_kid;
  int64_t issued_at_s = 0;
  int64_t expires_at_s = 0;
};

struct CaInfo {
  std::string kid;
  int64_t not_before_s = 0;
  int64_t not_after_s = 0;
  bool active = false;
  int64_t retired_at_s = 0;    // 0 while active
  int64_t issued_until_s = 0;  // latest expiry of anything it issued
};

struct TrustBundle {
  std::string trust_domain;
  std::string pem;        // CA certificates, active first
  std::string jwks_json;  // {"keys":[{kty,crv,x,y,kid,use:"sig",alg:"ES256"}]}
  // The same keys in the SPIFFE bundle format (SPIFFE_Trust_Domain_and_Bundle
  // spec): per CA one "x509-svid" key with x5c and one "jwt-svid" key with
  // kid; spiffe_refresh_hint 300 s; spiffe_sequence = the active CA's
  // creation time, so it grows with every rotation (an old CA dropping out
  // only removes keys and does not bump it). For federation.
  std::string spiffe_bundle_json;
  std::vector<CaInfo> cas;  // same order as pem
};

class NodeCA {
 public:
  struct Options {
    std::string keys_dir;
    std::string trust_domain;
    std::chrono::seconds ca_ttl{std::chrono::hours(24 * 365)};
    // Longest SVID lifetime; longer requests are shortened to it. ca_ttl
    // must be at least twice this.
    std::chrono::seconds max_svid_ttl{std::chrono::hours(24)};
    std::chrono::seconds expiry_step{std::chrono::minutes(10)};
    // Tolerated clock skew when validating JWT iat/exp.
    std::chrono::seconds leeway{std::chrono::seconds(0)};
    NowFn now_ns;                           // default SystemNowNs
    RevocationList* revocations = nullptr;  // not owned; may be null
  };

  // Loads the CA under keys_dir, creating it on first start. Errors:
  // INVALID_ARGUMENT (bad trust domain or TTLs), FAILED_PRECONDITION (a key
  // file group/world-accessible, a key directory group/world-writable, or
  // the files are for a different trust domain), DATA_LOSS (damaged files),
  // UNAVAILABLE (I/O).
  static StatusOr<std::unique_ptr<NodeCA>> Open(Options options);
  ~NodeCA();

  const std::string& trust_domain() const;
  std::string ActiveKid() const;

  // A new CA becomes the signer; the previous one is retired (kept in the
  // bundle while anything it issued is unexpired). Returns the new kid.
  StatusOr<std::string> RotateCA();

  // The CAs valid now: the active one and retired ones still in overlap.
  TrustBundle Bundle() const;
  std::string TrustBundlePem() const { return Bundle().pem; }
  std::string Jwks() const { return Bundle().jwks_json; }

  // New P-256 key pair for the subject and a certificate for it: the SPIFFE
  // ID as the only URI SAN, CN=<instance>, keyUsage critical
  // digitalSignature, extendedKeyUsage serverAuth+clientAuth,
  // basicConstraints critical CA:FALSE, random 128-bit serial, notBefore =
  // now, notAfter = now + ttl (ttl capped at max_svid_ttl).
  // INVALID_ARGUMENT: bad SPIFFE ID / other trust domain / ttl <= 0.
  // PERMISSION_DENIED: the instance (or, this second, the subject) is
  // revoked.
  StatusOr<X509Svid> IssueX509SVID(const Subject& subject,
                                   std::chrono::seconds ttl);
  StatusOr<X509Svid> IssueX509SVID(const std::string& spiffe_id,
                                   std::chrono::seconds ttl) {
    return IssueX509SVID(Subject{spiffe_id, ""}, ttl);
  }

  // Compact JWS, header {"alg":"ES256","kid":<kid>,"typ":"JWT"}, claims
  // {"sub","aud":[...],"exp","iat","jti"(128-bit random, base64url)} and
  // "aik_instance" when the subject has one. Audiences: 1..16 strings of
  // 1..512 bytes. Errors as IssueX509SVID.
  StatusOr<JwtSvid> IssueJWTSVID(const Subject& subject,
                                 const std::vector<std::string>& audiences,
                                 std::chrono::seconds ttl);
  StatusOr<JwtSvid> IssueJWTSVID(const std::string& spiffe_id,
                                 const std::vector<std::string>& audiences,
                                 std::chrono::seconds ttl) {
    return IssueJWTSVID(Subject{spiffe_id, ""}, audiences, ttl);
  }

  // The claims of `token` if it is a JWT-SVID of this trust domain, signed
  // by a CA in the bundle now, unexpired, issued, for `audience`, and not
  // revoked. Otherwise UNAUTHENTICATED with a message starting with the
  // reason: "malformed:", "unsupported alg:", "unknown kid:",
  // "bad signature:", "expired:", "not yet valid:", "wrong audience:",
  // "wrong trust domain:", "revoked:".
  StatusOr<JwtClaims> ValidateJWTSVID(const std::string& token,
                                      const std::string& audience) const;
  // As ValidateJWTSVID, and the token must be the presenter's own: its sub
  // (and aik_instance, when the presenter has an instance) must equal
  // `presenter`, else UNAUTHENTICATED "not the presenter's: ...". For a
  // kernel that accepts a token as proof from a connection whose principal
  // it already knows: agent A presenting agent B's token is refused.
  StatusOr<JwtClaims> ValidateJWTSVIDFrom(const std::string& token,
                                          const std::string& audience,
                                          const Subject& presenter) const;

  // The identity in `cert_pem` (a leaf, optionally followed by nothing
  // else) if it chains to a CA in the bundle now, is valid now, is an
  // X.509-SVID (one spiffe:// URI SAN in this trust domain, not a CA) and
  // is not revoked. Otherwise UNAUTHENTICATED naming the reason
  // ("malformed:", "untrusted:", "not an SVID:", "revoked:").
  StatusOr<X509SvidInfo> ValidateX509SVID(const std::string& cert_pem) const;

  class Impl;

 private:
  explicit NodeCA(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace aikernel::identity
