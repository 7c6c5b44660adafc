#include "store/writer.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "store/test_temp_dir.h"

namespace aikernel::store {
namespace {

using testing::TempDir;

std::unique_ptr<Database> OpenDb(
    const std::string& path,
    std::chrono::milliseconds busy = std::chrono::milliseconds(5000)) {
  DatabaseOptions o;
  o.path = path;
  o.busy_timeout = busy;
  auto db = Database::Open(o);
  EXPECT_TRUE(db.ok()) << db.status();
  EXPECT_TRUE(
      (*db)
          ->Exec("CREATE TABLE IF NOT EXISTS t(k INTEGER PRIMARY KEY, v TEXT)")
          .ok());
  return std::move(*db);
}

int64_t CountRows(const std::string& path) {
  DatabaseOptions o;
  o.path = path;
  o.read_only = true;
  auto db = Database::Open(o);
  EXPECT_TRUE(db.ok()) << db.status();
  auto st = (*db)->Prepare("SELECT count(*) FROM t");
  EXPECT_TRUE(st.ok());
  EXPECT_TRUE(*st->Step());
  return st->ColumnInt64(0);
}

std::function<Status(Database&)> Insert(int64_t k) {
  return [k](Database& db) {
    AIK_ASSIGN_OR_RETURN(Statement st,
                         db.Prepare("INSERT INTO t(k, v) VALUES (?1, 'x')"));
    AIK_RETURN_IF_ERROR(st.BindInt64(1, k));
    return st.Run();
  };
}

// A non-isolated job: its error fails the whole batch.
class PlainJob final : public Job {
 public:
  explicit PlainJob(std::function<Status(Database&)> fn) : fn_(std::move(fn)) {}
  Status Run(Database& db) override { return fn_(db); }
  void Complete(Status s) override { p_.set_value(std::move(s)); }
  std::future<Status> future() { return p_.get_future(); }

