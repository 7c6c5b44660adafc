#include "audit/ledger.h"

#include <atomic>
#include <condition_variable>
#include <mutex>

#include "audit/row.h"
#include "audit/time_marks.h"
#include "store/database.h"
#include "store/writer.h"

namespace aikernel::audit {

namespace {

int64_t NowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

store::Synchronous ToStore(Synchronous s) {
  return s == Synchronous::kFull ? store::Synchronous::kFull
                                 : store::Synchronous::kNormal;
}

}  // namespace

// The chain as the writer thread sees it. `pending` runs ahead inside an
// open transaction; `committed` is what the file holds.
struct ChainState {
  uint64_t sequence = 0;
  Hash hash{};
  uint64_t checkpoint_sequence = 0;
  std::chrono::steady_clock::time_point checkpoint_time;
  internal::TimeMarks marks;
};

class Ledger::Impl {
 public:
  Impl(LedgerOptions options, const identity::NodeKey* key)
      : options_(std::move(options)), key_(key) {}

  Status Init(std::unique_ptr<store::Database> db);

  std::future<StatusOr<uint64_t>> AppendAsync(Record record);
  StatusOr<uint64_t> Append(Record record);
  Status Checkpoint();
  void Close();
  bool Accepting() const {
    return !closed_.load(std::memory_order_acquire) && writer_->healthy();
  }
  Head head() const {
    std::lock_guard<std::mutex> l(mu_);
    return head_;
  }
  LedgerStats stats() const {
    store::WriterStats w = writer_->stats();
    return LedgerStats{w.jobs, w.commits, w.rollbacks, w.largest_batch,
                       w.led_by_caller};
  }
  uint64_t WaitForSequenceAbove(uint64_t sequence,
                                std::chrono::milliseconds timeout) const {
    std::unique_lock<std::mutex> l(mu_);
    cv_.wait_for(l, timeout,
                 [&] { return head_.sequence > sequence || closed_.load(); });
    return head_.sequence;
  }

  // Writer thread only.
  Status AppendInTransaction(Record& r);
  Status WriteCheckpoint();
  Status MaybeCheckpointByTime();

 private:
  class AppendJob;
  class SyncAppendJob;
  class CheckpointJob;

  void AfterCommit();
  void OnRollback() { pending_ = committed_; }

  const LedgerOptions options_;
  const identity::NodeKey* const key_;
  std::atomic<bool> closed_{false};

  mutable std::mutex mu_;
  mutable std::condition_variable cv_;
  Head head_;  // guarded by mu_: the committed head

  // Writer thread only (set up before the thread starts).
  ChainState pending_;
  ChainState committed_;
  std::string rule_ids_scratch_;
  std::string hash_scratch_;
  std::unique_ptr<store::Writer> writer_;
  // Declared after writer_ so they are finalized first.
  store::Statement insert_record_;
  store::Statement insert_checkpoint_;
  store::Statement insert_time_mark_;
};

class Ledger::Impl::AppendJob final : public store::Job {
 public:
  AppendJob(Impl* impl, Record record)
      : impl_(impl), record_(std::move(record)) {}
  Status Run(store::Database&) override {
    return impl_->AppendInTransaction(record_);
  }
  void Complete(Status status) override {
    if (status.ok()) {
      promise_.set_value(record_.sequence);
    } else {
      promise_.set_value(absl::UnavailableError(absl::StrCat(
          "audit ledger: append not durable: ", status.message())));
    }
  }
  std::future<StatusOr<uint64_t>> future() { return promise_.get_future(); }

 private:
  Impl* impl_;
  Record record_;
  std::promise<StatusOr<uint64_t>> promise_;
};

// Append(): the caller's own job, run by store::Writer::Run (on this thread
// if no batch is in progress), so no promise, future or heap allocation.
class Ledger::Impl::SyncAppendJob final : public store::Job {
 public:
  SyncAppendJob(Impl* impl, Record&& record)
      : impl_(impl), record_(std::move(record)) {}
  Status Run(store::Database&) override {
    return impl_->AppendInTransaction(record_);
  }
  void Complete(Status status) override { status_ = std::move(status); }
  StatusOr<uint64_t> result() const {
    if (status_.ok()) return record_.sequence;
    return absl::UnavailableError(absl::StrCat(
        "audit ledger: append not durable: ", status_.message()));
  }

