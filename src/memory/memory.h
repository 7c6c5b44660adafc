// memory::Memory: durable agent memory (memory.db): namespaces, versioned
// key/value, an episodic event log, documents with full-text (FTS5 BM25),
// vector (cosine) and hybrid search, TTL, quotas, compaction, JSONL
// export/import.
//
// Contract
// - Storage: one SQLite database in WAL mode. Every write runs as a job of
//   one store::Writer (one writer at a time, group commit; the calling
//   thread commits when no batch is in progress): a write is acknowledged
//   (the call returns OK) only after its transaction COMMITs, under
//   synchronous=FULL by default, so an acknowledged write survives kill -9.
//   Concurrent writes from N threads share one fsync.
// - Reads run on read-only connections from a small pool (one per
//   concurrent reader), each in its own WAL snapshot: reads never wait on
//   writes and see every write acknowledged before they started.
// - Thread-safe: every method may be called from any thread. Close() (or the
//   destructor) drains queued writes and stops the writer; later calls fail
//   UNAVAILABLE.
// - Authorization is not here: the kernel decides memory.read / write /
//   search / delete on Memory::"<namespace>" before calling. This library
//   only validates arguments and enforces quotas.
// - Namespaces must exist before use (CreateNamespace / EnsureNamespace);
//   otherwise NOT_FOUND naming the namespace.
// - TTL: a record whose expires_ns <= now is invisible to every read at
//   once; the writer's idle hook purges expired rows every
//   `purge_interval` (PurgeExpired() does the same on demand).
// - Quotas count, per namespace, every stored row (each key/value version
//   including tombstones, each event, each document) and their bytes
//   (key + value; kind + payload; id + text + metadata + 4 * dim). A write
//   that would exceed either limit fails RESOURCE_EXHAUSTED naming the
//   namespace, the limit and the usage, and changes nothing. Compaction,
//   purge and deletes of documents free usage.
// - Errors: INVALID_ARGUMENT names the field; NOT_FOUND names namespace and
//   key/id; FAILED_PRECONDITION for a compare-and-set mismatch (the message
//   names the current version) or a namespace that already exists;
//   RESOURCE_EXHAUSTED for quotas; UNAVAILABLE if the database cannot be
//   written (the write did not happen). No exceptions.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "memory/types.h"
#include "store/database.h"

namespace aikernel::memory {

struct MemoryOptions {
  std::string path;  // memory.db
  store::Synchronous synchronous = store::Synchronous::kFull;
  // Quotas of namespaces created without explicit ones (0: unlimited).
  int64_t default_max_bytes = int64_t{256} << 20;
  int64_t default_max_records = 1'000'000;
  // Realtime clock, ns since the Unix epoch. Tests inject their own.
  std::function<int64_t()> now_ns;
  // Writer idle hook: purge expired rows when no write arrived for this
  // long (0: never automatically).
  std::chrono::milliseconds purge_interval{1000};
  size_t purge_batch = 2000;  // rows per purge transaction
  size_t read_pool = 4;       // idle read connections kept open
  size_t max_batch = 4096;    // writer jobs per transaction
  // Vector scan: namespaces with at least this many vectors keep an int8
  // copy that is scanned first; the best `rerank_factor * k` are re-ranked
  // with float32. Below it the float32 scan is exact.
  size_t quantize_min_rows = 20000;
  size_t rerank_factor = 10;
  // Tests only: see store::WriterOptions::fault_before_commit.
  std::function<Status()> fault_before_commit;
};

class Memory {
 public:
  // Opens or creates the database, migrates its schema, starts the writer.
  static StatusOr<std::unique_ptr<Memory>> Open(MemoryOptions options);
  ~Memory();
  Memory(const Memory&) = delete;
  Memory& operator=(const Memory&) = delete;

  // Drains queued writes, stops the writer, closes connections. Idempotent.
  void Close();

