// net::Messenger: agent messaging on this node, over a Mailbox.
//
// Contract
// - Route() validates an address and says where it goes: an agent of this
//   node (trust domain == the node's), or the federated peer registered for
//   the address's trust domain (NOT_FOUND if there is none).
// - Send() stores a message durably: a local recipient's inbox (the agent
//   must exist: NOT_FOUND otherwise), or the outbox for the peer. It returns
//   once messages.db committed. Validation errors are INVALID_ARGUMENT
//   naming the field (to, topic, payload, message_id, ttl).
// - Receive()/Ack()/List*: as Mailbox's, with the limits applied.
// - Holds no policy: callers (rpc/msg_service.cc) call it from inside
//   Kernel::Dispatch's execute step.
// - Thread-safe. The Mailbox and the lookups must outlive it.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"
#include "net/mailbox.h"

namespace aikernel::net {

struct MessengerOptions {
  std::string node;  // this node's name = its trust domain
  int64_t max_payload_bytes = 1 << 20;
  std::chrono::milliseconds default_ttl{24 * 3600 * 1000};
  // A local agent's groups by name; NOT_FOUND if there is no such agent.
  std::function<StatusOr<std::vector<std::string>>(const std::string& name)> agent_groups;
  std::function<int64_t()> now_ns;  // default: the system clock
};

struct Route {
  std::string to;             // as given (a SPIFFE ID)
  std::string trust_domain;
  std::string agent_name;     // the last path segment
  bool remote = false;
  std::string peer;           // remote only: the peer's name
};

struct SendArgs {
  std::string sender;  // agent SPIFFE ID or "operator:<uid>", from the principal
  std::string topic;
  std::string payload;
  std::string message_id;  // empty: generated
  std::optional<int64_t> ttl_ns;
  std::string correlation;
};

struct SendResult {
  std::string message_id;
  bool duplicate = false;
  bool remote = false;
  std::string correlation;
};

class Messenger {
 public:
  Messenger(Mailbox* mailbox, MessengerOptions options);

  StatusOr<Route> Resolve(const std::string& to) const;
  // The recipient's groups for policy (empty for remote or unknown agents).
  std::vector<std::string> GroupsOf(const Route& route) const;
  StatusOr<SendResult> Send(const Route& route, const SendArgs& args);
  // A message from an agent of peer `from` (a federated peer, already
  // authenticated) into a local inbox: the sender must be an agent of the
  // peer's trust domain, the recipient an existing agent of this node, and
  // the fields valid as for Send. Duplicates are reported, not stored.
  StatusOr<PutResult> Accept(const Peer& from, Envelope env);
  // Accept()'s checks alone: the envelope as it would be stored.
  StatusOr<Envelope> Check(const Peer& from, Envelope env) const;
  // UNAUTHENTICATED naming `field` unless `id` is
  // spiffe://<from's trust domain>/agent/<name>: what a peer node may vouch
  // for (the sender of a message, the caller of a remote tool).
  static Status CheckAgentOf(const Peer& from, const std::string& id, const char* field);

  // Federation: peers by name, cached here (messages.db keeps them).
  // LoadPeers() reads them at start; Add/Remove write through.
  Status LoadPeers();
  Status AddPeer(const Peer& peer);  // ALREADY_EXISTS: trust domain taken
  StatusOr<bool> RemovePeer(const std::string& name);
  std::vector<Peer> Peers() const;
  std::optional<Peer> PeerByTrustDomain(const std::string& trust_domain) const;
  std::optional<Peer> PeerByName(const std::string& name) const;

  Mailbox* mailbox() const { return mailbox_; }
  const MessengerOptions& options() const { return opt_; }
  const std::string& trust_domain() const { return opt_.node; }

  // A fresh random id (128 bits, hex): message ids the kernel picks and
  // correlation ids.
  static std::string RandomId();
  // INVALID_ARGUMENT naming the field unless 1..128 of [A-Za-z0-9._:-].
  static Status ValidateMessageId(const std::string& id);
  static Status ValidateTopic(const std::string& topic);

 private:
  Mailbox* mailbox_;
  MessengerOptions opt_;
  mutable std::mutex peers_mu_;
  std::map<std::string, Peer> peers_;  // GUARDED_BY(peers_mu_), by name
};

}  // namespace aikernel::net
