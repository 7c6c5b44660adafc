// aikernel message types: what the Client's Msg* methods take and return
// (aikernel/client.h declares the methods; proto/aikernel/v1/msg.proto and
// docs/net.md state the semantics in full).
//
// Agents send messages to agents by SPIFFE ID (spiffe://<trust
// domain>/agent/<name>), on this node or on a federated peer node. Each
// message lands in the recipient's inbox exactly once (de-duplicated by
// sender and message id); Receive hands them out oldest first; a message not
// acknowledged within its visibility timeout is handed out again.
//
// Plain values (thread-compatible); no gRPC, protobuf or absl.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace aikernel {
inline namespace sdk {

using Timestamp = std::chrono::sys_time<std::chrono::nanoseconds>;

struct MsgSendOptions {
  // 1..128 of [A-Za-z0-9._:-], unique per sender: a retry with the same id
  // is stored once (answered `duplicate`). Empty: the daemon picks one.
  std::string message_id;
  // Zero: the daemon's [msg] default_ttl_ms.
  std::chrono::nanoseconds ttl{0};
};

struct MsgSendResult {
  std::string message_id;
  bool duplicate = false;
  bool remote = false;  // queued for a peer node
  std::string correlation_id;
  uint64_t audit_sequence = 0;
};

struct Message {
  uint64_t seq = 0;  // pass to MsgAck
  std::string message_id;
  std::string sender;     // agent SPIFFE ID or "operator:<uid>"
  std::string recipient;
  std::string topic;
  std::string payload;
  Timestamp sent_at{};
  std::optional<Timestamp> expires_at;
  uint32_t deliveries = 0;
  std::string correlation_id;
  std::string sender_node;  // empty: this node
};

struct MsgReceiveOptions {
  std::string inbox;  // empty: the calling agent's own
  uint32_t max_messages = 0;              // 0: 100
  std::chrono::milliseconds wait{0};      // long poll, at most 60 s
  std::chrono::milliseconds visibility{0};  // 0: 30 s
};

struct MsgBatch {
  std::vector<Message> messages;
  uint64_t audit_sequence = 0;
};

struct MsgAckResult {
  uint32_t acked = 0;
  uint64_t audit_sequence = 0;
};

struct MsgOutboxEntry {
  uint64_t seq = 0;
  std::string message_id, sender, recipient, peer, topic;
  uint32_t attempts = 0;
  std::optional<Timestamp> next_attempt_at;
  std::string last_error;
  bool delivered = false;
  std::string correlation_id;
};

struct MsgListOptions {
  bool outbox = false;
  std::string agent;  // recipient (inbox) or sender (outbox); empty: all
  bool include_done = false;  // acknowledged / delivered ones too
  uint32_t limit = 0;         // 0: 100
};

struct MsgListResult {
  std::vector<Message> inbox;
  std::vector<MsgOutboxEntry> outbox;
  uint64_t audit_sequence = 0;
};

// ---- federation (Federation service) ----

struct NodeBundle {
  std::string trust_domain;
  std::string bundle_pem;      // give this to peers (aictl node peer add)
  std::string node_spiffe_id;  // what this node's peer certificate carries
  std::string listen_address;  // "" when [peer] listen is off
  uint64_t audit_sequence = 0;
};

struct PeerInfo {
  std::string name;
  std::string trust_domain;  // empty in AddPeer: taken from the bundle
  std::string address;       // host:port
  std::string bundle_pem;
  std::string source;        // "aictl" or "config"
  Timestamp added_at{};
  uint64_t pending = 0;      // outbox messages waiting for it
};

struct PeerResult {
  PeerInfo peer;
  uint64_t audit_sequence = 0;
};

struct PeerList {
  std::vector<PeerInfo> peers;
  uint64_t audit_sequence = 0;
};

struct PeerRemoved {
  bool removed = false;
  uint64_t audit_sequence = 0;
};

}  // namespace sdk
}  // namespace aikernel