  // ---- namespaces (memory.cc) ----
  // FAILED_PRECONDITION if it exists. INVALID_ARGUMENT for a bad name
  // ("name"), negative dim or a dim over 4096 ("dim").
  StatusOr<NamespaceInfo> CreateNamespace(const NamespaceConfig& config);
  // Creates it if missing (config's quotas and dim), else returns it as is.
  StatusOr<NamespaceInfo> EnsureNamespace(const NamespaceConfig& config);
  StatusOr<NamespaceInfo> GetNamespace(std::string_view name);
  // Names starting with `prefix` ("" for all), by name.
  StatusOr<std::vector<NamespaceInfo>> ListNamespaces(std::string_view prefix);
  // New limits (0: unlimited). Existing data over a lowered limit stays;
  // further writes fail until usage is under it.
  Status SetQuota(std::string_view name, int64_t max_bytes,
                  int64_t max_records);
  // Removes the namespace and everything in it.
  Status DropNamespace(std::string_view name);

  // ---- key/value (kv.cc) ----
  // Writes a new version; returns it (value not copied back).
  StatusOr<KvEntry> Put(std::string_view ns, std::string_view key,
                        std::string_view value, const PutOptions& options = {});
  // `version` 0: the newest. NOT_FOUND if the key (or that version) does not
  // exist, is a tombstone, expired, or was compacted away.
  StatusOr<KvEntry> Get(std::string_view ns, std::string_view key,
                        int64_t version = 0);
  // Writes a tombstone version and returns its number. NOT_FOUND if the key
  // has no live newest version. `expected_version` as PutOptions'.
  StatusOr<int64_t> Delete(std::string_view ns, std::string_view key,
                           std::optional<int64_t> expected_version = {});
  StatusOr<KvPage> List(std::string_view ns, const ListOptions& options);
  // Every stored, unexpired version (tombstones included), newest first.
  StatusOr<std::vector<KvEntry>> History(std::string_view ns,
                                         std::string_view key,
                                         size_t limit = 1000);
  // All or nothing: one transaction; if any write fails (CAS, quota,
  // argument) none applies and that error is returned with its index.
  StatusOr<std::vector<int64_t>> PutBatch(std::string_view ns,
                                          const std::vector<KvWrite>& writes);

  // ---- episodic log (events.cc) ----
  StatusOr<Event> AppendEvent(std::string_view ns, const EventInput& event);
  StatusOr<EventPage> ReadEvents(std::string_view ns, const EventQuery& query);

  // ---- documents and search (docs.cc, search.cc) ----
  // Creates or replaces the document `input.id`. The embedding, if given,
  // must have the namespace's dimension (the first one fixes it).
  StatusOr<Document> PutDocument(std::string_view ns,
                                 const DocumentInput& input);
  StatusOr<Document> GetDocument(std::string_view ns, std::string_view id);
  Status DeleteDocument(std::string_view ns, std::string_view id);
  // Text-only, vector-only or hybrid by what the query carries; the best
  // `k` live documents passing the filters, best first.
  StatusOr<std::vector<SearchHit>> Search(std::string_view ns,
                                          const SearchQuery& query);

  // ---- maintenance (maintenance.cc) ----
  // Deletes up to `purge_batch` expired rows of each kind.
  StatusOr<PurgeStats> PurgeExpired();
  // Drops key/value versions superseded by a newer version and created
  // before now - horizon, and tombstones (with their older versions) older
  // than that. `ns` empty: every namespace.
  StatusOr<CompactStats> Compact(std::string_view ns,
                                 std::chrono::nanoseconds horizon);

  // ---- export / import (export.cc) ----
  // Emits one JSON line per namespace, key/value version, event and
  // document (format: docs/memory.md) of every namespace whose name starts
  // with `prefix`, from one read snapshot. Expired rows are skipped. Stops
  // with emit's error if it returns one.
  Status Export(std::string_view prefix,
                const std::function<Status(std::string_view line)>& emit);
  // As Export, of exactly the namespace `ns` (a prefix would also take
  // "agent/ab" with "agent/a"). NOT_FOUND if it does not exist.
  Status ExportNamespace(
      std::string_view ns,
      const std::function<Status(std::string_view line)>& emit);
  // Imports JSONL produced by Export, all or nothing, in one transaction.
  // Namespaces missing are created with the exported config; existing ones
  // keep theirs (dims must agree). A record that already exists (same
  // namespace and key+version / event seq / document id) fails
  // FAILED_PRECONDITION; a bad line INVALID_ARGUMENT naming its number.
  StatusOr<ImportStats> Import(std::string_view jsonl);

  struct Shared;  // implementation state (internal.h)

 private:
  explicit Memory(std::unique_ptr<Shared> s);
  std::unique_ptr<Shared> s_;
};

}  // namespace aikernel::memory
