#include "kernel/connection_table.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>

namespace aikernel::kernel {

StatusOr<PeerCredentials> ReadPeerCredentials(int fd) {
  PeerCredentials out;
  ucred cred{};
  socklen_t len = sizeof(cred);
  if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) {
    return absl::UnauthenticatedError(
        absl::StrCat("SO_PEERCRED: ", std::strerror(errno)));
  }
  out.pid = cred.pid;
  out.uid = cred.uid;
  out.gid = cred.gid;
  // SO_PEERGROUPS (Linux 4.13+) gives the supplementary groups the peer had
  // when it connected, straight from the kernel, with no NSS lookup.
  std::vector<gid_t> groups(64);
  for (int attempt = 0; attempt < 4; ++attempt) {
    socklen_t glen = static_cast<socklen_t>(groups.size() * sizeof(gid_t));
    if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups.data(), &glen) == 0) {
      groups.resize(glen / sizeof(gid_t));
      out.groups = std::move(groups);
      return out;
    }
    if (errno != ERANGE) {
      return absl::UnauthenticatedError(
          absl::StrCat("SO_PEERGROUPS: ", std::strerror(errno)));
    }
    groups.resize(glen / sizeof(gid_t) + 1);
  }
  return absl::UnauthenticatedError("SO_PEERGROUPS: group list keeps growing");
}

Status ConnectionTable::Register(int fd, const PeerCredentials& creds) {
  struct stat st {};
  if (fstat(fd, &st) != 0) {
    return absl::InternalError(absl::StrCat("fstat: ", std::strerror(errno)));
  }
  std::lock_guard<std::mutex> lock(mu_);
  Entry entry;
  entry.dev = st.st_dev;
  entry.ino = st.st_ino;
  entry.creds = creds;
  entries_[fd] = std::move(entry);
  accepted_.fetch_add(1, std::memory_order_relaxed);
  return absl::OkStatus();
}

Status ConnectionTable::RegisterAgent(int fd, const AgentIdentity& agent) {
  struct stat st {};
  if (fstat(fd, &st) != 0) {
    return absl::InternalError(absl::StrCat("fstat: ", std::strerror(errno)));
  }
  Entry e;
  e.dev = st.st_dev;
  e.ino = st.st_ino;
  e.creds.pid = agent.pid;
  e.creds.uid = agent.uid;
  e.creds.gid = agent.gid;
  e.is_agent = true;
  e.agent = agent;
  // A duplicate, so RevokeAgent() can shut this very socket down even after
  // gRPC closed fd N and the number went to another connection.
  const int dup = fcntl(fd, F_DUPFD_CLOEXEC, 0);
  if (dup < 0) return absl::InternalError(absl::StrCat("dup: ", std::strerror(errno)));
  e.agent_socket = std::make_shared<UniqueFd>(dup);
  std::lock_guard<std::mutex> lock(mu_);
  entries_[fd] = std::move(e);
  return absl::OkStatus();
}

void ConnectionTable::RevokeAgent(const std::string& instance_id) {
  std::lock_guard<std::mutex> lock(mu_);
  for (auto& [fd, e] : entries_) {
    if (e.is_agent && !e.revoked && e.agent.instance_id == instance_id) {
      // Close the connection now, whoever still holds its other end (a
      // child the agent left behind): shutdown() on the table's own
      // duplicate ends the stream for both sides while gRPC keeps owning,
      // and later closes, its fd.
      if (e.agent_socket) shutdown(e.agent_socket->get(), SHUT_RDWR);
      e.agent_socket.reset();
      e.revoked = true;
    }
  }
}

Principal ConnectionTable::Classify(const PeerCredentials& creds) const {
  Principal p;
  p.uid = creds.uid;
  p.gid = creds.gid;
  p.pid = creds.pid;
  p.groups = creds.groups;
  const gid_t admin = admin_gid_.load();
  const bool in_admin =
      admin != static_cast<gid_t>(-1) &&
      (creds.gid == admin ||
       std::find(creds.groups.begin(), creds.groups.end(), admin) !=
           creds.groups.end());
  p.kind = (creds.uid == 0 || in_admin) ? Principal::Kind::kOperator
                                        : Principal::Kind::kUser;
  return p;
}

StatusOr<Principal> ConnectionTable::Authenticate(const std::string& peer,
                                                  std::string* revoked) const {
  constexpr std::string_view kPrefix = "fd:";
  if (peer.compare(0, kPrefix.size(), kPrefix) != 0) {
    return absl::UnauthenticatedError(
        absl::StrCat("connection '", peer, "' was not accepted by the kernel"));
  }
  int fd = -1;
  const char* begin = peer.data() + kPrefix.size();
  const char* end = peer.data() + peer.size();
  auto [ptr, ec] = std::from_chars(begin, end, fd);
  if (ec != std::errc() || ptr != end || fd < 0) {
    return absl::UnauthenticatedError(
        absl::StrCat("malformed connection id '", peer, "'"));
  }
  Entry entry;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = entries_.find(fd);
    if (it == entries_.end()) {
      return absl::UnauthenticatedError(
          absl::StrCat("connection ", peer, " is not registered"));
    }
    entry = it->second;
  }
  struct stat st {};
  if (fstat(fd, &st) != 0 || st.st_dev != entry.dev ||
      st.st_ino != entry.ino) {
    return absl::UnauthenticatedError(
        absl::StrCat("connection ", peer, " is no longer the registered socket"));
  }
  if (entry.revoked) {
    const std::string former = absl::StrCat("agent:", entry.agent.spiffe_id, "#",
                                            entry.agent.instance_id);
    if (revoked != nullptr) *revoked = former;
    return absl::UnauthenticatedError(absl::StrCat(
        "connection ", peer, " was ", former,
        "'s and is revoked: the instance ended, and its identity with it"));
  }
  if (entry.is_agent) {
    Principal p;
    p.kind = Principal::Kind::kAgent;
    p.uid = entry.creds.uid;
    p.gid = entry.creds.gid;
    p.pid = entry.creds.pid;
    p.spiffe_id = entry.agent.spiffe_id;
    p.instance_id = entry.agent.instance_id;
    p.agent_name = entry.agent.name;
    p.agent_groups = entry.agent.groups;
    p.quotas = entry.agent.quotas;
    return p;
  }
  return Classify(entry.creds);
}

}  // namespace aikernel::kernel
