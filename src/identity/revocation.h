// identity::RevocationList: which credentials this node refuses even though
// their signature and times are good.
//
// Two kinds of entry:
// - instance: (SPIFFE ID, instance id). Every credential issued to that
//   instance, before or after the revocation, is refused, and NodeCA issues
//   it no new ones. The kernel revokes an instance when the agent is stopped,
//   killed or removed. Instance ids are never reused, so an entry can be
//   forgotten once every credential issued before it has expired.
// - subject cutoff: (SPIFFE ID, T). Every credential for that ID whose issue
//   time (JWT iat, X.509 notBefore; whole seconds) is <= T is refused,
//   whatever its instance. Cutoffs only move forward. Credentials issued
//   after T (from second T+1) are accepted.
// How a credential names its instance: JWT-SVIDs carry the private claim
// "aik_instance"; X.509-SVIDs carry it as the subject's commonName.
//
// Persistence: with a path, every change is written (atomically, fsynced,
// mode 0600) before the call returns, and Open() reloads it, so a restart
// does not resurrect revoked tokens. The in-memory list is updated first: if
// the write fails the revocation is still in force in this process, the
// error is returned, and the next change (or the same call repeated) writes
// again.
//
// Thread-safe: Check() takes a shared lock; changes take an exclusive one.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <shared_mutex>
#include <string>
#include <utility>
#include <vector>

#include "common/status.h"

namespace aikernel::identity {

class RevocationList {
 public:
  struct InstanceEntry {
    std::string spiffe_id;
    std::string instance;
    int64_t revoked_at_s = 0;
  };
  struct SubjectEntry {
    std::string spiffe_id;
    int64_t cutoff_s = 0;  // credentials issued at or before this are refused
  };

  // In memory only (tests, benchmarks).
  RevocationList() = default;
  // Loads `path` if it exists (DATA_LOSS if it is not a revocation file) and
  // persists every later change there.
  static StatusOr<std::unique_ptr<RevocationList>> Open(std::string path);

  // INVALID_ARGUMENT if `spiffe_id` or `instance` is empty.
  Status RevokeInstance(const std::string& spiffe_id,
                        const std::string& instance, int64_t now_s);
  // Refuses credentials for `spiffe_id` issued at or before `cutoff_s`. A
  // cutoff earlier than the current one changes nothing.
  Status RevokeSubjectBefore(const std::string& spiffe_id, int64_t cutoff_s);

  // OK, or UNAUTHENTICATED "revoked: ..." naming the entry that matched.
  Status Check(const std::string& spiffe_id, const std::string& instance,
               int64_t issued_at_s) const;
  bool IsInstanceRevoked(const std::string& spiffe_id,
                         const std::string& instance) const;
  // The cutoff for `spiffe_id`, or INT64_MIN if none.
  int64_t SubjectCutoff(const std::string& spiffe_id) const;

  // Forgets entries no unexpired credential can match: instance entries
  // revoked, and cutoffs set, more than `max_ttl_s` before `now_s`.
  Status Prune(int64_t now_s, int64_t max_ttl_s);

  std::vector<InstanceEntry> Instances() const;
  std::vector<SubjectEntry> Subjects() const;

 private:
  // Writes the list if anything changed since the last good write.
  Status PersistLocked();  // REQUIRES(mu_ exclusive)

  std::string path_;  // "" = not persisted
  mutable std::shared_mutex mu_;
  bool dirty_ = false;  // GUARDED_BY(mu_): a change not yet on disk
  // (spiffe_id, instance) -> revoked_at_s
  std::map<std::pair<std::string, std::string>, int64_t> instances_;
  std::map<std::string, int64_t> cutoffs_;  // spiffe_id -> cutoff_s
};

}  // namespace aikernel::identity
