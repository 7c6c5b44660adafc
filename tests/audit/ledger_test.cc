#include "audit/ledger.h"

#include <gtest/gtest.h>

#include <atomic>
#include <set>
#include <thread>

#include "audit/audit_test_util.h"
#include "audit/reader.h"
#include "audit/verify.h"
#include "store/database.h"

namespace aikernel::audit {
namespace {

using testutil::Fixture;
using testutil::MakeRecord;

VerifyReport MustVerify(const std::string& db) {
  auto r = Verify({db, ""});
  EXPECT_TRUE(r.ok()) << r.status();
  return r.ok() ? *r : VerifyReport{};
}

std::vector<Record> ReadAll(const std::string& db) {
  std::vector<Record> out;
  auto reader = Reader::Open(db);
  EXPECT_TRUE(reader.ok()) << reader.status();
  auto n = (*reader)->Query({}, [&](const Record& r) {
    out.push_back(r);
    return true;
  });
  EXPECT_TRUE(n.ok()) << n.status();
  return out;
}

TEST(LedgerTest, AppendsAssignSequenceAndChain) {
  Fixture f;
  auto ledger = f.Open();
  ASSERT_NE(ledger, nullptr);
  EXPECT_EQ(ledger->head().sequence, 0u);
  EXPECT_TRUE(ledger->Accepting());
  for (uint64_t i = 1; i <= 10; ++i) {
    auto seq = ledger->Append(MakeRecord(i));
    ASSERT_TRUE(seq.ok()) << seq.status();
    EXPECT_EQ(*seq, i);
  }
  Head h = ledger->head();
  EXPECT_EQ(h.sequence, 10u);
  ledger->Close();
  EXPECT_FALSE(ledger->Accepting());

  auto records = ReadAll(f.db);
  ASSERT_EQ(records.size(), 10u);
  Hash prev{};
  for (size_t i = 0; i < records.size(); ++i) {
    const Record& r = records[i];
    EXPECT_EQ(r.sequence, i + 1);
    EXPECT_EQ(r.prev_hash, prev);
    EXPECT_EQ(r.hash, ComputeHash(r));
    Record want = MakeRecord(i + 1);
    EXPECT_EQ(r.principal, want.principal);
    EXPECT_EQ(r.rule_ids, want.rule_ids);
    EXPECT_EQ(r.request_digest, want.request_digest);
    EXPECT_EQ(r.decision, want.decision);
    prev = r.hash;
  }
  EXPECT_EQ(prev, h.hash);
  VerifyReport v = MustVerify(f.db);
  EXPECT_TRUE(v.ok) << v.error;
  EXPECT_EQ(v.records, 10u);
  EXPECT_EQ(v.checkpoints, 1u);  // the final one written by Close()
  EXPECT_TRUE(v.key_from_ledger);
  EXPECT_EQ(v.head_hash_hex, ToHex(h.hash));
}

TEST(LedgerTest, ConcurrentAppendsAreGaplessAndVerify) {
  Fixture f;
  LedgerOptions o = f.Options();
  o.checkpoint_every_records = 100;
  auto ledger = f.Open(o);
  constexpr int kThreads = 16, kPer = 250;
  std::vector<std::thread> ts;
  std::vector<std::vector<uint64_t>> seqs(kThreads);
  for (int t = 0; t < kThreads; ++t) {
    ts.emplace_back([&, t] {
      for (int i = 0; i < kPer; ++i) {
        auto s = ledger->Append(MakeRecord(t * kPer + i));
        ASSERT_TRUE(s.ok()) << s.status();
        seqs[t].push_back(*s);
      }
    });
  }
  for (auto& t : ts) t.join();
  std::set<uint64_t> all;
  for (auto& v : seqs) {
    for (size_t i = 1; i < v.size(); ++i) EXPECT_LT(v[i - 1], v[i]);
    all.insert(v.begin(), v.end());
  }
  ASSERT_EQ(all.size(), size_t{kThreads * kPer});
  EXPECT_EQ(*all.begin(), 1u);
  EXPECT_EQ(*all.rbegin(), uint64_t{kThreads * kPer});
  LedgerStats st = ledger->stats();
  EXPECT_LT(st.commits, uint64_t{kThreads * kPer})
      << "no group commit happened";
  ledger->Close();
  VerifyReport v = MustVerify(f.db);
  EXPECT_TRUE(v.ok) << v.error;
  EXPECT_EQ(v.records, uint64_t{kThreads * kPer});
  EXPECT_GE(v.checkpoints, uint64_t{kThreads * kPer / 100});
}

TEST(LedgerTest, AppendsQueuedDuringACommitShareOneTransaction) {
  Fixture f;
  LedgerOptions o = f.Options();
  // Hold the first transaction open until every append is queued.
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  std::atomic<bool> first{true};
  o.fault_before_commit = [&]() -> Status {
    if (first.exchange(false)) released.wait();
    return absl::OkStatus();
  };
  auto ledger = f.Open(o);
  constexpr int kAppends = 1000;
  std::vector<std::future<StatusOr<uint64_t>>> fs;
  for (int i = 0; i < kAppends; ++i)
    fs.push_back(ledger->AppendAsync(MakeRecord(i)));
  release.set_value();
  for (int i = 0; i < kAppends; ++i) {
    auto s = fs[i].get();
    ASSERT_TRUE(s.ok()) << s.status();
    EXPECT_EQ(*s, uint64_t(i + 1));  // queue order is sequence order
  }
  LedgerStats st = ledger->stats();
  EXPECT_LE(st.commits, 2u);
  // Two batches at most: what the writer took before the hook blocked,
  // and everything queued meanwhile.
  EXPECT_GE(st.largest_batch, uint64_t{kAppends / 2});
}

TEST(LedgerTest, FailedCommitFailsTheBatchAndKeepsTheHead) {
  Fixture f;
  LedgerOptions o = f.Options();
  std::atomic<bool> fail{false};
  o.fault_before_commit = [&]() -> Status {
    return fail ? absl::DataLossError("injected: disk gone") : absl::OkStatus();
  };
  auto ledger = f.Open(o);
  for (int i = 1; i <= 5; ++i) ASSERT_TRUE(ledger->Append(MakeRecord(i)).ok());
  const Head before = ledger->head();

  fail = true;
  std::vector<std::future<StatusOr<uint64_t>>> fs;
  for (int i = 0; i < 20; ++i)
    fs.push_back(ledger->AppendAsync(MakeRecord(100 + i)));
  for (auto& fu : fs) {
    auto s = fu.get();
    ASSERT_FALSE(s.ok());
    EXPECT_EQ(s.status().code(), absl::StatusCode::kUnavailable) << s.status();
    EXPECT_NE(s.status().message().find("disk gone"), absl::string_view::npos);
  }
  EXPECT_EQ(ledger->head().sequence, before.sequence);
  EXPECT_EQ(ledger->head().hash, before.hash);
  EXPECT_FALSE(ledger->Accepting());
  EXPECT_GE(ledger->stats().rollbacks, 1u);

  fail = false;
  auto s = ledger->Append(MakeRecord(6));
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(*s, 6u);  // failed appends consumed no sequence
  EXPECT_TRUE(ledger->Accepting());
  ledger->Close();
  VerifyReport v = MustVerify(f.db);
  EXPECT_TRUE(v.ok) << v.error;
  EXPECT_EQ(v.records, 6u);
}

TEST(LedgerTest, LockedDatabaseFailsAppendThenRecovers) {
  Fixture f;
  LedgerOptions o = f.Options();
  o.busy_timeout = std::chrono::milliseconds(20);
  auto ledger = f.Open(o);
  ASSERT_TRUE(ledger->Append(MakeRecord(1)).ok());
  {
    store::DatabaseOptions dbo;
    dbo.path = f.db;
    auto other = store::Database::Open(dbo);
    ASSERT_TRUE(other.ok());
    ASSERT_TRUE((*other)->Exec("BEGIN IMMEDIATE").ok());
    auto s = ledger->Append(MakeRecord(2));
    ASSERT_FALSE(s.ok());
    EXPECT_EQ(s.status().code(), absl::StatusCode::kUnavailable);
    EXPECT_NE(s.status().message().find("database is locked"),
              absl::string_view::npos)
        << s.status();
    ASSERT_TRUE((*other)->Exec("ROLLBACK").ok());
  }
  auto s = ledger->Append(MakeRecord(2));
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(*s, 2u);
  ledger->Close();
  EXPECT_TRUE(MustVerify(f.db).ok);
}

TEST(LedgerTest, ReopenContinuesTheChain) {
  Fixture f;
  Hash head1;
  {
    auto ledger = f.Open();
    for (int i = 1; i <= 10; ++i)
      ASSERT_TRUE(ledger->Append(MakeRecord(i)).ok());
    head1 = ledger->head().hash;
  }  // destructor closes
  {
    auto ledger = f.Open();
    ASSERT_NE(ledger, nullptr);
    EXPECT_EQ(ledger->head().sequence, 10u);
    EXPECT_EQ(ledger->head().hash, head1);
    EXPECT_EQ(ledger->head().checkpoint_sequence, 10u);
    for (int i = 11; i <= 20; ++i) {
      auto s = ledger->Append(MakeRecord(i));
      ASSERT_TRUE(s.ok());
      EXPECT_EQ(*s, uint64_t(i));
    }
  }
  auto records = ReadAll(f.db);
  ASSERT_EQ(records.size(), 20u);
  EXPECT_EQ(records[10].prev_hash, head1);
  VerifyReport v = MustVerify(f.db);
  EXPECT_TRUE(v.ok) << v.error;
  EXPECT_EQ(v.checkpoints, 2u);
}

TEST(LedgerTest, CheckpointsEveryNRecordsAndOnDemand) {
  Fixture f;
  LedgerOptions o = f.Options();
  o.checkpoint_every_records = 10;
  o.checkpoint_every = std::chrono::hours(1);
  auto ledger = f.Open(o);
  for (int i = 1; i <= 25; ++i) ASSERT_TRUE(ledger->Append(MakeRecord(i)).ok());
  EXPECT_EQ(ledger->head().checkpoint_sequence, 20u);
  ASSERT_TRUE(ledger->Checkpoint().ok());
  EXPECT_EQ(ledger->head().checkpoint_sequence, 25u);
  ASSERT_TRUE(ledger->Checkpoint().ok());  // nothing new: no-op
  ledger->Close();
  VerifyReport v = MustVerify(f.db);
  EXPECT_TRUE(v.ok) << v.error;
  EXPECT_EQ(v.checkpoints, 3u);  // 10, 20, 25 (Close adds none)
}

TEST(LedgerTest, AppendAfterCloseIsUnavailable) {
  Fixture f;
  auto ledger = f.Open();
  ledger->Close();
  ledger->Close();  // idempotent
  auto s = ledger->Append(MakeRecord(1));
  EXPECT_EQ(s.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(ledger->Checkpoint().code(), absl::StatusCode::kUnavailable);
}

TEST(LedgerTest, WaitForSequenceAbove) {
  Fixture f;
  auto ledger = f.Open();
  std::thread t([&] {
    for (int i = 1; i <= 3; ++i)
      ASSERT_TRUE(ledger->Append(MakeRecord(i)).ok());
  });
  uint64_t seen = ledger->WaitForSequenceAbove(2, std::chrono::seconds(30));
  EXPECT_GE(seen, 3u);
  t.join();
  // Returns at once (with the head) on timeout.
  EXPECT_EQ(ledger->WaitForSequenceAbove(3, std::chrono::milliseconds(1)), 3u);
  ledger->Close();
  EXPECT_EQ(ledger->WaitForSequenceAbove(100, std::chrono::hours(1)), 3u);
}

TEST(LedgerTest, DatabaseRefusesUpdateAndDelete) {
  Fixture f;
  {
    auto ledger = f.Open();
    ASSERT_TRUE(ledger->Append(MakeRecord(1)).ok());
  }
  store::DatabaseOptions o;
  o.path = f.db;
  auto db = store::Database::Open(o);
  ASSERT_TRUE(db.ok());
  for (const char* sql :
       {"UPDATE records SET principal = 'x'", "DELETE FROM records",
        "UPDATE checkpoints SET seq = 5", "DELETE FROM checkpoints"}) {
    Status s = (*db)->Exec(sql);
    EXPECT_FALSE(s.ok()) << sql;
    EXPECT_NE(s.message().find("append-only"), absl::string_view::npos) << s;
  }
}

TEST(LedgerTest, OpenRefusesATamperedHead) {
  Fixture f;
  {
    auto ledger = f.Open();
    for (int i = 1; i <= 5; ++i) {
      ASSERT_TRUE(
          ledger->Append(MakeRecord(i, i == 5 ? "lastone" : "agent")).ok());
    }
  }
  ASSERT_GE(testutil::FlipInFile(f.db, "lastone-5"), 1);
  auto l = Ledger::Open(f.Options(), f.key.get());
  ASSERT_FALSE(l.ok());
  EXPECT_EQ(l.status().code(), absl::StatusCode::kDataLoss) << l.status();
  EXPECT_NE(l.status().message().find("sequence 5"), absl::string_view::npos)
      << l.status();
}

TEST(LedgerTest, OpenRefusesATruncatedTail) {
  Fixture f;
  {
    auto ledger = f.Open();
    for (int i = 1; i <= 5; ++i)
      ASSERT_TRUE(ledger->Append(MakeRecord(i)).ok());
  }  // final checkpoint at 5
  testutil::DropTriggers(f.db);
  testutil::RawSql(f.db, "DELETE FROM records WHERE seq > 3");
  auto l = Ledger::Open(f.Options(), f.key.get());
  ASSERT_FALSE(l.ok());
  EXPECT_EQ(l.status().code(), absl::StatusCode::kDataLoss) << l.status();
}

TEST(LedgerTest, OpenRefusesAnotherNodesKey) {
  Fixture f;
  { auto ledger = f.Open(); }
  testing::TempDir other;
  auto key = identity::NodeKey::LoadOrCreate(other.path());
  ASSERT_TRUE(key.ok());
  auto l = Ledger::Open(f.Options(), key->get());
  ASSERT_FALSE(l.ok());
  EXPECT_EQ(l.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(l.status().message().find(f.key->KeyId()), absl::string_view::npos);
}

TEST(LedgerTest, OpenRefusesANewerSchema) {
  Fixture f;
  { auto ledger = f.Open(); }
  testutil::RawSql(f.db, "PRAGMA user_version = 99");
  auto l = Ledger::Open(f.Options(), f.key.get());
  ASSERT_FALSE(l.ok());
  EXPECT_EQ(l.status().code(), absl::StatusCode::kFailedPrecondition);
}


TEST(LedgerTest, OpensAVersion1FileAndDropsTheActionIndex) {
  Fixture f;
  {
    auto ledger = f.Open();
    for (int i = 1; i <= 6; ++i) ASSERT_TRUE(ledger->Append(MakeRecord(i)).ok());
  }
  // Make it a version 1 file: the action and time indexes back, no time
  // marks, user_version 1.
  testutil::RawSql(f.db,
                   "CREATE INDEX records_action ON records(action); "
                   "CREATE INDEX records_time ON records(time_ns); "
                   "DROP TABLE time_marks; PRAGMA user_version = 1");
  {
    // A reader of this build reads version 1 files as they are.
    auto reader = Reader::Open(f.db);
    ASSERT_TRUE(reader.ok()) << reader.status();
  }
  {
    auto ledger = f.Open();
    ASSERT_TRUE(ledger->Append(MakeRecord(7)).ok());
    ledger->Close();
  }
  store::DatabaseOptions o;
  o.path = f.db;
  o.read_only = true;
  auto db = store::Database::Open(o);
  ASSERT_TRUE(db.ok()) << db.status();
  EXPECT_EQ(*(*db)->UserVersion(), 3);
  auto st = (*db)->Prepare(
      "SELECT count(*) FROM sqlite_master WHERE type = 'index' AND "
      "name = 'records_action'");
  ASSERT_TRUE(st.ok());
  ASSERT_TRUE(*st->Step());
  EXPECT_EQ(st->ColumnInt64(0), 0);
  // Action filters still answer exactly (by scanning).
  const std::vector<Record> all = ReadAll(f.db);
  ASSERT_EQ(all.size(), 7u);
  auto reader = Reader::Open(f.db);
  ASSERT_TRUE(reader.ok());
  Filter filter;
  filter.action = all[2].action;
  filter.limit = 2;
  filter.last = true;
  std::vector<uint64_t> got;
  ASSERT_TRUE((*reader)
                  ->Query(filter,
                          [&](const Record& r) {
                            got.push_back(r.sequence);
                            return true;
                          })
                  .ok());
  std::vector<uint64_t> want;
  for (const Record& r : all)
    if (r.action == filter.action) want.push_back(r.sequence);
  if (want.size() > 2) want.erase(want.begin(), want.end() - 2);
  EXPECT_EQ(got, want);
  EXPECT_TRUE(MustVerify(f.db).ok);
}

TEST(LedgerTest, AppendFromAnIdleLedgerCommitsOnTheCallersThread) {
  Fixture f;
  auto ledger = f.Open();
  for (int i = 1; i <= 5; ++i) ASSERT_TRUE(ledger->Append(MakeRecord(i)).ok());
  LedgerStats st = ledger->stats();
  EXPECT_EQ(st.commits, 5u);
  EXPECT_EQ(st.led_by_caller, 5u);
  EXPECT_EQ(ledger->head().sequence, 5u);
}

}  // namespace
}  // namespace aikernel::audit
