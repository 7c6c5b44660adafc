// net peer authentication: who a peer node is, from its mTLS certificate,
// and the signed assertion a sending node puts on a delivery.
//
// Contract
// - VerifyPeerCertificate(): `leaf_pem` (plus intermediates in
//   `chain_pem`) must carry exactly one spiffe:// URI SAN, whose trust
//   domain is `trust_domain`, must chain to a CA certificate in
//   `bundle_pem` (the bundle federated for that trust domain), and must be
//   valid at `now_s`. Otherwise UNAUTHENTICATED whose message starts with
//   the reason: "malformed:", "untrusted:", "expired:", "not yet valid:",
//   "wrong trust domain:". Returns the SPIFFE ID.
// - SpiffeIdOf(): the URI SAN of a certificate, unverified (to find which
//   bundle to verify it against).
// - Sign()/Verify(): ECDSA (SHA-256) over `message` with the node's TLS key
//   (PEM PKCS#8) and the public key of a certificate (PEM).
// Pure functions over their inputs; thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/status.h"

namespace aikernel::net {

StatusOr<std::string> SpiffeIdOf(const std::string& cert_pem);

StatusOr<std::string> VerifyPeerCertificate(const std::string& leaf_pem,
                                            const std::string& chain_pem,
                                            const std::string& bundle_pem,
                                            const std::string& trust_domain, int64_t now_s);

StatusOr<std::string> Sign(const std::string& key_pem, const std::string& message);
Status Verify(const std::string& cert_pem, const std::string& message,
              const std::string& signature);

// This node's side of the mTLS link: its peer certificate (an X.509-SVID
// for NodeSpiffeId(trust_domain) from the node CA), key and own bundle.
struct NodeTls {
  std::string trust_domain;
  std::string spiffe_id;
  std::string cert_pem;
  std::string key_pem;
  std::string bundle_pem;
  int64_t expires_at_s = 0;
};

// The SPIFFE ID of a node's peer certificate: spiffe://<trust domain>/aikernel/node.
std::string NodeSpiffeId(const std::string& trust_domain);

}  // namespace aikernel::net

namespace aikernel::net {
struct Envelope;
// The bytes a delivery assertion signs: a domain tag, the sending trust
// domain, then per message its fields length-prefixed (docs/net.md).
std::string AssertionBytes(const std::string& sender_trust_domain,
                           const std::vector<Envelope>& messages);
}  // namespace aikernel::net

namespace aikernel::net {
// A remote tool call as the calling node asserts it (Peer.CallTool).
struct ToolCallClaim {
  std::string caller;      // spiffe://<sender trust domain>/agent/<name>
  std::string target;      // the called node's trust domain
  std::string tool;        // the tool as the called node names it
  std::string args_json;
  int64_t timeout_ns = 0;  // 0: none given
  std::string correlation;
  int64_t issued_ns = 0;
};
// The bytes a tool-call assertion signs: a domain tag of its own (so a
// delivery's signature can never pass for a call's), the sending trust
// domain, then the claim's fields length-prefixed (docs/net.md).
std::string ToolCallAssertionBytes(const std::string& sender_trust_domain,
                                   const ToolCallClaim& claim);
}  // namespace aikernel::net
