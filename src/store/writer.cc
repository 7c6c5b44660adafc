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
    : db_(std::move(db)),
      options_(std::move(options)),
      last_batch_(std::chrono::steady_clock::now()) {}

Writer::~Writer() { Close(); }

bool Writer::Run(Job& job) {
  Waiter w;
  std::unique_lock<std::mutex> l(mu_);
  if (closing_) {
    l.unlock();
    job.Complete(absl::UnavailableError("store writer is closed"));
    return false;
  }
  queue_.push_back(Entry{&job, &w});
  ++queued_waiters_;
  while (!w.done) {
    if (!busy_) {
      // Lead: run the batch (this job and whatever is queued) right here.
      busy_ = true;
      TakeBatch();
      l.unlock();
      RunBatch(/*by_caller=*/true);
      l.lock();
      Release(/*from_background=*/false);
      continue;  // done, unless the queue ahead of us exceeded max_batch
    }
    // A batch is in progress: its holder wakes us when we are done, or
    // when the role is free and we should lead the next batch.
    w.cv.wait(l);
  }
  return true;
}

bool Writer::Enqueue(std::unique_ptr<Job> job) {
  {
    std::lock_guard<std::mutex> l(mu_);
    if (!closing_) {
      queue_.push_back(Entry{job.release(), nullptr});
      // If the role is taken, its holder sees the queue when it releases.
      if (!busy_) cv_.notify_one();
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
      if (last) queue_.push_back(Entry{last.release(), nullptr});
      cv_.notify_one();
    }
  }
  if (last) last->Complete(absl::UnavailableError("store writer is closed"));
  if (thread_.joinable()) thread_.join();
  // The background thread left only with the queue empty and the role free:
  // nobody uses the connection any more. Finalize our statements, then
  // close the connection (deferred by SQLite until the owner's statements
  // on it are finalized too).
  begin_ = Statement();
  commit_ = Statement();
  rollback_ = Statement();
  savepoint_ = Statement();
  release_ = Statement();
  rollback_to_ = Statement();
  db_.reset();
}

bool Writer::accepting() const {
  std::lock_guard<std::mutex> l(mu_);
  return !closing_;
}

size_t Writer::queued() const {
  std::lock_guard<std::mutex> l(mu_);
  return queue_.size();
}

WriterStats Writer::stats() const {
  std::lock_guard<std::mutex> l(mu_);
  return stats_;
}

void Writer::TakeBatch() {
  const size_t n =
      std::min(queue_.size(), std::max<size_t>(1, options_.max_batch));
  batch_.clear();
  batch_.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    Entry e = queue_.front();
    queue_.pop_front();
    if (e.waiter != nullptr) --queued_waiters_;
    batch_.push_back(e);
  }
}

void Writer::Release(bool from_background) {
  // Every job of the batch just run has been completed: wake their
  // callers (under mu_, so a caller cannot return and destroy its Waiter
  // before notify_one has returned).
  for (const Entry& e : batch_) {
    if (e.waiter != nullptr) {
      e.waiter->done = true;
      e.waiter->cv.notify_one();
    }
  }
  if (!batch_.empty()) last_batch_ = std::chrono::steady_clock::now();
  batch_.clear();
  busy_ = false;
  if (queue_.empty()) {
    // The background thread may exit now (closing), or was waiting for the
    // role to run its idle hook or probe.
    if ((closing_ || background_waits_) && !from_background) cv_.notify_one();
    return;
  }
  if (from_background) return;  // it looks at the queue next
  if (queued_waiters_ > 0) {
    // Hand the role to a queued Run() caller: it is awake anyway to reply.
    for (const Entry& e : queue_) {
      if (e.waiter != nullptr) {
        e.waiter->cv.notify_one();
        return;
      }
    }
  }
  cv_.notify_one();  // only Enqueue()d jobs: the background thread
}

