// Time-range queries over the sparse time marks (schema version 3): exact
// whatever the order of time_ns, across mark boundaries and the unmarked
// tail; the migration from a version 2 file (records_time); a writer killed
// mid-append.
#include "audit/time_marks.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <set>

#include "audit/audit_test_util.h"
#include "audit/reader.h"
#include "audit/row.h"
#include "audit/verify.h"
#include "common/unique_fd.h"

namespace aikernel::audit {
namespace {

using testutil::Fixture;
using testutil::MakeRecord;

constexpr int64_t kBase = 1'700'000'000'000'000'000;

// time_ns not monotonic in seq: every 5th record arrives "late" (its time
// is below that of the 30 records before it), every 7th equals its
// predecessor's time, the rest climb.
int64_t TimeOf(uint64_t i) {
  int64_t t = kBase + static_cast<int64_t>(i) * 1000;
  if (i % 5 == 0) t -= 30'500;
  if (i % 7 == 0) t = kBase + static_cast<int64_t>(i - 1) * 1000;
  return t;
}

Record Rec(uint64_t i) {
  Record r = MakeRecord(i);
  r.time_ns = TimeOf(i);
  return r;
}

std::vector<Record> All(const std::string &db) {
  std::vector<Record> out;
  auto reader = Reader::Open(db);
  EXPECT_TRUE(reader.ok()) << reader.status();
  if (!reader.ok()) return out;
  EXPECT_TRUE((*reader)
                  ->Query({},
                          [&](const Record &r) {
                            out.push_back(r);
                            return true;
                          })
                  .ok());
  return out;
}

std::vector<uint64_t> Query(Reader &reader, const Filter &f) {
  std::vector<uint64_t> out;
  auto n = reader.Query(f, [&](const Record &r) {
    out.push_back(r.sequence);
    return true;
  });
  EXPECT_TRUE(n.ok()) << n.status();
  return out;
}

// What the filter must return, by brute force over every record.
std::vector<uint64_t> Expected(const std::vector<Record> &all,
                               const Filter &f) {
  std::vector<uint64_t> out;
  for (const Record &r : all) {
    if (f.since_ns && r.time_ns < *f.since_ns) continue;
    if (f.until_ns && r.time_ns >= *f.until_ns) continue;
    if (!f.principal.empty() && r.principal != f.principal) continue;
    if (r.sequence <= f.after_sequence) continue;
    if (f.before_sequence && r.sequence >= f.before_sequence) continue;
    out.push_back(r.sequence);
  }
  if (f.limit > 0 && out.size() > f.limit) {
    if (f.last) {
      out.erase(out.begin(), out.end() - static_cast<ptrdiff_t>(f.limit));
    } else {
      out.resize(f.limit);
    }
  }
  return out;
}

// Every since/until pair drawn from the records' times (each time, one
// below it, one above it, and none), alone and with limit/last/sequence
// bounds: the reader must agree with brute force. Returns the number of
// filters compared.
int ExpectExact(const std::string &db) {
  const std::vector<Record> all = All(db);
  std::set<int64_t> times;
  for (const Record &r : all) {
    times.insert(r.time_ns - 1);
    times.insert(r.time_ns);
    times.insert(r.time_ns + 1);
  }
  std::vector<std::optional<int64_t>> bounds = {std::nullopt};
  for (int64_t t : times) bounds.push_back(t);
  auto reader = Reader::Open(db);
  EXPECT_TRUE(reader.ok()) << reader.status();
  if (!reader.ok()) return 0;
  int compared = 0;
  for (size_t a = 0; a < bounds.size(); a += 2) {
    for (size_t b = 0; b < bounds.size(); b += 3) {
      Filter f;
      f.since_ns = bounds[a];
      f.until_ns = bounds[b];
      EXPECT_EQ(Query(**reader, f), Expected(all, f))
          << "since " << f.since_ns.value_or(-1) << " until "
          << f.until_ns.value_or(-1);
      ++compared;
      if ((a + b) % 11 == 0) {
        Filter g = f;
        g.limit = 4;
        EXPECT_EQ(Query(**reader, g), Expected(all, g));
        g.last = true;
        EXPECT_EQ(Query(**reader, g), Expected(all, g));
        g.principal = "agent-3";
        EXPECT_EQ(Query(**reader, g), Expected(all, g));
        Filter h = f;
        h.after_sequence = 17;
        h.before_sequence = 61;
        EXPECT_EQ(Query(**reader, h), Expected(all, h));
        compared += 4;
      }
    }
  }
  return compared;
}

LedgerOptions SmallBlocks(const Fixture &f) {
  LedgerOptions o = f.Options();
  o.checkpoint_every_records = 6;  // a mark every 6 records
  return o;
}

// Appends Rec(from..to), one Append() each.
void AppendRange(Ledger &ledger, uint64_t from, uint64_t to) {
  for (uint64_t i = from; i <= to; ++i) {
    ASSERT_TRUE(ledger.Append(Rec(i)).ok()) << i;
  }
}

// Appends Rec(1..n) with AppendAsync(), many records per commit.
void AppendPipelined(Ledger &ledger, uint64_t n) {
  std::vector<std::future<StatusOr<uint64_t>>> fs;
  for (uint64_t i = 1; i <= n; ++i) fs.push_back(ledger.AppendAsync(Rec(i)));
  for (auto &fu : fs) ASSERT_TRUE(fu.get().ok());
}

VerifyReport VerifyWithKey(const Fixture &f) {
  auto v = Verify({f.db, f.key->PublicKeyPem()});
  EXPECT_TRUE(v.ok()) << v.status();
  return v.ok() ? *v : VerifyReport{};
}

int64_t Count(const std::string &db, const std::string &sql) {
  store::DatabaseOptions o;
  o.path = db;
  o.read_only = true;
  auto d = store::Database::Open(o);
  EXPECT_TRUE(d.ok()) << d.status();
  if (!d.ok()) return -1;
  auto st = (*d)->Prepare(sql);
  EXPECT_TRUE(st.ok()) << st.status();
  if (!st.ok()) return -1;
  auto row = st->Step();
  return row.ok() && *row ? st->ColumnInt64(0) : -1;
}

TEST(TimeMarksTest, TimeRangesAreExactWithOutOfOrderTimes) {
  Fixture f;
  auto ledger = f.Open(SmallBlocks(f));
  ASSERT_NE(ledger, nullptr);
  AppendRange(*ledger, 1, 100);
  // 96 is marked (a checkpoint every 6); 97..100 are the unmarked tail,
  // and the ledger is live while it is read.
  EXPECT_EQ(Count(f.db, "SELECT max(last_seq) FROM time_marks"), 96);
  EXPECT_EQ(Count(f.db, "SELECT count(*) FROM time_marks"), 16);
  EXPECT_GT(ExpectExact(f.db), 5000);
  // The tail gets a mark when the ledger closes (its final checkpoint).
  ledger->Close();
  EXPECT_EQ(Count(f.db, "SELECT max(last_seq) FROM time_marks"), 100);
  ExpectExact(f.db);
}

TEST(TimeMarksTest, MarksNarrowTheScan) {
  Fixture f;
  {
    auto ledger = f.Open(SmallBlocks(f));
    ASSERT_NE(ledger, nullptr);
    AppendRange(*ledger, 1, 100);
  }
  store::DatabaseOptions o;
  o.path = f.db;
  o.read_only = true;
  auto db = store::Database::Open(o);
  ASSERT_TRUE(db.ok());
  // Record 50 is late (base + 19,500 ns). Records 1..20 are all older, but
  // marks fall every 6 records: the last mark whose running max is below
  // it is 18 (base + 18,000); mark 24's includes record 21 (base + 20,000).
  auto r = internal::SeqRangesFor(**db, true, TimeOf(50), std::nullopt);
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->size(), 1u);
  EXPECT_EQ((*r)[0].after, 18u);
  // Until record 41's time (base + 41,000): the newest older record is the
  // late record 65 (base + 34,500), in the block that ends at mark 66;
  // nothing after it is scanned but the tail after the newest mark (none
  // here: the ledger was closed, its final checkpoint marked 100).
  r = internal::SeqRangesFor(**db, true, std::nullopt, TimeOf(41));
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->size(), 2u);
  EXPECT_EQ((*r)[0].after, 0u);
  EXPECT_EQ((*r)[0].through, 66u);
  EXPECT_EQ((*r)[1].after, 100u);
  // No marks (a version 2 file): everything.
  r = internal::SeqRangesFor(**db, false, TimeOf(50), TimeOf(60));
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->size(), 1u);
  EXPECT_EQ((*r)[0].after, 0u);
}

