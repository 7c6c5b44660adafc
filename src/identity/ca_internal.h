// identity/ca_internal.h: NodeCA's private state, shared by ca.cc (keys,
// files, rotation, bundle), x509_svid.cc and jwt_svid.cc. Not a public API.
//
// Locking: `mu` guards `cas` and `active` (shared for issue/validate,
// exclusive for rotation). `state_mu` serializes writes of ca.json; order is
// always mu -> state_mu. CaKey's immutable fields are read without locks;
// its expiry counters are atomics.
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <vector>

#include "identity/ca.h"
#include "identity/ossl.h"

namespace aikernel::identity {

struct CaKey {
  std::string kid;
  ossl::PkeyPtr key;
  ossl::X509Ptr cert;
  std::string cert_pem;
  std::string cert_der_b64;    // standard base64 of the DER, for x5c
  std::string jwk_x, jwk_y;    // base64url coordinates
  std::string jws_header_b64;  // base64url of the JWS header for this kid
  int64_t not_before_s = 0;
  int64_t not_after_s = 0;
  int64_t retired_at_s = 0;  // 0 while active; written under mu exclusive
  std::atomic<int64_t> issued_until_s{0};     // exact (in memory)
  std::atomic<int64_t> persisted_until_s{0};  // upper bound in ca.json
};

// RFC 7638 thumbprint of a P-256 key given its base64url coordinates.
std::string JwkThumbprint(const std::string& x_b64, const std::string& y_b64);

class NodeCA::Impl {
 public:
  Options opt;
  std::string state_path;

  mutable std::shared_mutex mu;
  std::vector<std::shared_ptr<CaKey>> cas;  // oldest first
  std::shared_ptr<CaKey> active;

  std::mutex state_mu;

  int64_t NowS() const { return opt.now_ns() / 1000000000; }
  // In the bundle at `now_s`: unexpired, and active or still covering
  // something it issued.
  static bool InBundle(const CaKey& ca, int64_t now_s);
  // The CA with `kid` if it is in the bundle now. REQUIRES(mu shared).
  std::shared_ptr<CaKey> FindKidLocked(const std::string& kid,
                                       int64_t now_s) const;
  // REQUIRES(mu shared); the bundle PEM, active CA first.
  std::string BundlePemLocked(int64_t now_s) const;

  // Records that `ca` issued something valid until `expiry_s`; persists a
  // new upper bound first when the old one is exceeded. REQUIRES(mu shared).
  Status NoteIssued(CaKey& ca, int64_t expiry_s);
  // Writes ca.json. REQUIRES(mu held, state_mu held).
  Status WriteStateLocked();

  // Runs `fn(active CA)` under the shared lock, first rotating a CA that
  // would expire within max_svid_ttl. `fn` returns Status.
  template <typename Fn>
  Status WithActive(Fn&& fn);

  // Issuance policy: subject valid, in our trust domain, not revoked.
  Status CheckIssuable(const Subject& subject, int64_t now_s) const;
  // Clamps ttl to (0, max_svid_ttl]; INVALID_ARGUMENT if ttl <= 0.
  StatusOr<int64_t> TtlSeconds(std::chrono::seconds ttl) const;

  StatusOr<std::string> RotateLocked(int64_t now_s);  // REQUIRES(mu excl)
};

template <typename Fn>
Status NodeCA::Impl::WithActive(Fn&& fn) {
  for (int attempt = 0; attempt < 2; ++attempt) {
    {
      std::shared_lock lock(mu);
      const int64_t now = NowS();
      if (active->not_after_s - now >= opt.max_svid_ttl.count()) {
        return fn(*active, now);
      }
    }
    std::unique_lock lock(mu);
    const int64_t now = NowS();
    if (active->not_after_s - now < opt.max_svid_ttl.count()) {
      StatusOr<std::string> kid = RotateLocked(now);
      if (!kid.ok()) return kid.status();
    }
  }
  return absl::InternalError("the node CA could not be rotated for issuing");
}

// Validates an instance id: 1..128 of [A-Za-z0-9._:-], or empty.
Status ValidateInstance(const std::string& instance);

}  // namespace aikernel::identity
