#include "store/writer.h"

#include <pthread.h>
#include <sqlite3.h>

#include <utility>

namespace aikernel::store {

namespace {

class FunctionJob final : public Job {
 public:
  explicit FunctionJob(std::function<Status(Database&)> fn)
      : fn_(std::move(fn)) {}
  Status Run(Database& db) override { return fn_(db); }
  void Complete(Status status) override {
    promise_.set_value(std::move(status));
  }
  bool Isolated() const override { return true; }
  std::future<Status> future() { return promise_.get_future(); }

 private:
  std::function<Status(Database&)> fn_;
  std::promise<Status> promise_;
};

Status Unavailable(std::string_view what, const Status& cause) {
  return absl::UnavailableError(absl::StrCat(
      absl::string_view(what.data(), what.size()), ": ", cause.message()));
}

}  // namespace

std::unique_ptr<Writer> Writer::Start(std::unique_ptr<Database> db,
                                      WriterOptions options) {
  std::unique_ptr<Writer> w(new Writer(std::move(db), std::move(options)));
  w->thread_ = std::thread([raw = w.get()] { raw->Loop(); });
  return w;
}

Writer::Writer(std::unique_ptr<Database> db, WriterOptions options)
    : db_(std::move(db)), options_(std::move(options)) {}

Writer::~Writer() { Close(); }

bool Writer::Enqueue(std::unique_ptr<Job> job) {
  {
    std::lock_guard<std::mutex> l(mu_);
    if (!closing_) {
      queue_.push_back(std::move(job));
      cv_.notify_one();
      return true;
    }
  }
  job->Complete(absl::UnavailableError("store writer is closed"));
  return false;
}

std::future<Status> Writer::Submit(std::function<Status(Database&)> fn) {
  auto job = std::make_unique<FunctionJob>(std::move(fn));
  auto f = job->future();
  Enqueue(std::move(job));
  return f;
}

void Writer::Close(std::unique_ptr<Job> last) {
  std::lock_guard<std::mutex> close_lock(close_mu_);
  {
    std::lock_guard<std::mutex> l(mu_);
    if (!closing_) {
      closing_ = true;
      if (last) queue_.push_back(std::move(last));
      cv_.notify_one();
    }
  }
  if (last) last->Complete(absl::UnavailableError("store writer is closed"));
  if (thread_.joinable()) thread_.join();
  // Closes the connection (deferred by SQLite until the owner's statements
  // on it are finalized).
  db_.reset();
}

bool Writer::accepting() const {
  std::lock_guard<std::mutex> l(mu_);
  return !closing_;
}

WriterStats Writer::stats() const {
  std::lock_guard<std::mutex> l(mu_);
  return stats_;
}

void Writer::Loop() {
  {
    std::string name = options_.thread_name.substr(0, 15);
    pthread_setname_np(pthread_self(), name.c_str());
  }
  std::vector<std::unique_ptr<Job>> batch;
  for (;;) {
    batch.clear();
    {
      std::unique_lock<std::mutex> l(mu_);
      while (queue_.empty() && !closing_) {
        const bool unhealthy = !healthy();
        const bool idle_hook =
            options_.on_idle && options_.idle_interval.count() > 0;
        if (!unhealthy && !idle_hook) {
          cv_.wait(l);
          continue;
        }
        auto timeout =
            unhealthy ? options_.probe_interval : options_.idle_interval;
        if (cv_.wait_for(l, timeout) == std::cv_status::timeout &&
            queue_.empty() && !closing_) {
          l.unlock();
          std::unique_ptr<Job> idle_job;
          if (unhealthy) {
            Probe();
          } else {
            idle_job = options_.on_idle();
          }
          l.lock();
          if (idle_job) queue_.push_back(std::move(idle_job));
        }
      }
      if (queue_.empty()) break;  // closing and drained
      const size_t n =
          std::min(queue_.size(), std::max<size_t>(1, options_.max_batch));
      batch.reserve(n);
      for (size_t i = 0; i < n; ++i) {
        batch.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
    }
    RunBatch(batch);
  }
}

Status Writer::RunIsolated(Job& job, Status* job_status) {
  AIK_RETURN_IF_ERROR(db_->Exec("SAVEPOINT aik_job"));
  Status js = job.Run(*db_);
  if (!js.ok()) {
    AIK_RETURN_IF_ERROR(db_->Exec("ROLLBACK TO aik_job"));
    *job_status = std::move(js);
  }
  return db_->Exec("RELEASE aik_job");
}

void Writer::RunBatch(std::vector<std::unique_ptr<Job>>& batch) {
  std::vector<Status> results(batch.size());
  Status s = db_->Exec("BEGIN IMMEDIATE");
  if (!s.ok()) s = Unavailable("BEGIN IMMEDIATE failed", s);
  for (size_t i = 0; s.ok() && i < batch.size(); ++i) {
    if (batch[i]->Isolated()) {
      s = RunIsolated(*batch[i], &results[i]);
    } else {
      s = batch[i]->Run(*db_);
      if (!s.ok()) s = Unavailable("a job of the batch failed", s);
    }
  }
  if (s.ok() && options_.before_commit) {
    s = options_.before_commit(*db_);
    if (!s.ok()) s = Unavailable("before-commit hook failed", s);
  }
  if (s.ok() && options_.fault_before_commit) {
    s = options_.fault_before_commit();
    if (!s.ok()) s = Unavailable("injected fault before COMMIT", s);
  }
  if (s.ok()) {
    s = db_->Exec("COMMIT");
    if (!s.ok()) s = Unavailable("COMMIT failed", s);
  }

  if (s.ok()) {
    healthy_.store(true, std::memory_order_release);
    if (options_.after_commit) options_.after_commit();
    {
      std::lock_guard<std::mutex> l(mu_);
      stats_.commits++;
      stats_.jobs += batch.size();
      stats_.largest_batch =
          std::max<uint64_t>(stats_.largest_batch, batch.size());
    }
    for (size_t i = 0; i < batch.size(); ++i) {
      batch[i]->Complete(std::move(results[i]));
    }
    return;
  }

  if (sqlite3_get_autocommit(db_->handle()) == 0) {
    // Still inside the transaction: undo it. A failing ROLLBACK leaves
    // SQLite to roll back on the next BEGIN's hot-journal check.
    db_->Exec("ROLLBACK").IgnoreError();
  }
  healthy_.store(false, std::memory_order_release);
  if (options_.on_rollback) options_.on_rollback();
  Status failed = absl::UnavailableError(
      absl::StrCat("batch of ", batch.size(), " rolled back: ", s.message()));
  {
    std::lock_guard<std::mutex> l(mu_);
    stats_.rollbacks++;
    stats_.jobs += batch.size();
  }
  for (auto& job : batch) job->Complete(failed);
}

void Writer::Probe() {
  Status s = db_->Exec("BEGIN IMMEDIATE");
  if (s.ok()) s = db_->Exec("ROLLBACK");
  if (s.ok()) healthy_.store(true, std::memory_order_release);
}

}  // namespace aikernel::store