TEST(TimeMarksTest, VerifyFindsAMarkThatHidesRecords) {
  Fixture f;
  {
    auto ledger = f.Open(SmallBlocks(f));
    ASSERT_NE(ledger, nullptr);
    AppendRange(*ledger, 1, 40);
  }
  ASSERT_TRUE(VerifyWithKey(f).ok) << VerifyWithKey(f).error;
  const std::string copy = testutil::ReadFile(f.db);
  // A raised minimum for block 19..24 would make a query skip its records.
  testutil::RawSql(f.db,
                   "UPDATE time_marks SET min_time_ns = min_time_ns + 1 "
                   "WHERE last_seq = 24");
  VerifyReport v = VerifyWithKey(f);
  EXPECT_FALSE(v.ok);
  EXPECT_EQ(v.first_bad_sequence, 19u);
  EXPECT_NE(v.error.find("time mark at sequence 24"), std::string::npos)
      << v.error;
  // A running max that falls back: mark 30 raised above mark 36 (base +
  // 36,000), every block still bounding its own records. The index search
  // for `since` needs the running max non-decreasing.
  testutil::WriteFile(f.db, copy);
  testutil::RawSql(f.db,
                   "UPDATE time_marks SET max_time_ns = max_time_ns + 10000 "
                   "WHERE last_seq = 30");
  v = VerifyWithKey(f);
  EXPECT_FALSE(v.ok);
  EXPECT_EQ(v.first_bad_sequence, 31u) << v.error;
}