void Writer::Loop() {
  {
    std::string name = options_.thread_name.substr(0, 15);
    pthread_setname_np(pthread_self(), name.c_str());
  }
  const bool idle_hook = options_.on_idle && options_.idle_interval.count() > 0;
  std::unique_lock<std::mutex> l(mu_);
  for (;;) {
    if (!busy_ && !queue_.empty()) {
      busy_ = true;
      TakeBatch();
      l.unlock();
      RunBatch(/*by_caller=*/false);
      l.lock();
      Release(/*from_background=*/true);
      continue;
    }
    if (closing_) {
      if (queue_.empty() && !busy_) break;  // drained
      cv_.wait(l);
      continue;
    }
    if (busy_) {
      // A Run() caller holds the role; its Release() wakes us (the idle
      // hook and the probe are due once it is free).
      background_waits_ = true;
      cv_.wait(l);
      background_waits_ = false;
      continue;
    }
    // Idle: the queue is empty and nobody holds the role.
    const bool unhealthy = !healthy();
    if (!unhealthy && !idle_hook) {
      cv_.wait(l);
      continue;
    }
    const auto now = std::chrono::steady_clock::now();
    const auto deadline = unhealthy ? now + options_.probe_interval
                                    : last_batch_ + options_.idle_interval;
    if (now < deadline) {
      if (cv_.wait_until(l, deadline) == std::cv_status::no_timeout) continue;
      if (busy_ || !queue_.empty() || closing_) continue;
      if (!unhealthy &&
          std::chrono::steady_clock::now() < last_batch_ + options_.idle_interval) {
        continue;  // a batch ran meanwhile
      }
    }
    busy_ = true;
    l.unlock();
    std::unique_ptr<Job> idle_job;
    if (unhealthy) {
      Probe();
    } else {
      idle_job = options_.on_idle();
    }
    l.lock();
    last_batch_ = std::chrono::steady_clock::now();
    if (idle_job) queue_.push_back(Entry{idle_job.release(), nullptr});
    Release(/*from_background=*/true);
  }
}

Status Writer::PrepareControl() {
  if (prepared_) return absl::OkStatus();
  AIK_ASSIGN_OR_RETURN(begin_, db_->Prepare("BEGIN IMMEDIATE"));
  AIK_ASSIGN_OR_RETURN(commit_, db_->Prepare("COMMIT"));
  AIK_ASSIGN_OR_RETURN(rollback_, db_->Prepare("ROLLBACK"));
  AIK_ASSIGN_OR_RETURN(savepoint_, db_->Prepare("SAVEPOINT aik_job"));
  AIK_ASSIGN_OR_RETURN(release_, db_->Prepare("RELEASE aik_job"));
  AIK_ASSIGN_OR_RETURN(rollback_to_, db_->Prepare("ROLLBACK TO aik_job"));
  prepared_ = true;
  return absl::OkStatus();
}

Status Writer::RunIsolated(Job& job, Status* job_status) {
  AIK_RETURN_IF_ERROR(savepoint_.Run());
  Status js = job.Run(*db_);
  if (!js.ok()) {
    AIK_RETURN_IF_ERROR(rollback_to_.Run());
    *job_status = std::move(js);
  }
  return release_.Run();
}

void Writer::CountBatch(bool by_caller) {
  // Before the jobs are completed, so a caller that sees its job done also
  // sees it counted.
  std::lock_guard<std::mutex> l(mu_);
  const size_t n = batch_.size();
  stats_.jobs += n;
  if (batch_committed_) {
    stats_.commits++;
    stats_.largest_batch = std::max<uint64_t>(stats_.largest_batch, n);
  } else {
    stats_.rollbacks++;
  }
  if (by_caller) stats_.led_by_caller++;
}

void Writer::RunBatch(bool by_caller) {
  results_.assign(batch_.size(), absl::OkStatus());
  Status s = PrepareControl();
  if (s.ok()) s = begin_.Run();
  if (!s.ok()) s = Unavailable("BEGIN IMMEDIATE failed", s);
  for (size_t i = 0; s.ok() && i < batch_.size(); ++i) {
    Job& job = *batch_[i].job;
    if (job.Isolated()) {
      s = RunIsolated(job, &results_[i]);
    } else {
      s = job.Run(*db_);
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
    s = commit_.Run();
    if (!s.ok()) s = Unavailable("COMMIT failed", s);
  }

  batch_committed_ = s.ok();
  if (s.ok()) {
    healthy_.store(true, std::memory_order_release);
    if (options_.after_commit) options_.after_commit();
    CountBatch(by_caller);
    for (size_t i = 0; i < batch_.size(); ++i) {
      Entry& e = batch_[i];
      e.job->Complete(std::move(results_[i]));
      if (e.waiter == nullptr) delete e.job;
    }
    return;
  }

  if (sqlite3_get_autocommit(db_->handle()) == 0) {
    // Still inside the transaction: undo it. A failing ROLLBACK leaves
    // SQLite to roll back on the next BEGIN's hot-journal check.
    if (prepared_) {
      rollback_.Run().IgnoreError();
    } else {
      db_->Exec("ROLLBACK").IgnoreError();
    }
  }
  healthy_.store(false, std::memory_order_release);
  if (options_.on_rollback) options_.on_rollback();
  CountBatch(by_caller);
  Status failed = absl::UnavailableError(
      absl::StrCat("batch of ", batch_.size(), " rolled back: ", s.message()));
  for (Entry& e : batch_) {
    e.job->Complete(failed);
    if (e.waiter == nullptr) delete e.job;
  }
}

void Writer::Probe() {
  Status s = db_->Exec("BEGIN IMMEDIATE");
  if (s.ok()) s = db_->Exec("ROLLBACK");
  if (s.ok()) healthy_.store(true, std::memory_order_release);
}

}  // namespace aikernel::store