 private:
  Impl* impl_;
  Record record_;
  Status status_;
};

class Ledger::Impl::CheckpointJob final : public store::Job {
 public:
  explicit CheckpointJob(Impl* impl) : impl_(impl) {}
  Status Run(store::Database&) override { return impl_->WriteCheckpoint(); }
  void Complete(Status status) override {
    promise_.set_value(std::move(status));
  }
  std::future<Status> future() { return promise_.get_future(); }

 private:
  Impl* impl_;
  std::promise<Status> promise_;
};

Status Ledger::Impl::Init(std::unique_ptr<store::Database> db) {
  AIK_RETURN_IF_ERROR(db->Migrate(internal::Schema()).status());

  // Format and key.
  AIK_ASSIGN_OR_RETURN(store::Statement get_meta,
                       db->Prepare("SELECT value FROM meta WHERE key = ?1"));
  auto meta = [&](const char* key) -> StatusOr<std::optional<std::string>> {
    get_meta.Reset();
    AIK_RETURN_IF_ERROR(get_meta.BindText(1, key));
    AIK_ASSIGN_OR_RETURN(bool row, get_meta.Step());
    std::optional<std::string> v;
    if (row) v = std::string(get_meta.ColumnText(0));
    get_meta.Reset();
    return v;
  };
  AIK_ASSIGN_OR_RETURN(auto format, meta(internal::kMetaFormat));
  if (!format || *format != internal::kFormat) {
    return absl::FailedPreconditionError(absl::StrCat(
        options_.path, ": unknown ledger format '", format.value_or("<none>"),
        "', expected '", internal::kFormat, "'"));
  }
  AIK_ASSIGN_OR_RETURN(auto pem, meta(internal::kMetaPublicKey));
  if (!pem) {
    AIK_ASSIGN_OR_RETURN(
        store::Statement put,
        db->Prepare("INSERT INTO meta(key, value) VALUES (?1, ?2), (?3, ?4)"));
    AIK_RETURN_IF_ERROR(put.BindText(1, internal::kMetaPublicKey));
    AIK_RETURN_IF_ERROR(put.BindText(2, key_->PublicKeyPem()));
    AIK_RETURN_IF_ERROR(put.BindText(3, internal::kMetaKeyId));
    AIK_RETURN_IF_ERROR(put.BindText(4, key_->KeyId()));
    AIK_RETURN_IF_ERROR(put.Run());
  } else if (*pem != key_->PublicKeyPem()) {
    AIK_ASSIGN_OR_RETURN(auto id, meta(internal::kMetaKeyId));
    return absl::FailedPreconditionError(absl::StrCat(
        options_.path, ": ledger is signed by node key ", id.value_or("?"),
        " but this node's key is ", key_->KeyId(),
        "; refusing to extend it with another key"));
  }
  get_meta = store::Statement();

  // The head: validate the last record before extending the chain.
  {
    AIK_ASSIGN_OR_RETURN(
        store::Statement last,
        db->Prepare(absl::StrCat("SELECT ", internal::kRecordColumns,
                                 " FROM records ORDER BY seq DESC LIMIT 1")));
    AIK_ASSIGN_OR_RETURN(bool row, last.Step());
    if (row) {
      Record r;
      AIK_RETURN_IF_ERROR(internal::ReadRecordRow(last, &r));
      Hash h = internal::HashRecord(r, &hash_scratch_);
      if (h != r.hash) {
        return absl::DataLossError(absl::StrCat(
            options_.path, ": the last record (sequence ", r.sequence,
            ") does not match its hash; the chain head cannot be trusted "
            "(run verify)"));
      }
      if (r.sequence > 1) {
        AIK_ASSIGN_OR_RETURN(
            store::Statement prev,
            db->Prepare("SELECT hash FROM records WHERE seq = ?1"));
        AIK_RETURN_IF_ERROR(prev.BindInt64(1, r.sequence - 1));
        AIK_ASSIGN_OR_RETURN(bool has_prev, prev.Step());
        Hash ph{};
        if (!has_prev || !internal::CopyHash(prev.ColumnBlob(0), &ph) ||
            ph != r.prev_hash) {
          return absl::DataLossError(absl::StrCat(
              options_.path, ": the last record (sequence ", r.sequence,
              ") does not link to record ", r.sequence - 1, " (run verify)"));
        }
      } else if (r.prev_hash != Hash{}) {
        return absl::DataLossError(absl::StrCat(
            options_.path, ": record 1 has a non-zero prev_hash (run verify)"));
      }
      committed_.sequence = r.sequence;
      committed_.hash = r.hash;
    }
  }
  {
    AIK_ASSIGN_OR_RETURN(store::Statement cp,
                         db->Prepare("SELECT seq, head_hash FROM checkpoints "
                                     "ORDER BY seq DESC LIMIT 1"));
    AIK_ASSIGN_OR_RETURN(bool row, cp.Step());
    if (row) {
      uint64_t seq = static_cast<uint64_t>(cp.ColumnInt64(0));
      Hash h{};
      if (seq > committed_.sequence) {
        return absl::DataLossError(
            absl::StrCat(options_.path, ": checkpoint at sequence ", seq,
                         " is beyond the last record ", committed_.sequence,
                         ": records were removed from the tail (run verify)"));
      }
      if (seq == committed_.sequence &&
          (!internal::CopyHash(cp.ColumnBlob(1), &h) || h != committed_.hash)) {
        return absl::DataLossError(
            absl::StrCat(options_.path, ": checkpoint at sequence ", seq,
                         " does not match the last record (run verify)"));
      }
      committed_.checkpoint_sequence = seq;
    }
  }
  committed_.checkpoint_time = std::chrono::steady_clock::now();
  AIK_ASSIGN_OR_RETURN(committed_.marks, internal::LoadTimeMarks(*db));
  pending_ = committed_;
  head_ = Head{committed_.sequence, committed_.hash,
               committed_.checkpoint_sequence};

  AIK_ASSIGN_OR_RETURN(
      insert_record_,
      db->Prepare("INSERT INTO records(seq, time_ns, node, principal, action, "
                  "resource, request_digest, decision, rule_ids, code, "
                  "latency_ns, prev_hash, hash) VALUES "
                  "(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)"));
  AIK_ASSIGN_OR_RETURN(
      insert_checkpoint_,
      db->Prepare("INSERT INTO checkpoints(seq, head_hash, time_ns, key_id, "
                  "signature) VALUES (?1, ?2, ?3, ?4, ?5)"));
  AIK_ASSIGN_OR_RETURN(insert_time_mark_, internal::PrepareTimeMarkInsert(*db));

  store::WriterOptions wo;
  wo.max_batch = options_.max_batch;
  wo.thread_name = "aik-audit";
  wo.before_commit = [this](store::Database&) {
    return MaybeCheckpointByTime();
  };
  wo.after_commit = [this] { AfterCommit(); };
  wo.on_rollback = [this] { OnRollback(); };
  wo.idle_interval = options_.checkpoint_every;
  wo.on_idle = [this]() -> std::unique_ptr<store::Job> {
    if (committed_.sequence > committed_.checkpoint_sequence) {
      return std::make_unique<CheckpointJob>(this);
    }
    return nullptr;
  };
  wo.fault_before_commit = options_.fault_before_commit;
  writer_ = store::Writer::Start(std::move(db), std::move(wo));
  return absl::OkStatus();
}

Status Ledger::Impl::AppendInTransaction(Record& r) {
  r.sequence = pending_.sequence + 1;
  r.prev_hash = pending_.hash;
  r.hash = internal::HashRecord(r, &hash_scratch_);
  internal::EncodeRuleIds(r.rule_ids, &rule_ids_scratch_);

  store::Statement& st = insert_record_;
  AIK_RETURN_IF_ERROR(st.BindInt64(1, static_cast<int64_t>(r.sequence)));
  AIK_RETURN_IF_ERROR(st.BindInt64(2, r.time_ns));
  AIK_RETURN_IF_ERROR(st.BindTextNoCopy(3, r.node));
  AIK_RETURN_IF_ERROR(st.BindTextNoCopy(4, r.principal));
  AIK_RETURN_IF_ERROR(st.BindTextNoCopy(5, r.action));
  AIK_RETURN_IF_ERROR(st.BindTextNoCopy(6, r.resource));
  AIK_RETURN_IF_ERROR(
      st.BindBlobNoCopy(7, r.request_digest.data(), r.request_digest.size()));
  AIK_RETURN_IF_ERROR(st.BindInt64(8, static_cast<int64_t>(r.decision)));
  AIK_RETURN_IF_ERROR(st.BindTextNoCopy(9, rule_ids_scratch_));
  AIK_RETURN_IF_ERROR(st.BindInt64(10, r.code));
  AIK_RETURN_IF_ERROR(st.BindInt64(11, r.latency_ns));
  AIK_RETURN_IF_ERROR(
      st.BindBlobNoCopy(12, r.prev_hash.data(), r.prev_hash.size()));
  AIK_RETURN_IF_ERROR(st.BindBlobNoCopy(13, r.hash.data(), r.hash.size()));
  AIK_RETURN_IF_ERROR(st.Run());

  pending_.sequence = r.sequence;
  pending_.hash = r.hash;
  pending_.marks.Add(r.time_ns);
  if (options_.checkpoint_every_records > 0 &&
      pending_.sequence - pending_.checkpoint_sequence >=
          options_.checkpoint_every_records) {
    AIK_RETURN_IF_ERROR(WriteCheckpoint());
  } else if (pending_.sequence - pending_.marks.last_mark >=
             internal::TimeMarks::kMaxBlock) {
    // Bounds the unmarked tail a time query scans when checkpoints are rare.
    AIK_RETURN_IF_ERROR(internal::WriteTimeMark(
        insert_time_mark_, pending_.sequence, &pending_.marks));
  }
  return absl::OkStatus();
}

Status Ledger::Impl::WriteCheckpoint() {
  if (pending_.sequence <= pending_.checkpoint_sequence) {
    return absl::OkStatus();  // nothing new to cover
  }
  AIK_ASSIGN_OR_RETURN(std::string sig, key_->Sign(CheckpointMessage(
                                            pending_.sequence, pending_.hash)));
  const std::string key_id = key_->KeyId();
  store::Statement& st = insert_checkpoint_;
  AIK_RETURN_IF_ERROR(st.BindInt64(1, static_cast<int64_t>(pending_.sequence)));
  AIK_RETURN_IF_ERROR(
      st.BindBlobNoCopy(2, pending_.hash.data(), pending_.hash.size()));
  AIK_RETURN_IF_ERROR(st.BindInt64(3, NowNs()));
  AIK_RETURN_IF_ERROR(st.BindTextNoCopy(4, key_id));
  AIK_RETURN_IF_ERROR(st.BindBlobNoCopy(5, sig.data(), sig.size()));
  AIK_RETURN_IF_ERROR(st.Run());
  AIK_RETURN_IF_ERROR(internal::WriteTimeMark(
      insert_time_mark_, pending_.sequence, &pending_.marks));
  pending_.checkpoint_sequence = pending_.sequence;
  pending_.checkpoint_time = std::chrono::steady_clock::now();
  return absl::OkStatus();
}

Status Ledger::Impl::MaybeCheckpointByTime() {
  if (pending_.sequence > pending_.checkpoint_sequence &&
      std::chrono::steady_clock::now() - pending_.checkpoint_time >=
          options_.checkpoint_every) {
    return WriteCheckpoint();
  }
  return absl::OkStatus();
}

void Ledger::Impl::AfterCommit() {
  committed_ = pending_;
  {
    std::lock_guard<std::mutex> l(mu_);
    head_ = Head{committed_.sequence, committed_.hash,
                 committed_.checkpoint_sequence};
  }
  cv_.notify_all();
}

std::future<StatusOr<uint64_t>> Ledger::Impl::AppendAsync(Record record) {
  if (closed_.load(std::memory_order_acquire)) {
    std::promise<StatusOr<uint64_t>> p;
    p.set_value(absl::UnavailableError("audit ledger is closed"));
    return p.get_future();
  }
  auto job = std::make_unique<AppendJob>(this, std::move(record));
  auto f = job->future();
  writer_->Enqueue(std::move(job));  // completes it UNAVAILABLE if closed
  return f;
}

StatusOr<uint64_t> Ledger::Impl::Append(Record record) {
  if (closed_.load(std::memory_order_acquire)) {
    return absl::UnavailableError("audit ledger is closed");
  }
  SyncAppendJob job(this, std::move(record));
  writer_->Run(job);  // completes it UNAVAILABLE if closed
  return job.result();
}

Status Ledger::Impl::Checkpoint() {
  if (closed_.load(std::memory_order_acquire)) {
    return absl::UnavailableError("audit ledger is closed");
  }
  CheckpointJob job(this);
  auto f = job.future();
  writer_->Run(job);
  return f.get();
}

void Ledger::Impl::Close() {
  closed_.store(true, std::memory_order_release);
  // The final checkpoint goes behind every append already queued; appends
  // racing with Close() are either queued before it or refused.
  writer_->Close(std::make_unique<CheckpointJob>(this));
  // The writer has joined: nothing else uses the statements. Finalizing
  // them lets SQLite really close the file (and fold the WAL back in).
  insert_record_ = store::Statement();
  insert_checkpoint_ = store::Statement();
  insert_time_mark_ = store::Statement();
  {
    std::lock_guard<std::mutex> l(mu_);  // wake waiters under the lock
  }
  cv_.notify_all();
}

// ---- Ledger ----

StatusOr<std::unique_ptr<Ledger>> Ledger::Open(const LedgerOptions& options,
                                               const identity::NodeKey* key) {
  if (key == nullptr) {
    return absl::InvalidArgumentError("audit ledger needs a node key");
  }
  store::DatabaseOptions dbo;
  dbo.path = options.path;
  dbo.synchronous = ToStore(options.synchronous);
  dbo.busy_timeout = options.busy_timeout;
  AIK_ASSIGN_OR_RETURN(std::unique_ptr<store::Database> db,
                       store::Database::Open(dbo));
  auto impl = std::make_unique<Impl>(options, key);
  AIK_RETURN_IF_ERROR(impl->Init(std::move(db)));
  return std::unique_ptr<Ledger>(new Ledger(std::move(impl)));
}

Ledger::Ledger(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Ledger::~Ledger() { Close(); }

StatusOr<uint64_t> Ledger::Append(Record record) {
  return impl_->Append(std::move(record));
}
std::future<StatusOr<uint64_t>> Ledger::AppendAsync(Record record) {
  return impl_->AppendAsync(std::move(record));
}
bool Ledger::Accepting() const { return impl_->Accepting(); }
Status Ledger::Checkpoint() { return impl_->Checkpoint(); }
void Ledger::Close() { impl_->Close(); }
Head Ledger::head() const { return impl_->head(); }
LedgerStats Ledger::stats() const { return impl_->stats(); }
uint64_t Ledger::WaitForSequenceAbove(uint64_t sequence,
                                      std::chrono::milliseconds timeout) const {
  return impl_->WaitForSequenceAbove(sequence, timeout);
}

}  // namespace aikernel::audit