TEST(TimeMarksTest, RareCheckpointsStillMarkEvery4096Records) {
  Fixture f;
  LedgerOptions o = f.Options();
  o.checkpoint_every_records = 1'000'000;  // and no timed one (an hour)
  auto ledger = f.Open(o);
  ASSERT_NE(ledger, nullptr);
  AppendPipelined(*ledger, 9000);
  EXPECT_EQ(Count(f.db, "SELECT count(*) FROM checkpoints"), 0);
  EXPECT_EQ(Count(f.db,
                  "SELECT group_concat(last_seq) = '4096,8192' FROM "
                  "time_marks"),
            1);
  // Windows across both marks and into the unmarked tail (8193..9000).
  const std::vector<Record> all = All(f.db);
  auto reader = Reader::Open(f.db);
  ASSERT_TRUE(reader.ok());
  for (uint64_t from : {1u, 4000u, 4090u, 4097u, 8150u, 8190u, 8500u}) {
    Filter q;
    q.since_ns = TimeOf(from);
    q.until_ns = TimeOf(from + 60);
    EXPECT_EQ(Query(**reader, q), Expected(all, q)) << from;
  }
}

// A version 2 file as the old code wrote it: the version 1 and 2 schema
// steps (records_time included), then the rows of a real ledger.
void MakeVersion2(const std::string &from, const std::string &to) {
  store::DatabaseOptions o;
  o.path = to;
  auto db = store::Database::Open(o);
  ASSERT_TRUE(db.ok()) << db.status();
  store::Migrations v2(internal::Schema().begin(),
                       internal::Schema().begin() + 2);
  auto v = (*db)->Migrate(v2);
  ASSERT_TRUE(v.ok()) << v.status();
  ASSERT_EQ(*v, 2);
  ASSERT_TRUE((*db)
                  ->Exec(absl::StrCat(
                      "ATTACH '", from,
                      "' AS src; BEGIN;"
                      "INSERT INTO records SELECT * FROM src.records;"
                      "INSERT INTO checkpoints SELECT * FROM src.checkpoints;"
                      "INSERT INTO meta SELECT * FROM src.meta "
                      "  WHERE key <> 'format';"
                      "COMMIT; DETACH src;"))
                  .ok());
}

