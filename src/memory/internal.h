// Internal to src/memory: the state Memory's .cc files share, the schema,
// statement caches, the read-connection pool and argument checks. Not part
// of the contract; include only from src/memory/*.cc.
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/text.h"
#include "memory/memory.h"
#include "memory/vector_index.h"
#include "store/database.h"
#include "store/writer.h"

namespace aikernel::memory::internal {

// Debian's Abseil has its own string_view.
inline absl::string_view AV(std::string_view s) { return {s.data(), s.size()}; }

Status Invalid(std::string_view field, std::string_view why);
Status NamespaceNotFound(std::string_view ns);

Status CheckNamespaceName(std::string_view name);
Status CheckKey(std::string_view key, std::string_view field);
Status CheckEmbedding(const std::vector<float>& v, std::string_view field);
// Parses `text` as JSON and returns its canonical form (sorted keys, no
// spaces). `object_only`: must be an object (empty text means {}).
StatusOr<std::string> CanonicalJson(std::string_view text, bool object_only,
                                    std::string_view field);
using ::aikernel::Base64Decode;
using ::aikernel::Base64Encode;
using ::aikernel::ValidUtf8;
std::string EncodeFloats(const std::vector<float>& v);  // little-endian
bool DecodeFloats(std::string_view blob, std::vector<float>* out);
int64_t TtlToExpiry(int64_t now_ns, std::chrono::nanoseconds ttl);
// Smallest string greater than every string starting with `prefix` ("" if
// none: no upper bound).
std::string PrefixEnd(std::string_view prefix);

extern const store::Migrations kMigrations;

// Prepared statements of one connection, by SQL text. One thread at a time.
class StmtCache {
 public:
  StatusOr<store::Statement*> Get(store::Database& db, const std::string& sql);

 private:
  std::unordered_map<std::string, std::unique_ptr<store::Statement>> stmts_;
};

// Resets a cached statement when the scope ends.
class Use {
 public:
  explicit Use(store::Statement* s) : s_(s) {}
  ~Use() { s_->Reset(); }
  store::Statement* operator->() const { return s_; }
  store::Statement& operator*() const { return *s_; }

 private:
  store::Statement* s_;
};

struct ReadConn {
  std::unique_ptr<store::Database> db;
  StmtCache cache;
};

// A namespace row as the writer sees it inside its transaction.
struct NsRow {
  std::string name;
  int64_t max_bytes = 0, max_records = 0;
  int32_t dim = 0;
  int64_t used_bytes = 0, used_records = 0;
  int64_t next_event_seq = 1;
  int64_t created_ns = 0;
};

// A change to apply to the in-memory vectors once its transaction commits.
struct VectorDelta {
  enum Op { kUpsert, kRemove, kDrop } op = kUpsert;
  std::string ns;
  int64_t id = 0;
  std::vector<float> v;
  int64_t updated_ns = 0, expires_ns = 0;
};

struct NsVectors {
  std::mutex load_mu;  // one loader at a time; never taken by the writer
  std::shared_mutex mu;
  bool loaded = false;                 // guarded by mu
  bool loading = false;                // guarded by mu
  bool dropped = false;                // guarded by mu
  std::vector<VectorDelta> backlog;    // guarded by mu; while loading
  std::unique_ptr<VectorIndex> index;  // guarded by mu; null: no vectors yet
};

}  // namespace aikernel::memory::internal

namespace aikernel::memory {

struct Memory::Shared {
  MemoryOptions opt;
  std::unique_ptr<store::Writer> writer;
  std::atomic<bool> closed{false};

  // Writer thread only.
  internal::StmtCache wcache;
  std::chrono::steady_clock::time_point last_purge{};
  std::vector<internal::VectorDelta> pending;  // of the open transaction

  // Idle read connections.
  std::mutex pool_mu;
  std::vector<std::unique_ptr<internal::ReadConn>> pool;

  // In-memory vectors per namespace.
  std::mutex vec_mu;
  std::map<std::string, std::shared_ptr<internal::NsVectors>, std::less<>>
      vectors;

  int64_t Now() const { return opt.now_ns(); }

  // ---- reads ----
  class Lease {
   public:
    Lease(Shared* s, std::unique_ptr<internal::ReadConn> c)
        : s_(s), c_(std::move(c)) {}
    Lease(Lease&&) = default;
    ~Lease();
    internal::ReadConn* operator->() const { return c_.get(); }
    StatusOr<store::Statement*> Stmt(const std::string& sql) {
      return c_->cache.Get(*c_->db, sql);
    }
    // BEGIN: the statements that follow read one snapshot, until the lease
    // ends (it COMMITs then, before the connection goes back to the pool).
    Status BeginSnapshot();

   private:
    Shared* s_;
    std::unique_ptr<internal::ReadConn> c_;
    bool in_txn_ = false;
  };
  StatusOr<Lease> Read();

  // ---- writes ----
  template <typename T>
  StatusOr<T> Write(std::function<StatusOr<T>(store::Database&)> fn) {
    if (closed.load()) return absl::UnavailableError("memory is closed");
    return writer->RunValue<T>(fn);
  }
  // Writer thread: cached statement on the writer's connection.
  StatusOr<store::Statement*> W(store::Database& db, const std::string& sql) {
    return wcache.Get(db, sql);
  }
  // Writer thread: the namespace row; NOT_FOUND if missing.
  StatusOr<internal::NsRow> LoadNs(store::Database& db, std::string_view ns);
  // Writer thread: adds to the namespace's usage, refusing with
  // RESOURCE_EXHAUSTED if an increase passes a limit.
  Status Charge(store::Database& db, internal::NsRow& row, int64_t bytes,
                int64_t records);
  // Writer thread: fixes the namespace dim on first use or checks it.
  Status CheckDim(store::Database& db, internal::NsRow& row, size_t dim,
                  std::string_view field);
  // Writer thread: inserts one events row. The caller charges the quota and
  // moves next_event_seq; `payload` (canonical JSON) and `kind` must outlive
  // the call.
  Status InsertEvent(store::Database& db, std::string_view ns, int64_t seq,
                     int64_t time_ns, std::string_view kind,
                     std::string_view payload, int64_t expires_ns);

  // ---- vectors ----
  void ApplyPending();  // after_commit
  void ApplyDelta(internal::NsVectors& p, const internal::VectorDelta& d);
  // The loaded vectors of `ns` (loading them from a read snapshot first).
  StatusOr<std::shared_ptr<internal::NsVectors>> Vectors(std::string_view ns);

  // ---- maintenance ----
  StatusOr<PurgeStats> Purge(store::Database& db);
  // Writer thread, in a batch's transaction (before_commit): a purge pass in
  // its own SAVEPOINT if `purge_interval` passed since the last one, so
  // expired rows go even when the writer is never idle. Its failure only
  // undoes itself.
  void MaybePurge(store::Database& db);
};

}  // namespace aikernel::memory

namespace aikernel::memory {

// The names every src/memory/*.cc uses, declared once here.
using internal::AV;
using internal::NsRow;
using internal::Use;
using store::Database;
using store::Statement;

}  // namespace aikernel::memory
