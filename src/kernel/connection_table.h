// kernel::ConnectionTable: connection -> principal, step 1 of the dispatch
// path (authenticate).
//
// The daemon accepts every connection itself, reads the peer's credentials
// from the kernel (SO_PEERCRED, SO_PEERGROUPS) and registers them here under
// the fd it then hands to gRPC. gRPC reports that connection's peer as
// "fd:N", which is all a call carries. Because fd numbers are reused, each
// entry also records the socket's (st_dev, st_ino): Authenticate() fstat()s
// fd N and refuses if it is no longer the same socket. Nothing a client
// sends in a request can change its entry.
//
// Operator status is decided at Authenticate() time against the current
// admin group, so a reload that changes the group applies to open
// connections too. Thread-safe.
//
// Agents: the daemon end of the socketpair the Supervisor created for an
// agent instance is registered with RegisterAgent(); that registration, and
// nothing a peer sends, makes the connection's principal an agent. A
// connection accepted on the daemon's socket (Register) is never an agent,
// whatever process is on the other end. RevokeAgent() closes every connection
// of an ended instance at once (shutdown(2) of the daemon end) and makes any
// call still in flight on it UNAUTHENTICATED.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/status.h"
#include "common/unique_fd.h"
#include "kernel/principal.h"

namespace aikernel::kernel {

struct PeerCredentials {
  pid_t pid = 0;
  uid_t uid = static_cast<uid_t>(-1);
  gid_t gid = static_cast<gid_t>(-1);
  std::vector<gid_t> groups;
};

// Reads SO_PEERCRED and SO_PEERGROUPS of a connected Unix socket.
StatusOr<PeerCredentials> ReadPeerCredentials(int fd);

// Who an agent connection belongs to, fixed at spawn by the Supervisor.
struct AgentIdentity {
  std::string name;
  std::string instance_id;
  std::string spiffe_id;            // spiffe://<node>/agent/<name>
  std::vector<std::string> groups;  // from the spec, for policy
  pid_t pid = 0;                    // the agent (or its pid-namespace init)
  uid_t uid = static_cast<uid_t>(-1);
  gid_t gid = static_cast<gid_t>(-1);
  // The spec's [quotas], enforced at admission; null: none.
  std::shared_ptr<const agents::Quotas> quotas;
};

class ConnectionTable {
 public:
  // Records `fd`'s socket identity and credentials. Replaces any stale entry
  // for the same fd number.
  Status Register(int fd, const PeerCredentials& creds);

  // Records `fd` (the daemon end of an agent's socketpair) as that agent
  // instance's connection. Replaces any stale entry for the same fd number.
  Status RegisterAgent(int fd, const AgentIdentity& agent);
  // The instance ended: its connections are shut down and no longer
  // authenticate. Each stays in the table as revoked (until its fd number
  // is registered again), so a call still arriving on it is refused naming
  // whose it was.
  void RevokeAgent(const std::string& instance_id);

  // Resolves a gRPC peer string ("fd:N") to a principal. UNAUTHENTICATED if
  // the peer is not a registered connection, fd N is no longer the socket
  // that was registered, or the connection was revoked (then *revoked, if
  // given, is the principal id it had).
  StatusOr<Principal> Authenticate(const std::string& peer,
                                   std::string* revoked = nullptr) const;

  // gid whose members (primary or supplementary) are operators; uid 0 always
  // is. -1: none.
  void SetAdminGroup(gid_t gid) { admin_gid_.store(gid); }
  gid_t admin_group() const { return admin_gid_.load(); }

  uint64_t accepted() const { return accepted_.load(); }

 private:
  struct Entry {
    dev_t dev = 0;
    ino_t ino = 0;
    PeerCredentials creds;
    bool is_agent = false;
    bool revoked = false;  // agents: the instance ended (RevokeAgent)
    AgentIdentity agent;
    std::shared_ptr<UniqueFd> agent_socket;  // agents: a dup of fd, for RevokeAgent
  };
  Principal Classify(const PeerCredentials& creds) const;

  mutable std::mutex mu_;
  std::unordered_map<int, Entry> entries_;  // GUARDED_BY(mu_)
  std::atomic<gid_t> admin_gid_{static_cast<gid_t>(-1)};
  std::atomic<uint64_t> accepted_{0};
};

}  // namespace aikernel::kernel
