// store::Writer: the one writer thread of a SQLite database, with group
// commit.
//
// Contract
// - A Writer owns its Database and one thread; every write to that database
//   goes through it. Submit()/Enqueue() may be called from any thread.
// - The thread takes everything queued (at most `max_batch` jobs), runs
//   BEGIN IMMEDIATE, runs each job in queue order inside that transaction,
//   calls `before_commit`, COMMITs, calls `after_commit`, and only then
//   completes each job with OK. Jobs queued while a batch commits form the
//   next batch, so N concurrent writers share one fsync.
// - A job whose Isolated() is true runs inside a SAVEPOINT: if it returns an
//   error, only its own changes are undone, it completes with that error,
//   and the batch goes on. A non-isolated job that returns an error, or a
//   failing BEGIN / before_commit / COMMIT, ROLLBACKs the whole batch: every
//   job in it completes with UNAVAILABLE naming the cause, `on_rollback` runs
//   (so the owner can reset in-memory state it advanced in its jobs), and
//   the writer is unhealthy until a later transaction commits. While
//   unhealthy and idle it probes (BEGIN IMMEDIATE; ROLLBACK) every
//   `probe_interval`.
// - Hooks run on the writer thread, never concurrently with jobs.
// - Close(last) stops accepting (later jobs complete at once with
//   UNAVAILABLE), queues `last` after everything already queued, drains, and
//   joins. The destructor calls Close(). Jobs are always completed exactly
//   once, on the writer thread, or on the caller's thread if refused.
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
  // If set, called on the writer thread whenever no job arrived for
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
  // Starts the writer thread; takes ownership of `db`.
  static std::unique_ptr<Writer> Start(std::unique_ptr<Database> db,
                                       WriterOptions options);
  ~Writer();
  Writer(const Writer&) = delete;
  Writer& operator=(const Writer&) = delete;

  // Queues `job`. If the writer is closed, completes it at once with
  // UNAVAILABLE (on this thread) and returns false.
  bool Enqueue(std::unique_ptr<Job> job);

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
  // False after a failed batch until a transaction commits again.
  bool healthy() const { return healthy_.load(std::memory_order_acquire); }
  WriterStats stats() const;

 private:
  Writer(std::unique_ptr<Database> db, WriterOptions options);
  void Loop();
  void RunBatch(std::vector<std::unique_ptr<Job>>& batch);
  Status RunIsolated(Job& job, Status* job_status);
  void Probe();

  std::unique_ptr<Database> db_;  // used only on the writer thread
  const WriterOptions options_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::unique_ptr<Job>> queue_;  // guarded by mu_
  bool closing_ = false;                    // guarded by mu_
  WriterStats stats_;                       // guarded by mu_

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
}  // namespace internal

template <typename T>
std::future<StatusOr<T>> Writer::SubmitValue(
    std::function<StatusOr<T>(Database&)> fn) {
  auto job = std::make_unique<internal::ValueJob<T>>(std::move(fn));
  auto f = job->future();
  Enqueue(std::move(job));
  return f;
}

}  // namespace aikernel::store