TEST(TimeMarksTest, AVersion2FileMigratesAndStaysExact) {
  Fixture f;
  const std::string src = f.dir.file("src.db");
  {
    LedgerOptions o = f.Options();
    o.path = src;
    o.checkpoint_every_records = 1000;
    auto ledger = f.Open(o);
    ASSERT_NE(ledger, nullptr);
    AppendPipelined(*ledger, 2500);
  }
  MakeVersion2(src, f.db);
  ASSERT_EQ(Count(f.db, "PRAGMA user_version"), 2);
  ASSERT_EQ(Count(f.db,
                  "SELECT count(*) FROM sqlite_master WHERE name = "
                  "'records_time'"),
            1);
  ASSERT_EQ(Count(f.db, "SELECT count(*) FROM records"), 2500);
  {
    // This build's reader answers a version 2 file exactly (no marks).
    const std::vector<Record> all = All(f.db);
    auto reader = Reader::Open(f.db);
    ASSERT_TRUE(reader.ok()) << reader.status();
    Filter q;
    q.since_ns = TimeOf(1200);
    q.until_ns = TimeOf(1301);
    EXPECT_EQ(Query(**reader, q), Expected(all, q));
  }

  auto ledger = f.Open();
  ASSERT_NE(ledger, nullptr);
  EXPECT_EQ(Count(f.db, "PRAGMA user_version"), 3);
  EXPECT_EQ(Count(f.db,
                  "SELECT count(*) FROM sqlite_master WHERE name = "
                  "'records_time'"),
            0);
  // Blocks of 1024 over the existing rows: 1024, 2048, 2500.
  EXPECT_EQ(Count(f.db,
                  "SELECT group_concat(last_seq) = '1024,2048,2500' "
                  "FROM time_marks"),
            1);
  EXPECT_EQ(Count(f.db,
                  "SELECT max_time_ns FROM time_marks WHERE "
                  "last_seq = 2048"),
            Count(f.db, "SELECT max(time_ns) FROM records WHERE seq <= 2048"));
  EXPECT_EQ(Count(f.db,
                  "SELECT min_time_ns FROM time_marks WHERE "
                  "last_seq = 2048"),
            Count(f.db,
                  "SELECT min(time_ns) FROM records WHERE seq > 1024 "
                  "AND seq <= 2048"));
  // It goes on: the chain extends, and late records after the migration
  // are found by time.
  AppendRange(*ledger, 2501, 2530);
  const std::vector<Record> all = All(f.db);
  ASSERT_EQ(all.size(), 2530u);
  auto reader = Reader::Open(f.db);
  ASSERT_TRUE(reader.ok());
  for (uint64_t s : {1u, 1000u, 1024u, 1025u, 2048u, 2490u, 2500u, 2505u}) {
    for (uint64_t u : {1025u, 2049u, 2501u, 2520u, 2530u}) {
      Filter q;
      q.since_ns = TimeOf(s);
      q.until_ns = TimeOf(u);
      EXPECT_EQ(Query(**reader, q), Expected(all, q)) << s << ".." << u;
    }
  }
  ledger->Close();
  VerifyReport v = VerifyWithKey(f);
  EXPECT_TRUE(v.ok) << v.error;
  EXPECT_EQ(v.records, 2530u);
}

// A writer killed (SIGKILL) while appending loses no append it returned,
// and the reopened ledger goes on with exact time queries: marks stop at
// the last checkpoint and the tail after it is rebuilt from the rows.
TEST(TimeMarksTest, SigkillMidAppendLosesNothingCommitted) {
  Fixture f;
  int fds[2];
  ASSERT_EQ(pipe2(fds, O_CLOEXEC), 0);
  UniqueFd from_child(fds[0]), to_parent(fds[1]);
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    from_child.reset();
    LedgerOptions o = SmallBlocks(f);
    o.checkpoint_every_records = 16;
    auto ledger = Ledger::Open(o, f.key.get());
    if (!ledger.ok()) _exit(2);
    for (uint64_t i = 1;; ++i) {
      auto seq = (*ledger)->Append(Rec(i));
      if (!seq.ok()) _exit(3);
      uint64_t s = *seq;
      if (write(to_parent.get(), &s, sizeof s) != sizeof s) _exit(4);
    }
  }
  to_parent.reset();
  uint64_t acked = 0, s = 0;
  while (acked < 500 && read(from_child.get(), &s, sizeof s) == sizeof s) acked = s;
  ASSERT_EQ(kill(child, SIGKILL), 0);
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFSIGNALED(status)) << "child exited " << status;
  while (read(from_child.get(), &s, sizeof s) == sizeof s) acked = s;
  from_child.reset();
  ASSERT_GE(acked, 500u);

  std::vector<Record> all = All(f.db);
  ASSERT_GE(all.size(), acked);  // nothing acknowledged was lost
  const uint64_t after_kill = all.size();
  EXPECT_TRUE(VerifyWithKey(f).ok) << VerifyWithKey(f).error;
  auto ledger = f.Open(SmallBlocks(f));
  ASSERT_NE(ledger, nullptr);
  EXPECT_EQ(ledger->head().sequence, after_kill);
  AppendRange(*ledger, after_kill + 1, after_kill + 40);
  all = All(f.db);
  ASSERT_EQ(all.size(), after_kill + 40);
  auto reader = Reader::Open(f.db);
  ASSERT_TRUE(reader.ok());
  // Windows around the kill point and the marks on both sides of it.
  for (uint64_t from = after_kill - 60; from <= after_kill + 30; from += 3) {
    Filter q;
    q.since_ns = TimeOf(from);
    q.until_ns = TimeOf(from + 25);
    EXPECT_EQ(Query(**reader, q), Expected(all, q)) << from;
    q.until_ns.reset();
    EXPECT_EQ(Query(**reader, q), Expected(all, q)) << from;
  }
}

}  // namespace
}  // namespace aikernel::audit
