// net::Mailbox: the durable inbox and outbox of agent messages (messages.db).
//
// Contract
// - Every write goes through one store::Writer (group commit): a call that
//   finds no batch in progress commits on its own thread; concurrent calls
//   share one COMMIT. A method returns only after its transaction committed
//   (synchronous=FULL by default), so an acknowledged Send survives kill -9.
// - Exactly once into an inbox: rows are unique by (recipient, sender,
//   message_id); Deliver() of a message already stored (acknowledged or not)
//   stores nothing and answers `duplicate` with the stored correlation id.
//   Acknowledged rows keep their key (payload dropped) until the message's
//   TTL passes, so a late retry is still recognised. A message already past
//   its expiry is not stored (`expired`).
// - Order: inbox rows are numbered in commit order (`seq`); Receive() hands
//   out the oldest visible unacknowledged messages of one recipient first.
//   A handed-out message is invisible for `visibility` and is handed out
//   again if not acknowledged by then (at least once towards the agent).
// - The outbox holds messages for peer nodes, in send order per peer, until
//   MarkDelivered(); the forwarder (net/forwarder.h) drains it.
// - Peers (federation) are rows of their own table here too.
// - Thread-safe. Receive() may block up to its wait; Close() wakes it.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/status.h"
#include "store/database.h"
#include "store/writer.h"

namespace aikernel::net {

// One message as it travels and as it is stored.
struct Envelope {
  std::string message_id;
  std::string sender;       // agent SPIFFE ID or "operator:<uid>"
  std::string sender_node;  // "" for this node
  std::string recipient;    // agent SPIFFE ID
  std::string topic;
  std::string payload;
  int64_t sent_ns = 0;
  int64_t expires_ns = 0;  // 0: never
  std::string correlation;
};

struct StoredMessage {
  Envelope env;
  int64_t seq = 0;
  int64_t deliveries = 0;
  int64_t acked_ns = 0;
};

struct OutboxRow {
  Envelope env;
  int64_t seq = 0;
  std::string peer;
  int64_t attempts = 0;
  int64_t next_ns = 0;
  std::string last_error;
  int64_t delivered_ns = 0;
};

struct PutResult {
  bool duplicate = false;
  bool expired = false;  // past its expiry on arrival: not stored
  std::string correlation;  // the stored one when duplicate
  int64_t seq = 0;
};

struct Peer {
  std::string name;
  std::string trust_domain;
  std::string address;  // host:port
  std::string bundle_pem;
  std::string source;   // "aictl" or "config"
  int64_t added_ns = 0;
};

struct MailboxOptions {
  std::string path;  // messages.db
  store::Synchronous synchronous = store::Synchronous::kFull;
  std::function<int64_t()> now_ns;  // default: the system clock
  std::chrono::milliseconds purge_interval{1000};
};

// PendingFor and PeersWithPending on a read-only connection of its own: under WAL it sees what
// committed and never waits for the writer's batch in progress, so the
// forwarder reads its next batch while its last marking commits. One thread
// at a time; independent of the Mailbox's lifetime (its own connection).
class OutboxReader {
 public:
  StatusOr<std::vector<OutboxRow>> PendingFor(const std::string& peer, size_t max,
                                              int64_t after);
  StatusOr<std::vector<std::string>> PeersWithPending();

 private:
  friend class Mailbox;
  OutboxReader() = default;
  std::unique_ptr<store::Database> db_;
  // Declared after db_: finalized first.
  store::Statement pending_;
  store::Statement peers_;
};

class Mailbox {
 public:
  static StatusOr<std::unique_ptr<Mailbox>> Open(MailboxOptions options);
  ~Mailbox();
  Mailbox(const Mailbox&) = delete;
  Mailbox& operator=(const Mailbox&) = delete;

  // Into the recipient's inbox (local send, or a delivery from a peer).
  StatusOr<PutResult> Deliver(const Envelope& env);
  // Several into inboxes in one transaction, in order (a peer's batch);
  // one result per envelope, as Deliver's.
  StatusOr<std::vector<PutResult>> DeliverMany(const std::vector<Envelope>& envs);
  // Into the outbox for `peer`; duplicate as for Deliver, by (sender,
  // recipient, message_id).
  StatusOr<PutResult> Enqueue(const Envelope& env, const std::string& peer);

  // Up to `max` visible messages of `recipient`, oldest first, each made
  // invisible for `visibility`. If none and `wait` > 0, waits for a
  // delivery to `recipient` up to `wait` (or until `cancelled()` / Close()).
  StatusOr<std::vector<StoredMessage>> Receive(const std::string& recipient, size_t max,
                                               std::chrono::nanoseconds visibility,
                                               std::chrono::nanoseconds wait,
                                               const std::function<bool()>& cancelled);
  // Marks `seqs` of `recipient` acknowledged; returns how many changed.
  StatusOr<int64_t> Ack(const std::string& recipient, const std::vector<int64_t>& seqs);

  // Operators' views. `agent` empty: all.
  StatusOr<std::vector<StoredMessage>> ListInbox(const std::string& agent, bool include_acked,
                                                 size_t limit);
  StatusOr<std::vector<OutboxRow>> ListOutbox(const std::string& agent, bool include_delivered,
                                              size_t limit);

  // Forwarder: the oldest undelivered outbox rows of `peer` (those after
  // seq `after`: the forwarder skips rows it already sent whose marking is
  // not yet committed).
  StatusOr<std::vector<OutboxRow>> PendingFor(const std::string& peer, size_t max,
                                              int64_t after = 0);
  // The forwarder's own read-only connection to messages.db (above).
  StatusOr<std::unique_ptr<OutboxReader>> OpenOutboxReader();
  // Peers with undelivered rows.
  StatusOr<std::vector<std::string>> PeersWithPending();
  Status MarkDelivered(const std::vector<int64_t>& seqs);
  // Done without delivery: the peer refused it for good (policy, no such
  // agent). Kept with `error` for `aictl msg ls --outbox --all`.
  Status MarkRefused(int64_t seq, const std::string& error);
  // Both in one transaction, queued for the writer's own thread; resolves
  // once committed (the forwarder does not wait for it before sending on).
  std::future<Status> MarkDoneAsync(std::vector<int64_t> delivered,
                                    std::vector<std::pair<int64_t, std::string>> refused);
  Status MarkFailed(const std::vector<int64_t>& seqs, int64_t next_ns, const std::string& error);

  // Federation.
  Status PutPeer(const Peer& peer);  // insert or replace by name
  StatusOr<bool> RemovePeer(const std::string& name);
  StatusOr<std::vector<Peer>> ListPeers();

  // Blocks until something is in `peer`'s outbox beyond what was there at
  // `*seen` (a counter this updates), up to `timeout`.
  void WaitOutbox(uint64_t* seen, std::chrono::nanoseconds timeout);
  // Wakes WaitOutbox() callers (a peer came back, the forwarder stops).
  void WakeOutbox();

  // Wakes every waiter and closes messages.db. Idempotent.
  void Close();

  struct Shared;  // the implementation's state (mailbox.cc)

 private:
  explicit Mailbox(std::unique_ptr<Shared> s);
  std::unique_ptr<Shared> s_;
};

}  // namespace aikernel::net