 private:
  std::function<Status(Database&)> fn_;
  std::promise<Status> p_;
};

// A job that blocks the writer inside its transaction until released, so
// the test can queue a known set of jobs behind it.
struct Gate {
  std::promise<void> entered;
  std::promise<void> release;
  std::shared_future<void> released{release.get_future().share()};
  std::function<Status(Database&)> Fn() {
    return [this](Database&) {
      entered.set_value();
      released.wait();
      return absl::OkStatus();
    };
  }
};

TEST(WriterTest, ManyThreadsAllCommitAndShareCommits) {
  TempDir dir;
  auto w = Writer::Start(OpenDb(dir.file("w.db")), {});
  constexpr int kThreads = 8, kPer = 200;
  std::vector<std::thread> ts;
  std::atomic<int> ok{0};
  for (int t = 0; t < kThreads; ++t) {
    ts.emplace_back([&, t] {
      for (int i = 0; i < kPer; ++i) {
        if (w->Submit(Insert(t * kPer + i + 1)).get().ok()) ok++;
      }
    });
  }
  for (auto& t : ts) t.join();
  EXPECT_EQ(ok.load(), kThreads * kPer);
  WriterStats s = w->stats();
  EXPECT_EQ(s.jobs, uint64_t{kThreads * kPer});
  EXPECT_LT(s.commits, s.jobs);
  w->Close();
  EXPECT_EQ(CountRows(dir.file("w.db")), kThreads * kPer);
}

TEST(WriterTest, JobsQueuedDuringACommitFormOneBatch) {
  TempDir dir;
  auto w = Writer::Start(OpenDb(dir.file("w.db")), {});
  Gate gate;
  auto first = w->Submit(gate.Fn());
  gate.entered.get_future().wait();  // writer is inside batch 1
  std::vector<std::future<Status>> fs;
  for (int i = 1; i <= 500; ++i) fs.push_back(w->Submit(Insert(i)));
  gate.release.set_value();
  EXPECT_TRUE(first.get().ok());
  for (auto& f : fs) EXPECT_TRUE(f.get().ok());
  WriterStats s = w->stats();
  EXPECT_EQ(s.commits, 2u);
  EXPECT_EQ(s.largest_batch, 500u);
}

TEST(WriterTest, MaxBatchBoundsATransaction) {
  TempDir dir;
  WriterOptions o;
  o.max_batch = 100;
  auto w = Writer::Start(OpenDb(dir.file("w.db")), o);
  Gate gate;
  auto first = w->Submit(gate.Fn());
  gate.entered.get_future().wait();
  std::vector<std::future<Status>> fs;
  for (int i = 1; i <= 250; ++i) fs.push_back(w->Submit(Insert(i)));
  gate.release.set_value();
  for (auto& f : fs) EXPECT_TRUE(f.get().ok());
  EXPECT_EQ(w->stats().commits, 1u + 3u);
  EXPECT_EQ(w->stats().largest_batch, 100u);
}

TEST(WriterTest, FailingPlainJobRollsBackTheWholeBatch) {
  TempDir dir;
  std::atomic<int> rollbacks{0};
  WriterOptions o;
  o.on_rollback = [&] { rollbacks++; };
  auto w = Writer::Start(OpenDb(dir.file("w.db")), o);
  Gate gate;
  auto first = w->Submit(gate.Fn());
  gate.entered.get_future().wait();
  std::vector<std::future<Status>> fs;
  for (int i = 1; i <= 10; ++i) fs.push_back(w->Submit(Insert(i)));
  auto bad = std::make_unique<PlainJob>([](Database& db) {
    return db.Exec("INSERT INTO no_such_table VALUES (1)");
  });
  auto bad_f = bad->future();
  w->Enqueue(std::move(bad));
  for (int i = 11; i <= 20; ++i) fs.push_back(w->Submit(Insert(i)));
  gate.release.set_value();
  EXPECT_TRUE(first.get().ok());
  for (auto& f : fs) {
    Status s = f.get();
    EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable) << s;
    EXPECT_NE(s.message().find("no such table"), absl::string_view::npos) << s;
  }
  EXPECT_EQ(bad_f.get().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(rollbacks.load(), 1);
  EXPECT_FALSE(w->healthy());
  // The writer recovers on the next commit.
  EXPECT_TRUE(w->Submit(Insert(100)).get().ok());
  EXPECT_TRUE(w->healthy());
  WriterStats s = w->stats();
  EXPECT_EQ(s.rollbacks, 1u);
  w->Close();
  EXPECT_EQ(CountRows(dir.file("w.db")), 1);
}

TEST(WriterTest, FailingIsolatedJobFailsAlone) {
  TempDir dir;
  auto w = Writer::Start(OpenDb(dir.file("w.db")), {});
  Gate gate;
  auto first = w->Submit(gate.Fn());
  gate.entered.get_future().wait();
  auto a = w->Submit(Insert(1));
  auto dup = w->Submit([](Database& db) -> Status {
    AIK_RETURN_IF_ERROR(db.Exec("INSERT INTO t(k, v) VALUES (2, 'x')"));
    return db.Exec("INSERT INTO t(k, v) VALUES (1, 'again')");  // conflicts
  });
  auto c = w->Submit(Insert(3));
  auto value =
      w->SubmitValue<int>([](Database&) -> StatusOr<int> { return 42; });
  gate.release.set_value();
  EXPECT_TRUE(a.get().ok());
  Status d = dup.get();
  EXPECT_EQ(d.code(), absl::StatusCode::kFailedPrecondition) << d;
  EXPECT_TRUE(c.get().ok());
  auto v = value.get();
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(*v, 42);
  EXPECT_EQ(w->stats().commits, 2u);
  EXPECT_TRUE(w->healthy());
  w->Close();
  EXPECT_EQ(CountRows(dir.file("w.db")), 2);  // 1 and 3; 2 was undone
}

TEST(WriterTest, FaultBeforeCommitFailsEveryJobWithUnavailable) {
  TempDir dir;
  std::atomic<bool> fail{true};
  WriterOptions o;
  o.fault_before_commit = [&]() -> Status {
    return fail ? absl::InternalError("disk on fire") : absl::OkStatus();
  };
  auto w = Writer::Start(OpenDb(dir.file("w.db")), o);
  Status s = w->Submit(Insert(1)).get();
  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable);
  EXPECT_NE(s.message().find("disk on fire"), absl::string_view::npos) << s;
  fail = false;
  EXPECT_TRUE(w->Submit(Insert(2)).get().ok());
  w->Close();
  EXPECT_EQ(CountRows(dir.file("w.db")), 1);
}

TEST(WriterTest, LockedDatabaseFailsBatchNamingSqliteError) {
  TempDir dir;
  const std::string path = dir.file("w.db");
  auto w = Writer::Start(OpenDb(path, std::chrono::milliseconds(20)), {});
  auto other = OpenDb(path);
  ASSERT_TRUE(other->Exec("BEGIN IMMEDIATE").ok());
  Status s = w->Submit(Insert(1)).get();
  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable) << s;
  EXPECT_NE(s.message().find("database is locked"), absl::string_view::npos)
      << s;
  EXPECT_FALSE(w->healthy());
  ASSERT_TRUE(other->Exec("ROLLBACK").ok());
  EXPECT_TRUE(w->Submit(Insert(2)).get().ok());
  EXPECT_TRUE(w->healthy());
}

