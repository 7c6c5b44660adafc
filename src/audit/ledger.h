// audit::Ledger: the append-only, hash-chained, checkpoint-signed audit log.
//
// Contract
// - Storage: one SQLite database (WAL mode) with one writer at a time: a
//   store::Writer the ledger owns (leader/follower group commit). Append()
//   from a thread that finds no batch in progress commits its record on
//   that thread; appends arriving meanwhile queue and are committed together
//   by the next leader (one transaction, one fsync under synchronous=FULL).
//   AppendAsync(), timed checkpoints and Close() go through the writer's
//   background thread.
// - Append() returns only after the record is durable. It assigns the
//   sequence number (1, 2, ... with no gaps) and the chain: prev_hash is the
//   previous record's hash, hash = ComputeHash(record).
// - Every `checkpoint_every_records` records or `checkpoint_every` time
//   (whichever first, only if new records exist), the writer adds, in the same
//   transaction as the records it covers, a checkpoint: (sequence, head hash)
//   signed with the node's Ed25519 key.
// - If a commit fails, the whole batch is rolled back, every append in it
//   gets UNAVAILABLE, and the chain head stays at the last committed record.
// - Thread-safe. Close() (or the destructor) drains queued appends, writes a
//   final checkpoint and joins the writer; appends after Close() fail
//   UNAVAILABLE.
// - The database refuses UPDATE and DELETE on records and checkpoints
//   (triggers); tampering with the file is detected by audit::Verify.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <future>
#include <memory>
#include <string>

#include "audit/sink.h"
#include "identity/node_key.h"

namespace aikernel::audit {

enum class Synchronous { kFull, kNormal };

struct LedgerOptions {
  std::string path;  // audit.db
  Synchronous synchronous = Synchronous::kFull;
  uint64_t checkpoint_every_records = 1000;
  std::chrono::milliseconds checkpoint_every{1000};
  size_t max_batch = 8192;  // most records in one transaction
  // How long the writer waits for a lock held by another connection
  // before the batch fails UNAVAILABLE.
  std::chrono::milliseconds busy_timeout{5000};
  // Tests only: called in the writer's transaction just before COMMIT; an
  // error fails the batch as a failed COMMIT would.
  std::function<Status()> fault_before_commit;
};

// Counters of the writer, for tests and metrics.
struct LedgerStats {
  uint64_t appends = 0;    // appends and checkpoint jobs completed
  uint64_t commits = 0;    // transactions committed (batches)
  uint64_t rollbacks = 0;  // batches rolled back
  uint64_t largest_batch = 0;
  uint64_t led_by_caller = 0;  // batches run on an Append() caller's thread
};

struct Head {
  uint64_t sequence = 0;  // newest durable record (0: empty)
  Hash hash{};            // its hash (zeros if empty)
  uint64_t checkpoint_sequence = 0;
};

class Ledger final : public Sink {
 public:
  // Opens or creates the ledger at options.path, reads the chain head, and
  // starts the writer. `key` signs checkpoints; the ledger keeps a pointer, so
  // it must outlive the ledger. Fails if the file cannot be opened, its schema
  // is from a newer version, or its last record's hash does not match its
  // content (the head cannot be trusted to extend).
  static StatusOr<std::unique_ptr<Ledger>> Open(const LedgerOptions& options,
                                                const identity::NodeKey* key);
  ~Ledger() override;

  StatusOr<uint64_t> Append(Record record) override;
  // Queues `record` and returns at once; the future resolves once durable.
  std::future<StatusOr<uint64_t>> AppendAsync(Record record);
  bool Accepting() const override;

  // Writes a checkpoint for the current head now (if it has new records) and
  // waits for it to be durable.
  Status Checkpoint();
  // Drains, checkpoints, stops the writer. Idempotent.
  void Close();

  Head head() const;
  LedgerStats stats() const;
  // Blocks until the head's sequence exceeds `sequence`, the ledger closes,
  // or `timeout` passes. Returns the head's sequence then.
  uint64_t WaitForSequenceAbove(uint64_t sequence,
                                std::chrono::milliseconds timeout) const;

  class Impl;

 private:
  explicit Ledger(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace aikernel::audit
