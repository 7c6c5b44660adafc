// store::Writer: the one writer of a SQLite database, with group commit.
//
// Contract
// - A Writer owns its Database; every write to that database goes through
//   it. Run(), Submit() and Enqueue() may be called from any thread.
// - Exactly one thread at a time holds the writer role and uses the
//   connection (it is opened SQLITE_OPEN_NOMUTEX: SQLite's multi-thread
//   mode, one thread at a time per connection; the role is handed over under
//   the Writer's mutex, which orders everything one holder did before the
//   next holder starts). Which thread that is varies ("leader/follower"):
//   * Run(job) from a caller that finds no batch in progress makes that
//     caller the leader: it runs the batch itself on its own thread (its job
//     plus whatever else is queued) and returns, with no hand-off to another
//     thread and back.
//   * A Run() caller that finds a batch in progress queues its job and
//     sleeps; the batch in progress does not take it, the next one does:
//     when the holder releases the role it wakes one queued Run() caller,
//     which leads the next batch with everything queued meanwhile (group
//     commit: N concurrent callers share one COMMIT and one fsync).
//   * Jobs queued by Enqueue()/Submit() (nobody waits on a thread) and the
//     idle hook and health probe are run by the Writer's own background
//     thread, which takes the role when it is free like any caller.
//   Hooks and jobs therefore run on whichever thread holds the role, never
//   two at once; state they share needs no lock of its own.
// - A batch is: everything queued (at most `max_batch` jobs, queue order),
//   BEGIN IMMEDIATE, each job in queue order inside that transaction,
//   `before_commit`, COMMIT, `after_commit`, and only then each job is
//   completed with OK. BEGIN/COMMIT/SAVEPOINT are prepared once, not parsed
//   per batch.
// - A job whose Isolated() is true runs inside a SAVEPOINT: if it returns an
//   error, only its own changes are undone, it completes with that error,
//   and the batch goes on. A non-isolated job that returns an error, or a
//   failing BEGIN / before_commit / COMMIT, ROLLBACKs the whole batch: every
//   job in it completes with UNAVAILABLE naming the cause, `on_rollback` runs
//   (so the owner can reset in-memory state it advanced in its jobs), and
//   the writer is unhealthy until a later transaction commits. While
//   unhealthy and idle the background thread probes (BEGIN IMMEDIATE;
//   ROLLBACK) every `probe_interval`.
// - Close(last) stops accepting (later jobs complete at once with
//   UNAVAILABLE), queues `last` after everything already queued, drains, and
//   joins. The destructor calls Close(). Jobs are always completed exactly
//   once: by the thread that ran their batch, or on the caller's thread if
//   refused. A Run() caller returns only after its job was completed.
// - Not copyable or movable. Errors are Status values; no exceptions.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "common/status.h"
#include "store/database.h"

namespace aikernel::store {

// One unit of work. Run() executes in the writer's transaction; Complete()
// is called exactly once, after COMMIT (status OK, or the job's own error if
// isolated) or after ROLLBACK (UNAVAILABLE).
class Job {
 public:
  virtual ~Job() = default;
  virtual Status Run(Database& db) = 0;
  virtual void Complete(Status status) = 0;
  virtual bool Isolated() const { return false; }
};

struct WriterStats {
  uint64_t jobs = 0;       // jobs completed (any outcome)
  uint64_t commits = 0;    // transactions committed
  uint64_t rollbacks = 0;  // batches rolled back
  uint64_t largest_batch = 0;
  uint64_t led_by_caller = 0;  // batches run by a Run() caller's thread
};

struct WriterOptions {
  size_t max_batch = 8192;
  // In the transaction, after the batch's jobs, before COMMIT. An error
  // rolls the batch back.
  std::function<Status(Database&)> before_commit;
  // After COMMIT succeeded, before the jobs are completed.
  std::function<void()> after_commit;
  // After a batch was rolled back, before its jobs are failed.
  std::function<void()> on_rollback;
  // If set, called by the background thread whenever no batch ran for
  // `idle_interval`; a job it returns is run next (e.g. a periodic task).
  std::chrono::milliseconds idle_interval{0};
  std::function<std::unique_ptr<Job>()> on_idle;
  std::chrono::milliseconds probe_interval{100};
  // Tests only: called inside the transaction just before COMMIT (after
  // before_commit); an error fails the batch as a failed COMMIT would.
  std::function<Status()> fault_before_commit;
  std::string thread_name = "aik-writer";
};

class Writer {
 public:
  // Starts the background thread; takes ownership of `db`.
  static std::unique_ptr<Writer> Start(std::unique_ptr<Database> db,
                                       WriterOptions options);
  ~Writer();
  Writer(const Writer&) = delete;
  Writer& operator=(const Writer&) = delete;

  // Runs `job` and returns once it has been completed (its Complete() has
  // returned). The job stays owned by the caller and must outlive the call.
  // If no batch is in progress, the batch runs on this thread (see the
  // contract). If the writer is closed, completes it at once with
  // UNAVAILABLE and returns false.
  bool Run(Job& job);

  // Queues `job` for the background thread (or a leader that comes first)
  // and returns at once. If the writer is closed, completes it at once with
  // UNAVAILABLE (on this thread) and returns false.
  bool Enqueue(std::unique_ptr<Job> job);

  // As Run(), for `fn` as an isolated job: returns its value once the
  // transaction committed (or its error, or UNAVAILABLE if the batch rolled
  // back or the writer is closed). Leads the batch on this thread when none
  // is in progress.
  template <typename T>
  StatusOr<T> RunValue(const std::function<StatusOr<T>(Database&)>& fn);