TEST(WriterTest, CloseDrainsRunsLastJobAndRefusesLaterJobs) {
  TempDir dir;
  auto w = Writer::Start(OpenDb(dir.file("w.db")), {});
  Gate gate;
  auto first = w->Submit(gate.Fn());
  gate.entered.get_future().wait();
  std::vector<std::future<Status>> fs;
  for (int i = 1; i <= 5; ++i) fs.push_back(w->Submit(Insert(i)));
  std::atomic<int64_t> rows_seen_by_last{-1};
  auto last = std::make_unique<PlainJob>([&](Database& db) -> Status {
    AIK_ASSIGN_OR_RETURN(Statement st, db.Prepare("SELECT count(*) FROM t"));
    AIK_ASSIGN_OR_RETURN(bool row, st.Step());
    if (row) rows_seen_by_last = st.ColumnInt64(0);
    return absl::OkStatus();
  });
  auto last_f = last->future();
  std::thread closer([&] { w->Close(std::move(last)); });
  // Close() is blocked on the gated batch; whatever it has done, a job
  // submitted once it returns must be refused.
  gate.release.set_value();
  closer.join();
  for (auto& f : fs) EXPECT_TRUE(f.get().ok());
  EXPECT_TRUE(last_f.get().ok());
  EXPECT_EQ(rows_seen_by_last.load(), 5);
  Status late = w->Submit(Insert(9)).get();
  EXPECT_EQ(late.code(), absl::StatusCode::kUnavailable);
  EXPECT_FALSE(w->accepting());
  w->Close();  // idempotent
}

TEST(WriterTest, IdleHookRunsItsJob) {
  TempDir dir;
  std::promise<void> ran;
  std::atomic<int> calls{0};
  WriterOptions o;
  o.idle_interval = std::chrono::milliseconds(5);
  o.on_idle = [&]() -> std::unique_ptr<Job> {
    if (calls++ != 0) return nullptr;
    return std::make_unique<PlainJob>([&](Database& db) -> Status {
      AIK_RETURN_IF_ERROR(db.Exec("INSERT INTO t(k, v) VALUES (7, 'idle')"));
      ran.set_value();
      return absl::OkStatus();
    });
  };
  auto w = Writer::Start(OpenDb(dir.file("w.db")), o);
  ran.get_future().wait();
  w->Close();
  EXPECT_EQ(CountRows(dir.file("w.db")), 1);
}


// ---- Run(): leader/follower ("caller-runs") group commit ----

// A job a Run() caller owns: records its outcome and the thread it ran on.
class CallerJob final : public Job {
 public:
  CallerJob(std::function<Status(Database&)> fn, bool isolated = true)
      : fn_(std::move(fn)), isolated_(isolated) {}
  Status Run(Database& db) override {
    ran_on = std::this_thread::get_id();
    return fn_(db);
  }
  void Complete(Status s) override {
    ++completions;
    status = std::move(s);
  }
  bool Isolated() const override { return isolated_; }
  Status status = absl::InternalError("not completed");
  int completions = 0;
  std::thread::id ran_on;

