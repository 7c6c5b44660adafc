// kernel::IdentityCalls: the work of the identity.* syscalls, run inside
// Kernel::Dispatch closures (so each is authenticated, authorized by Cedar
// and audited like every call), over the node CA and revocation list of
// src/identity; and the kernel's side of revocation when an agent ends.
//
// Contract
// - Credentials are issued only to the calling principal's own identity:
//   Fetch*() take the Principal the kernel authenticated, never a name from
//   a request. A principal that is not an agent (no SPIFFE ID or instance)
//   gets PERMISSION_DENIED (the policy refuses it first; this is the second
//   wall). A revoked instance gets PERMISSION_DENIED from the CA.
// - CheckPresented() is step 1 of Kernel::Dispatch for a call that presents
//   a token: a token is never an identity by itself, only a claim that must
//   match the connection's.
// - Validate() returns the token's claims, or the rejection as
//   UNAUTHENTICATED whose message starts with the reason (identity/ca.h);
//   the RPC layer turns a rejection into a result, not a call error.
// - EndInstance() / RemoveAgent() are for the agent supervisor's hooks: an
//   ended instance (stop, kill, exit, crash, daemon shutdown), a removed
//   agent. They take effect in memory at once (connections closed,
//   credentials refused, no new ones) and are persisted; they return the
//   ledger record of the revocation, whose code is that of the persisting
//   write (the revocation holds in this process even if it failed).
// - For the node itself (federation, issue 8): NodeSpiffeId() and
//   IssueNodeSvid() give this node's own X.509-SVID
//   (spiffe://<trust-domain>/node) for its TLS, and Bundle().pem is the trust
//   bundle other nodes need. These are not syscalls and not audited here;
//   the caller records what it does with them.
// - Thread-safe (the CA, the list and the table are). Owns nothing; the CA,
//   list, table and clock must outlive it.
#pragma once

#include <chrono>
#include <string>
#include <utility>
#include <vector>

#include "audit/record.h"
#include "common/status.h"
#include "identity/ca.h"
#include "identity/revocation.h"
#include "kernel/authorizer.h"
#include "kernel/clock.h"
#include "kernel/connection_table.h"
#include "kernel/principal.h"

namespace aikernel::kernel {

struct IdentitySettings {
  std::chrono::seconds x509_svid_ttl{std::chrono::hours(1)};
  std::chrono::seconds jwt_svid_ttl{std::chrono::minutes(5)};
  // The CA's cap on any SVID lifetime: revocations older than this match
  // nothing unexpired and are pruned.
  std::chrono::seconds max_svid_ttl{std::chrono::hours(24)};
};

class IdentityCalls {
 public:
  // `connections` may be null (then EndInstance closes nothing).
  IdentityCalls(identity::NodeCA* ca, identity::RevocationList* revocations,
                ConnectionTable* connections, IdentitySettings settings,
                const Clock* clock = &SystemClock::Get());

  const std::string& trust_domain() const { return ca_->trust_domain(); }
  identity::NodeCA* ca() const { return ca_; }

  // The resource of a fetch: "spiffe-id:<the caller's own SPIFFE ID>"
  // (Cedar SpiffeId::"spiffe://..."), or "spiffe-id:none" for a principal
  // that has none. Computed from the authenticated principal
  // (BindFetch as CallRequest::bind), so policy can say "only for itself".
  static std::string FetchResource(const Principal& p);
  static void BindFetch(const Principal& p, std::string* resource, ContextAttrs*) {
    *resource = FetchResource(p);
  }

  StatusOr<identity::X509Svid> FetchX509(const Principal& p);
  StatusOr<identity::JwtSvid> FetchJwt(const Principal& p,
                                       const std::vector<std::string>& audiences);
  StatusOr<identity::JwtClaims> Validate(const std::string& token,
                                         const std::string& audience) const;
  // A credential a call presented (its "authorization" metadata), checked
  // against the connection's principal `p`, which alone says who calls: OK
  // if it is "Bearer <JWT-SVID>" that this node validates for audience
  // NodeSpiffeId() and whose sub (and aik_instance) are p's own. Otherwise
  // UNAUTHENTICATED: "authorization: ..." for a malformed header,
  // "authorization: bearer token refused: <reason>: ..." for a token this
  // node does not accept (ValidateJWTSVID's reasons), "token subject X is
  // not this connection's identity Y" for another's token (Y is p's SPIFFE
  // ID, or p.Id() for a principal without one), "token instance ..." for an
  // earlier instance's. *subject is the token's sub once its signature
  // held ("" before).
  Status CheckPresented(const Principal& p, const std::string& authorization,
                        std::string* subject) const;
  identity::TrustBundle Bundle() const { return ca_->Bundle(); }
  // Returns {new kid, previous kid}.
  StatusOr<std::pair<std::string, std::string>> RotateCA();

  // An instance ended: its connections are closed at once
  // (ConnectionTable::RevokeAgent), its credentials are refused by this node
  // from now on, and it gets no new ones. Returns the ledger record
  // (principal "kernel", action "identity.revoke", resource
  // "spiffe-id:<id>#<instance>").
  audit::Record EndInstance(const std::string& spiffe_id, const std::string& instance);
  // An agent was removed: every credential issued to its SPIFFE ID up to
  // this second is refused, whatever the instance (resource
  // "spiffe-id:<id>").
  audit::Record RemoveAgent(const std::string& spiffe_id);
  // Forgets revocations no unexpired credential can match (hourly timer).
  Status Prune();

  // spiffe://<trust-domain>/node
  std::string NodeSpiffeId() const;
  // An X.509-SVID for this node (NodeSpiffeId(), CN "node"), for its own
  // TLS; `ttl` is capped at max_svid_ttl.
  StatusOr<identity::X509Svid> IssueNodeSvid(std::chrono::seconds ttl);

 private:
  int64_t NowS() const { return clock_->RealtimeNs() / 1'000'000'000; }
  audit::Record RevocationRecord(const std::string& resource, const Status& outcome) const;

  identity::NodeCA* ca_;
  identity::RevocationList* revocations_;
  ConnectionTable* connections_;
  IdentitySettings settings_;
  const Clock* clock_;
};

}  // namespace aikernel::kernel