  // Convenience: runs `fn` as an isolated job; resolves after COMMIT.
  std::future<Status> Submit(std::function<Status(Database&)> fn);
  // As Submit, with a value produced by `fn` delivered only if the
  // transaction commits.
  template <typename T>
  std::future<StatusOr<T>> SubmitValue(
      std::function<StatusOr<T>(Database&)> fn);

  // Stops accepting, queues `last` (may be null) behind everything queued,
  // drains, joins, and releases the Database (SQLite closes it once the
  // owner's Statements on it are finalized). Idempotent.
  void Close(std::unique_ptr<Job> last = nullptr);

  bool accepting() const;
  // Jobs queued and not yet taken into a batch (for tests and metrics).
  size_t queued() const;
  // False after a failed batch until a transaction commits again.
  bool healthy() const { return healthy_.load(std::memory_order_acquire); }
  WriterStats stats() const;

 private:
  // A Run() caller asleep until its job is done or the role is free.
  struct Waiter {
    std::condition_variable cv;
    bool done = false;  // guarded by mu_
  };
  struct Entry {
    Job* job;
    Waiter* waiter;  // null: queued by Enqueue(), owned by the queue
  };

  Writer(std::unique_ptr<Database> db, WriterOptions options);
  void Loop();
  // With mu_ held and the role taken: moves up to max_batch entries from
  // the queue into batch_.
  void TakeBatch();
  // Role held, mu_ not held: runs batch_ and completes its entries.
  void RunBatch(bool by_caller);
  void CountBatch(bool by_caller);
  // mu_ held: gives the role up and wakes whoever should take it next.
  // `from_background`: the background thread, which looks at the queue
  // itself next.
  void Release(bool from_background);
  Status RunIsolated(Job& job, Status* job_status);
  Status Step(Statement& st, const char* what);
  Status PrepareControl();
  void Probe();

  std::unique_ptr<Database> db_;  // used only by the role's holder
  const WriterOptions options_;
  // Prepared once; used only by the role's holder.
  Statement begin_, commit_, rollback_, savepoint_, release_, rollback_to_;
  bool prepared_ = false;
  std::vector<Entry> batch_;      // role holder only
  std::vector<Status> results_;   // role holder only
  bool batch_committed_ = false;  // role holder only: outcome of batch_

  mutable std::mutex mu_;
  std::condition_variable cv_;  // wakes the background thread
  std::deque<Entry> queue_;     // guarded by mu_
  size_t queued_waiters_ = 0;   // guarded by mu_: Run() entries in queue_
  bool busy_ = false;           // guarded by mu_: the role is taken
  // guarded by mu_: the background thread sleeps until the role is free
  bool background_waits_ = false;
  bool closing_ = false;        // guarded by mu_
  bool background_done_ = false;  // guarded by mu_
  std::chrono::steady_clock::time_point last_batch_;  // guarded by mu_
  WriterStats stats_;                                  // guarded by mu_

  std::atomic<bool> healthy_{true};
  std::mutex close_mu_;  // serializes Close()
  std::thread thread_;
};

// ---- implementation of the template ----

namespace internal {
template <typename T>
class ValueJob final : public Job {
 public:
  explicit ValueJob(std::function<StatusOr<T>(Database&)> fn)
      : fn_(std::move(fn)) {}
  Status Run(Database& db) override {
    StatusOr<T> v = fn_(db);
    if (!v.ok()) return v.status();
    value_.emplace(std::move(v).value());
    return absl::OkStatus();
  }
  void Complete(Status status) override {
    if (status.ok()) {
      promise_.set_value(std::move(*value_));
    } else {
      promise_.set_value(std::move(status));
    }
  }
  bool Isolated() const override { return true; }
  std::future<StatusOr<T>> future() { return promise_.get_future(); }

 private:
  std::function<StatusOr<T>(Database&)> fn_;
  std::optional<T> value_;
  std::promise<StatusOr<T>> promise_;
};

// RunValue's job: lives on the caller's stack for the duration of Run().
template <typename T>
class InlineValueJob final : public Job {
 public:
  explicit InlineValueJob(const std::function<StatusOr<T>(Database&)>& fn) : fn_(fn) {}
  Status Run(Database& db) override {
    StatusOr<T> v = fn_(db);
    if (!v.ok()) return v.status();
    value_.emplace(std::move(v).value());
    return absl::OkStatus();
  }
  void Complete(Status status) override {
    if (status.ok()) {
      result_.emplace(std::move(*value_));
    } else {
      result_.emplace(std::move(status));
    }
  }
  bool Isolated() const override { return true; }
  StatusOr<T> Take() { return std::move(*result_); }

 private:
  const std::function<StatusOr<T>(Database&)>& fn_;
  std::optional<T> value_;
  std::optional<StatusOr<T>> result_;
};
}  // namespace internal

template <typename T>
StatusOr<T> Writer::RunValue(const std::function<StatusOr<T>(Database&)>& fn) {
  internal::InlineValueJob<T> job(fn);
  Run(job);  // completes the job in every case, UNAVAILABLE if closed
  return job.Take();
}

template <typename T>
std::future<StatusOr<T>> Writer::SubmitValue(
    std::function<StatusOr<T>(Database&)> fn) {
  auto job = std::make_unique<internal::ValueJob<T>>(std::move(fn));
  auto f = job->future();
  Enqueue(std::move(job));
  return f;
}

}  // namespace aikernel::store