 private:
  std::function<Status(Database&)> fn_;
  bool isolated_;
};

// Spins (no sleep) until `n` jobs wait in the writer's queue.
void WaitQueued(const Writer& w, size_t n) {
  while (w.queued() < n) std::this_thread::yield();
}

TEST(WriterRunTest, IdleWriterRunsTheBatchOnTheCallersThread) {
  TempDir dir;
  auto w = Writer::Start(OpenDb(dir.file("w.db")), {});
  for (int i = 1; i <= 3; ++i) {
    CallerJob job(Insert(i));
    EXPECT_TRUE(w->Run(job));
    EXPECT_TRUE(job.status.ok()) << job.status;
    EXPECT_EQ(job.completions, 1);
    EXPECT_EQ(job.ran_on, std::this_thread::get_id());
  }
  WriterStats s = w->stats();
  EXPECT_EQ(s.commits, 3u);
  EXPECT_EQ(s.led_by_caller, 3u);
  w->Close();
  EXPECT_EQ(CountRows(dir.file("w.db")), 3);
}

TEST(WriterRunTest, FollowersQueuedDuringABatchShareTheNextCommit) {
  TempDir dir;
  auto w = Writer::Start(OpenDb(dir.file("w.db")), {});
  Gate gate;
  CallerJob first(gate.Fn());
  std::thread leader([&] { w->Run(first); });
  gate.entered.get_future().wait();  // the leader is inside batch 1
  constexpr int kFollowers = 6;
  std::vector<std::unique_ptr<CallerJob>> jobs;
  for (int i = 1; i <= kFollowers; ++i)
    jobs.push_back(std::make_unique<CallerJob>(Insert(i)));
  std::vector<std::thread> followers;
  for (auto& j : jobs) followers.emplace_back([&w, &j] { w->Run(*j); });
  WaitQueued(*w, kFollowers);
  gate.release.set_value();
  leader.join();
  for (auto& t : followers) t.join();
  EXPECT_TRUE(first.status.ok());
  for (auto& j : jobs) {
    EXPECT_TRUE(j->status.ok()) << j->status;
    EXPECT_EQ(j->completions, 1);
  }
  WriterStats s = w->stats();
  EXPECT_EQ(s.commits, 2u);  // the leader's, then every follower in one
  EXPECT_EQ(s.largest_batch, uint64_t{kFollowers});
  // The followers' batch is led by one of them, handed the role by the
  // leader, unless the background thread takes it first: it starts with
  // the writer, and on a loaded machine its first look at the queue can
  // come only after batch 1 (seen once at load 2 with 630 tests on 2
  // cores). Either way it is one commit, which is what this test is about.
  EXPECT_GE(s.led_by_caller, 1u);
  EXPECT_LE(s.led_by_caller, 2u);
  w->Close();
  EXPECT_EQ(CountRows(dir.file("w.db")), kFollowers);
}

