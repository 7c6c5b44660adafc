#include "audit/verify.h"

#include <gtest/gtest.h>

#include "audit/audit_test_util.h"

namespace aikernel::audit {
namespace {

using testutil::Fixture;
using testutil::MakeRecord;

// A closed ledger of `n` records with checkpoints every 100 (and a final one
// at n). Record `unique_at` has the principal "needle-principal-<i%7>".
void Build(const Fixture& f, uint64_t n, uint64_t unique_at = 0) {
  LedgerOptions o = f.Options();
  o.checkpoint_every_records = 100;
  o.checkpoint_every = std::chrono::hours(1);
  auto ledger = f.Open(o);
  ASSERT_NE(ledger, nullptr);
  std::vector<std::future<StatusOr<uint64_t>>> fs;
  for (uint64_t i = 1; i <= n; ++i) {
    fs.push_back(ledger->AppendAsync(
        MakeRecord(i, i == unique_at ? "needle-principal" : "agent")));
  }
  for (auto& fu : fs) ASSERT_TRUE(fu.get().ok());
  ledger->Close();
}

VerifyReport RunVerify(const std::string& db, const std::string& pem = "") {
  auto r = Verify({db, pem});
  EXPECT_TRUE(r.ok()) << r.status();
  return r.ok() ? *r : VerifyReport{};
}

TEST(VerifyTest, CleanLedgerVerifies) {
  Fixture f;
  Build(f, 350);
  VerifyReport v = RunVerify(f.db, f.key->PublicKeyPem());
  EXPECT_TRUE(v.ok) << v.error;
  EXPECT_EQ(v.records, 350u);
  EXPECT_EQ(v.checkpoints, 4u);  // 100, 200, 300, 350
  EXPECT_EQ(v.head_sequence, 350u);
  EXPECT_EQ(v.first_bad_sequence, 0u);
  EXPECT_FALSE(v.key_from_ledger);
}

TEST(VerifyTest, EmptyLedgerVerifies) {
  Fixture f;
  Build(f, 0);
  VerifyReport v = RunVerify(f.db);
  EXPECT_TRUE(v.ok) << v.error;
  EXPECT_EQ(v.records, 0u);
}

TEST(VerifyTest, LargeLedgerUsesSeveralRangesAndVerifies) {
  Fixture f;
  Build(f, 50'000, 31'337);
  VerifyReport v = RunVerify(f.db);
  EXPECT_TRUE(v.ok) << v.error;
  EXPECT_EQ(v.records, 50'000u);
  // And a fault deep in the second half is still found and named.
  ASSERT_GE(testutil::FlipInFile(
                f.db, "needle-principal-" + std::to_string(31'337 % 7)),
            1);
  v = RunVerify(f.db);
  EXPECT_FALSE(v.ok);
  EXPECT_EQ(v.first_bad_sequence, 31'337u) << v.error;
}

TEST(VerifyTest, FlippedByteInARecordIsNamed) {
  Fixture f;
  Build(f, 350, 123);
  ASSERT_GE(
      testutil::FlipInFile(f.db, "needle-principal-" + std::to_string(123 % 7)),
      1);
  VerifyReport v = RunVerify(f.db);
  EXPECT_FALSE(v.ok);
  EXPECT_EQ(v.first_bad_sequence, 123u) << v.error;
  EXPECT_NE(v.error.find("record 123"), std::string::npos) << v.error;
}

TEST(VerifyTest, DeletedRecordIsNamed) {
  Fixture f;
  Build(f, 350);
  testutil::DropTriggers(f.db);
  testutil::RawSql(f.db, "DELETE FROM records WHERE seq = 150");
  VerifyReport v = RunVerify(f.db);
  EXPECT_FALSE(v.ok);
  EXPECT_EQ(v.first_bad_sequence, 150u) << v.error;
  EXPECT_NE(v.error.find("150"), std::string::npos) << v.error;
}

TEST(VerifyTest, DeletedFirstRecordIsNamed) {
  Fixture f;
  Build(f, 50);
  testutil::DropTriggers(f.db);
  testutil::RawSql(f.db, "DELETE FROM records WHERE seq = 1");
  VerifyReport v = RunVerify(f.db);
  EXPECT_FALSE(v.ok);
  EXPECT_EQ(v.first_bad_sequence, 1u) << v.error;
}

TEST(VerifyTest, TruncatedTailBelowACheckpointIsNamed) {
  Fixture f;
  Build(f, 350);
  testutil::DropTriggers(f.db);
  testutil::RawSql(f.db, "DELETE FROM records WHERE seq > 250");
  VerifyReport v = RunVerify(f.db);
  EXPECT_FALSE(v.ok);
  EXPECT_EQ(v.first_bad_sequence, 251u) << v.error;
  EXPECT_NE(v.error.find("checkpoint at sequence 300"), std::string::npos)
      << v.error;
}

TEST(VerifyTest, RewrittenRecordWithRecomputedHashBreaksTheLink) {
  Fixture f;
  Build(f, 350);
  // An attacker rewrites record 42 and fixes up its own hash: record 43's
  // prev_hash no longer matches.
  Record r = MakeRecord(42);
  r.sequence = 42;
  r.principal = "someone-else";
  {
    store::DatabaseOptions o;
    o.path = f.db;
    auto db = store::Database::Open(o);
    ASSERT_TRUE(db.ok());
    auto st = (*db)->Prepare("SELECT prev_hash FROM records WHERE seq = 42");
    ASSERT_TRUE(st.ok());
    ASSERT_TRUE(*st->Step());
    std::string ph(st->ColumnBlob(0));
    std::copy(ph.begin(), ph.end(), r.prev_hash.begin());
  }
  Hash h = ComputeHash(r);
  testutil::DropTriggers(f.db);
  testutil::RawSql(f.db,
                   "UPDATE records SET principal = 'someone-else', hash = x'" +
                       ToHex(h) + "' WHERE seq = 42");
  VerifyReport v = RunVerify(f.db);
  EXPECT_FALSE(v.ok);
  EXPECT_EQ(v.first_bad_sequence, 43u) << v.error;
  EXPECT_NE(v.error.find("prev_hash"), std::string::npos) << v.error;
}

TEST(VerifyTest, BadCheckpointSignatureIsNamed) {
  Fixture f;
  Build(f, 350);
  testutil::DropTriggers(f.db);
  testutil::RawSql(f.db,
                   // Byte 11 changed, whatever it was (setting it to 0 was a
                   // no-op one run in 256).
                   "UPDATE checkpoints SET signature = substr(signature, 1, 10) || "
                   "CASE WHEN substr(signature, 11, 1) = x'00' THEN x'01' ELSE x'00' END || "
                   "substr(signature, 12) WHERE seq = 200");
  VerifyReport v = RunVerify(f.db);
  EXPECT_FALSE(v.ok);
  EXPECT_EQ(v.first_bad_sequence, 200u) << v.error;
  EXPECT_NE(v.error.find("signature"), std::string::npos) << v.error;
}

TEST(VerifyTest, CheckpointHeadNotMatchingTheRecordIsNamed) {
  Fixture f;
  Build(f, 350);
  testutil::DropTriggers(f.db);
  testutil::RawSql(
      f.db, "UPDATE checkpoints SET head_hash = zeroblob(32) WHERE seq = 300");
  VerifyReport v = RunVerify(f.db);
  EXPECT_FALSE(v.ok);
  EXPECT_EQ(v.first_bad_sequence, 300u) << v.error;
}

TEST(VerifyTest, WrongPublicKeyFails) {
  Fixture f;
  Build(f, 350);
  testing::TempDir other;
  auto key = identity::NodeKey::LoadOrCreate(other.path());
  ASSERT_TRUE(key.ok());
  VerifyReport v = RunVerify(f.db, (*key)->PublicKeyPem());
  EXPECT_FALSE(v.ok);
  EXPECT_FALSE(v.key_from_ledger);
  EXPECT_EQ(v.first_bad_sequence, 100u) << v.error;  // the first checkpoint
  EXPECT_NE(v.error.find((*key)->KeyId()), std::string::npos) << v.error;
}

TEST(VerifyTest, ForgedKeyIdStillNeedsTheSignature) {
  Fixture f;
  Build(f, 150);
  testing::TempDir other;
  auto key = identity::NodeKey::LoadOrCreate(other.path());
  ASSERT_TRUE(key.ok());
  testutil::DropTriggers(f.db);
  testutil::RawSql(f.db,
                   "UPDATE checkpoints SET key_id = '" + (*key)->KeyId() + "'");
  VerifyReport v = RunVerify(f.db, (*key)->PublicKeyPem());
  EXPECT_FALSE(v.ok);
  EXPECT_EQ(v.first_bad_sequence, 100u) << v.error;
  EXPECT_NE(v.error.find("signature"), std::string::npos) << v.error;
}

TEST(VerifyTest, NotALedger) {
  Fixture f;
  auto missing = Verify({f.dir.file("nope.db"), ""});
  EXPECT_FALSE(missing.ok());
  store::DatabaseOptions o;
  o.path = f.dir.file("x.db");
  auto db = store::Database::Open(o);
  ASSERT_TRUE(db.ok());
  ASSERT_TRUE((*db)->Exec("CREATE TABLE x(y)").ok());
  auto other = Verify({o.path, ""});
  ASSERT_FALSE(other.ok());
  EXPECT_EQ(other.status().code(), absl::StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace aikernel::audit
