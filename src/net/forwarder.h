// net::Forwarder: drains the outbox to peer nodes, per peer in send order,
// with retry and exponential backoff.
//
// Contract
// - One background thread. For each peer with undelivered outbox rows it
//   sends the oldest (up to `batch`) through the PeerTransport. A transport
//   failure (peer down, TLS refused) marks the rows failed with the error,
//   and the peer waits `backoff` (initial, doubling, at most max_backoff)
//   before the next try; messages wait in messages.db meanwhile, across
//   restarts. Per-message outcomes: OK or duplicate -> delivered; a
//   permanent refusal (PERMISSION_DENIED, NOT_FOUND, INVALID_ARGUMENT,
//   UNAUTHENTICATED) -> done with the error kept; anything else (the peer
//   could not store it) stops the batch there, to be retried in order.
// - A row is marked delivered only after the peer answered for it, so a
//   crash in between re-sends it, and the receiver's inbox de-duplicates:
//   at least once on the wire, exactly once in the inbox.
// - Pipelined: one batch per peer is on the wire at a time (the receiver
//   stores a batch in the order it arrives, so two at once could swap), but
//   the forwarder does not wait for the commit that marks a batch
//   delivered: it queues that commit with the writer (up to
//   `marks_in_flight` per peer), reads the next batch on a read-only
//   connection of its own (Mailbox::OpenOutboxReader) and sends it while
//   the marking commits. Rows already sent and answered are skipped by seq
//   (a per-peer cursor) until their marking commits; if a marking fails,
//   the cursor goes back and the rows are sent again (the receiver answers
//   duplicate).
// - Start() once; Stop() (and the destructor) joins. Thread-safe Kick().
#pragma once

#include <chrono>
#include <deque>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "common/status.h"
#include "net/mailbox.h"
#include "net/messenger.h"

namespace aikernel::net {

struct DeliveryOutcome {
  Status status;
  bool duplicate = false;
};

// How messages reach a peer node (rpc/peer_client.cc over mTLS gRPC).
class PeerTransport {
 public:
  virtual ~PeerTransport() = default;
  // One outcome per message, in order; an error status if the batch did not
  // reach the peer (or its answer did not come back).
  virtual StatusOr<std::vector<DeliveryOutcome>> Deliver(const Peer& peer,
                                                         const std::vector<Envelope>& batch) = 0;
};

struct ForwarderOptions {
  // Each message of a batch is one thread on the receiving side while it
  // is decided (rpc/federation_service.cc), so batches stay modest.
  size_t batch = 128;
  std::chrono::milliseconds initial_backoff{200};
  std::chrono::milliseconds max_backoff{30000};
  // Longest sleep when nothing is due (new outbox rows wake it at once).
  std::chrono::milliseconds idle_wait{1000};
  // Per peer: delivered-markings queued and not yet committed; one more
  // waits for the oldest.
  size_t marks_in_flight = 4;
};

class Forwarder {
 public:
  Forwarder(Mailbox* mailbox, Messenger* messenger, PeerTransport* transport,
            ForwarderOptions options);
  ~Forwarder();

  void Start();
  void Stop();
  // Forget backoff (e.g. after a peer was re-added) and look now.
  void Kick();

 private:
  struct PeerState {
    std::chrono::milliseconds backoff{0};
    std::chrono::steady_clock::time_point next{};
    // Rows up to `cursor` were answered by the peer; their marking is
    // committed or in `marks`.
    int64_t cursor = 0;
    std::deque<std::future<Status>> marks;
  };
  void Loop();
  // One batch to `name`; returns true if more may be pending right away.
  bool DrainOnce(const std::string& name, PeerState& st,
                 std::chrono::steady_clock::time_point* wake);
  // Collects committed markings; waits for the oldest while `keep` or more
  // are queued. A failed marking sends its rows again: the cursor goes back.
  void ReapMarks(const std::string& name, PeerState& st, size_t keep);

  Mailbox* mailbox_;
  Messenger* messenger_;
  PeerTransport* transport_;
  ForwarderOptions opt_;
  std::mutex mu_;
  bool stop_ = false;   // GUARDED_BY(mu_)
  bool kicked_ = false; // GUARDED_BY(mu_)
  std::map<std::string, PeerState> peers_;  // loop thread only
  std::unique_ptr<OutboxReader> reader_;    // loop thread only
  std::thread thread_;
};

}  // namespace aikernel::net