TEST(WriterRunTest, LeadersFailedBatchRollsBackAndFollowersStillCommit) {
  TempDir dir;
  std::atomic<int> rollbacks{0};
  WriterOptions o;
  o.on_rollback = [&] { rollbacks++; };
  auto w = Writer::Start(OpenDb(dir.file("w.db")), o);
  // The leader's own job is not isolated: it inserts, waits, then fails,
  // which must roll its whole batch back (its insert too).
  Gate gate;
  CallerJob bad(
      [&](Database& db) -> Status {
        AIK_RETURN_IF_ERROR(db.Exec("INSERT INTO t(k, v) VALUES (100, 'x')"));
        AIK_RETURN_IF_ERROR(gate.Fn()(db));
        return absl::InternalError("leader's job failed");
      },
      /*isolated=*/false);
  std::thread leader([&] { w->Run(bad); });
  gate.entered.get_future().wait();
  constexpr int kFollowers = 4;
  std::vector<std::unique_ptr<CallerJob>> jobs;
  for (int i = 1; i <= kFollowers; ++i)
    jobs.push_back(std::make_unique<CallerJob>(Insert(i)));
  std::vector<std::thread> followers;
  for (auto& j : jobs) followers.emplace_back([&w, &j] { w->Run(*j); });
  auto async = w->Submit(Insert(50));  // an Enqueue()d job among them
  WaitQueued(*w, kFollowers + 1);
  gate.release.set_value();
  leader.join();
  for (auto& t : followers) t.join();
  EXPECT_EQ(bad.status.code(), absl::StatusCode::kUnavailable) << bad.status;
  EXPECT_NE(bad.status.message().find("leader's job failed"),
            absl::string_view::npos);
  EXPECT_EQ(bad.completions, 1);
  EXPECT_EQ(rollbacks.load(), 1);
  // Nobody was left asleep: the followers and the queued job ran in the
  // next batch, which committed and made the writer healthy again.
  for (auto& j : jobs) EXPECT_TRUE(j->status.ok()) << j->status;
  EXPECT_TRUE(async.get().ok());
  EXPECT_TRUE(w->healthy());
  WriterStats s = w->stats();
  EXPECT_EQ(s.rollbacks, 1u);
  EXPECT_EQ(s.commits, 1u);
  w->Close();
  EXPECT_EQ(CountRows(dir.file("w.db")), kFollowers + 1);  // not 100
}

TEST(WriterRunTest, FollowersBatchFailsAloneWhenTheLeadersCommitted) {
  TempDir dir;
  auto w = Writer::Start(OpenDb(dir.file("w.db")), {});
  Gate gate;
  CallerJob first(gate.Fn());
  std::thread leader([&] { w->Run(first); });
  gate.entered.get_future().wait();
  CallerJob ok1(Insert(1));
  CallerJob plain_bad(
      [](Database& db) { return db.Exec("INSERT INTO no_such_table VALUES (1)"); },
      /*isolated=*/false);
  std::thread f1([&] { w->Run(ok1); });
  WaitQueued(*w, 1);
  std::thread f2([&] { w->Run(plain_bad); });
  WaitQueued(*w, 2);
  gate.release.set_value();
  leader.join();
  f1.join();
  f2.join();
  EXPECT_TRUE(first.status.ok());
  EXPECT_EQ(ok1.status.code(), absl::StatusCode::kUnavailable) << ok1.status;
  EXPECT_EQ(plain_bad.status.code(), absl::StatusCode::kUnavailable);
  EXPECT_FALSE(w->healthy());
  CallerJob again(Insert(2));
  EXPECT_TRUE(w->Run(again));
  EXPECT_TRUE(again.status.ok()) << again.status;
  EXPECT_TRUE(w->healthy());
  w->Close();
  EXPECT_EQ(CountRows(dir.file("w.db")), 1);
}

TEST(WriterRunTest, EnqueuedJobsLeftByALeaderAreRunByTheBackgroundThread) {
  TempDir dir;
  auto w = Writer::Start(OpenDb(dir.file("w.db")), {});
  Gate gate;
  CallerJob first(gate.Fn());
  std::thread leader([&] { w->Run(first); });
  gate.entered.get_future().wait();
  std::vector<std::future<Status>> fs;
  for (int i = 1; i <= 20; ++i) fs.push_back(w->Submit(Insert(i)));
  gate.release.set_value();
  leader.join();  // returns without running the queued jobs
  for (auto& f : fs) EXPECT_TRUE(f.get().ok());
  EXPECT_EQ(w->stats().commits, 2u);
  EXPECT_EQ(w->stats().led_by_caller, 1u);
}

