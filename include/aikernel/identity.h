// aikernel identity types: what the Client's identity methods take and
// return (aikernel/client.h declares the methods and X509SvidSource;
// proto/aikernel/v1/identity.proto and docs/identity.md state the semantics
// and the credential formats in full).
//
// Agents the daemon spawned get SPIFFE credentials for their own SPIFFE ID
// (spiffe://<trust-domain>/agent/<name>) and instance; operators read the
// trust bundle and rotate the node CA. Every call is authorized and audited
// by the daemon; each result carries the sequence number of its audit
// record. Plain values (thread-compatible); no gRPC, protobuf or absl.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace aikernel {
inline namespace sdk {

// Nanosecond-precision UTC time point (the same alias as in client.h).
using Timestamp = std::chrono::sys_time<std::chrono::nanoseconds>;

// An X.509-SVID: a certificate whose only URI SAN is the agent's SPIFFE ID,
// with a private key made for this fetch (the daemon keeps no copy).
struct X509Svid {
  std::string spiffe_id;    // spiffe://<trust-domain>/agent/<name>
  std::string instance_id;  // also the certificate subject's CN
  std::string cert_pem;     // the leaf
  std::string key_pem;      // PEM PKCS#8, EC P-256
  std::string bundle_pem;   // the trust bundle at issue time
  std::string serial_hex;
  std::string ca_kid;  // the issuing CA's key id
  Timestamp issued_at{};
  Timestamp expires_at{};
  uint64_t audit_sequence = 0;
  // Half-way through the lifetime: when X509SvidSource fetches a new one.
  Timestamp RefreshAt() const { return issued_at + (expires_at - issued_at) / 2; }
};

// A JWT-SVID (compact JWS, ES256).
struct JwtSvid {
  std::string token;
  std::string spiffe_id;
  std::string instance_id;
  std::vector<std::string> audiences;
  std::string jti;
  std::string kid;
  Timestamp issued_at{};
  Timestamp expires_at{};
  uint64_t audit_sequence = 0;
};

// The daemon's verdict on a JWT-SVID. A refused token is a successful call
// with valid == false and the reason ("expired: ...", "wrong audience: ...",
// "bad signature: ...", "revoked: ...", ...).
struct JwtValidation {
  bool valid = false;
  std::string reason;  // when !valid
  // When valid: the token's claims. spiffe_id is the token's subject, not
  // the caller: a token valid for agent B says nothing about who handed it
  // over.
  std::string spiffe_id;
  std::string instance_id;
  // When valid: the subject (and instance) are the caller's own identity.
  bool subject_is_caller = false;
  std::vector<std::string> audiences;
  std::string jti;
  std::string kid;
  Timestamp issued_at{};
  Timestamp expires_at{};
  uint64_t audit_sequence = 0;
};

struct CertificateAuthority {
  std::string kid;  // RFC 7638 thumbprint; the JWT header's kid
  Timestamp not_before{};
  Timestamp not_after{};
  bool active = false;
  std::optional<Timestamp> retired_at;    // unset while active
  std::optional<Timestamp> issued_until;  // it stays in the bundle until then
};

// The node's trust bundle: the active CA and retired ones still in overlap.
struct TrustBundle {
  std::string trust_domain;
  std::string pem;                 // CA certificates, active first
  std::string jwks_json;           // the same keys as a JWK Set
  std::string spiffe_bundle_json;  // and in the SPIFFE bundle format
  std::vector<CertificateAuthority> cas;  // order of `pem`
  uint64_t audit_sequence = 0;
};

struct RotateCAResult {
  std::string kid;           // the new signer
  std::string previous_kid;  // retired, still in the bundle during overlap
  TrustBundle bundle;        // after the rotation
  uint64_t audit_sequence = 0;
};

}  // namespace sdk
}  // namespace aikernel
