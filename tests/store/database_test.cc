#include "store/database.h"

#include <gtest/gtest.h>

#include "store/test_temp_dir.h"

namespace aikernel::store {
namespace {

using testing::TempDir;

std::unique_ptr<Database> MustOpen(const std::string& path,
                                   Synchronous sync = Synchronous::kFull) {
  DatabaseOptions o;
  o.path = path;
  o.synchronous = sync;
  auto db = Database::Open(o);
  EXPECT_TRUE(db.ok()) << db.status();
  return db.ok() ? std::move(*db) : nullptr;
}

std::string PragmaText(Database& db, const std::string& pragma) {
  auto st = db.Prepare("PRAGMA " + pragma);
  EXPECT_TRUE(st.ok()) << st.status();
  auto row = st->Step();
  EXPECT_TRUE(row.ok() && *row);
  return std::string(st->ColumnText(0));
}

TEST(DatabaseTest, OpensInWalWithConfiguredSynchronous) {
  TempDir dir;
  auto db = MustOpen(dir.file("a.db"), Synchronous::kNormal);
  ASSERT_NE(db, nullptr);
  EXPECT_EQ(PragmaText(*db, "journal_mode"), "wal");
  EXPECT_EQ(PragmaText(*db, "synchronous"), "1");  // NORMAL
  EXPECT_EQ(PragmaText(*db, "busy_timeout"), "5000");
  auto full = MustOpen(dir.file("b.db"), Synchronous::kFull);
  EXPECT_EQ(PragmaText(*full, "synchronous"), "2");
}

TEST(DatabaseTest, StatementBindsStepsAndReadsColumns) {
  TempDir dir;
  auto db = MustOpen(dir.file("a.db"));
  ASSERT_TRUE(db->Exec("CREATE TABLE t(i INTEGER, s TEXT, b BLOB)").ok());
  auto ins = db->Prepare("INSERT INTO t VALUES (?1, ?2, ?3)");
  ASSERT_TRUE(ins.ok()) << ins.status();
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(ins->BindInt64(1, i).ok());
    ASSERT_TRUE(ins->BindText(2, "s" + std::to_string(i)).ok());
    std::string blob("\0\1\2", 3);
    ASSERT_TRUE(ins->BindBlob(3, blob).ok());
    ASSERT_TRUE(ins->Run().ok());
  }
  EXPECT_EQ(db->LastInsertRowId(), 3);
  auto sel = db->Prepare("SELECT i, s, b FROM t ORDER BY i");
  ASSERT_TRUE(sel.ok());
  int n = 0;
  for (;;) {
    auto row = sel->Step();
    ASSERT_TRUE(row.ok()) << row.status();
    if (!*row) break;
    EXPECT_EQ(sel->ColumnInt64(0), n);
    EXPECT_EQ(sel->ColumnText(1), "s" + std::to_string(n));
    EXPECT_EQ(sel->ColumnBlob(2), std::string("\0\1\2", 3));
    ++n;
  }
  EXPECT_EQ(n, 3);
}

TEST(DatabaseTest, ErrorsAreStatusesNamingSqlite) {
  TempDir dir;
  auto db = MustOpen(dir.file("a.db"));
  auto bad = db->Prepare("SELEKT 1");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("syntax error"),
            absl::string_view::npos)
      << bad.status();
  ASSERT_TRUE(db->Exec("CREATE TABLE u(k INTEGER PRIMARY KEY)").ok());
  ASSERT_TRUE(db->Exec("INSERT INTO u VALUES (1)").ok());
  Status dup = db->Exec("INSERT INTO u VALUES (1)");
  EXPECT_EQ(dup.code(), absl::StatusCode::kFailedPrecondition) << dup;
  EXPECT_NE(dup.message().find("UNIQUE"), absl::string_view::npos) << dup;
}

TEST(DatabaseTest, ReadOnlyNeverCreates) {
  TempDir dir;
  DatabaseOptions o;
  o.path = dir.file("missing.db");
  o.read_only = true;
  auto db = Database::Open(o);
  ASSERT_FALSE(db.ok());
  EXPECT_EQ(db.status().code(), absl::StatusCode::kUnavailable) << db.status();
}

TEST(DatabaseTest, MigrationsApplyInOrderAndOnlyOnce) {
  TempDir dir;
  Migrations m1 = {"CREATE TABLE a(x)", "CREATE TABLE b(y)"};
  {
    auto db = MustOpen(dir.file("m.db"));
    auto v = db->Migrate(m1);
    ASSERT_TRUE(v.ok()) << v.status();
    EXPECT_EQ(*v, 2);
  }
  {
    auto db = MustOpen(dir.file("m.db"));
    auto v = db->Migrate(m1);  // would fail if re-run (table exists)
    ASSERT_TRUE(v.ok()) << v.status();
    EXPECT_EQ(*v, 2);
    Migrations m2 = m1;
    m2.push_back("ALTER TABLE a ADD COLUMN z");
    v = db->Migrate(m2);
    ASSERT_TRUE(v.ok()) << v.status();
    EXPECT_EQ(*v, 3);
  }
  {
    auto db = MustOpen(dir.file("m.db"));
    auto v = db->Migrate(m1);  // file is newer than this "build"
    ASSERT_FALSE(v.ok());
    EXPECT_EQ(v.status().code(), absl::StatusCode::kFailedPrecondition);
    EXPECT_NE(v.status().message().find("newer"), absl::string_view::npos);
  }
}

TEST(DatabaseTest, FailedMigrationLeavesThePreviousVersion) {
  TempDir dir;
  auto db = MustOpen(dir.file("m.db"));
  Migrations m = {"CREATE TABLE a(x)", "CREATE TABLE c(q); CREATE TABLE a(x)"};
  auto v = db->Migrate(m);
  ASSERT_FALSE(v.ok());
  EXPECT_NE(v.status().message().find("version 2"), absl::string_view::npos)
      << v.status();
  auto uv = db->UserVersion();
  ASSERT_TRUE(uv.ok());
  EXPECT_EQ(*uv, 1);
  // Table c of the failed step was rolled back.
  EXPECT_FALSE(db->Exec("SELECT * FROM c").ok());
}

}  // namespace
}  // namespace aikernel::store