TEST(WriterRunTest, CallerQueuedBehindTheBackgroundThreadIsCompleted) {
  TempDir dir;
  auto w = Writer::Start(OpenDb(dir.file("w.db")), {});
  Gate gate;
  auto first = w->Submit(gate.Fn());  // the background thread holds the role
  gate.entered.get_future().wait();
  CallerJob job(Insert(1));
  std::thread::id caller_id;
  std::thread caller([&] {
    caller_id = std::this_thread::get_id();
    w->Run(job);
  });
  WaitQueued(*w, 1);
  gate.release.set_value();
  caller.join();
  EXPECT_TRUE(first.get().ok());
  EXPECT_TRUE(job.status.ok()) << job.status;
  // The background thread still held the role and took the job itself.
  EXPECT_NE(job.ran_on, caller_id);
}

TEST(WriterRunTest, ManyCallersAndQueuersLoseNoWakeUp) {
  TempDir dir;
  WriterOptions o;
  o.max_batch = 3;  // many batches, many hand-offs
  auto w = Writer::Start(OpenDb(dir.file("w.db")), o);
  constexpr int kThreads = 8, kPer = 150;
  std::atomic<int> ok{0};
  std::vector<std::thread> ts;
  for (int t = 0; t < kThreads; ++t) {
    ts.emplace_back([&, t] {
      for (int i = 0; i < kPer; ++i) {
        const int64_t k = int64_t{t} * kPer + i + 1;
        if ((t + i) % 3 == 0) {
          if (w->Submit(Insert(k)).get().ok()) ok++;
        } else {
          CallerJob job(Insert(k));
          w->Run(job);
          if (job.status.ok() && job.completions == 1) ok++;
        }
      }
    });
  }
  for (auto& t : ts) t.join();
  EXPECT_EQ(ok.load(), kThreads * kPer);
  WriterStats s = w->stats();
  EXPECT_EQ(s.jobs, uint64_t{kThreads * kPer});
  EXPECT_LE(s.largest_batch, 3u);
  w->Close();
  EXPECT_EQ(CountRows(dir.file("w.db")), kThreads * kPer);
}

TEST(WriterRunTest, IdleHookStillRunsAfterACallerHeldTheRoleThroughItsDeadline) {
  // The background thread wakes for the idle hook while a Run() caller holds
  // the role and waits for it to be free: the caller's Release() must wake
  // it, or the hook (the ledger's timed checkpoint, memory's TTL purge)
  // never runs again while only Run() callers write.
  TempDir dir;
  std::atomic<int> idle_calls{0};
  WriterOptions o;
  o.idle_interval = std::chrono::milliseconds(5);
  o.on_idle = [&]() -> std::unique_ptr<Job> {
    ++idle_calls;
    return nullptr;
  };
  auto w = Writer::Start(OpenDb(dir.file("w.db")), o);
  CallerJob job([&](Database& db) -> Status {
    // Hold the role well past the idle deadline. A background thread that
    // is slow to get a core only makes this test pass without checking.
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    return Insert(1)(db);
  });
  ASSERT_TRUE(w->Run(job));
  ASSERT_TRUE(job.status.ok()) << job.status;
  const int before = idle_calls.load();
  for (int i = 0; i < 5000 && idle_calls.load() == before; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  EXPECT_GT(idle_calls.load(), before) << "the idle hook stopped after a caller-led batch";
  w->Close();
}

TEST(WriterRunTest, CloseWaitsForQueuedCallersAndRefusesLaterOnes) {
  TempDir dir;
  auto w = Writer::Start(OpenDb(dir.file("w.db")), {});
  Gate gate;
  CallerJob first(gate.Fn());
  std::thread leader([&] { w->Run(first); });
  gate.entered.get_future().wait();
  CallerJob queued(Insert(1));
  std::thread follower([&] { w->Run(queued); });
  WaitQueued(*w, 1);
  std::thread closer([&] { w->Close(); });
  while (w->accepting()) std::this_thread::yield();
  gate.release.set_value();
  closer.join();
  leader.join();
  follower.join();
  EXPECT_TRUE(first.status.ok());
  EXPECT_TRUE(queued.status.ok()) << queued.status;
  CallerJob late(Insert(2));
  EXPECT_FALSE(w->Run(late));
  EXPECT_EQ(late.status.code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(late.completions, 1);
  EXPECT_EQ(CountRows(dir.file("w.db")), 1);
}

}  // namespace
}  // namespace aikernel::store
