// A ledger written by the real daemon, then tampered with on disk after it
// stopped: `aictl audit verify` must name the damage.
#include <sqlite3.h>
#include <unistd.h>

#include <filesystem>

#include "integration/helpers.h"

namespace aikernel::testing {
namespace {

using nlohmann::json;

struct VerifyOutcome {
  CmdResult run;
  json report;
};

VerifyOutcome VerifyLedger(const std::string& db, const std::string& pubkey) {
  VerifyOutcome v;
  v.run = RunAictl({"--json", "audit", "verify", "--db", db, "--pubkey", pubkey});
  v.report = ParseJson(v.run.out);
  return v;
}

// Runs SQL on a copy of the ledger, as an attacker with write access would.
void Sql(const std::string& db, const std::string& sql) {
  sqlite3* h = nullptr;
  ASSERT_EQ(sqlite3_open(db.c_str(), &h), SQLITE_OK) << db;
  char* err = nullptr;
  int rc = sqlite3_exec(h, sql.c_str(), nullptr, nullptr, &err);
  EXPECT_EQ(rc, SQLITE_OK) << sql << ": " << (err ? err : "");
  sqlite3_free(err);
  ASSERT_EQ(sqlite3_close(h), SQLITE_OK);
}

uint64_t SqlScalar(const std::string& db, const std::string& sql) {
  sqlite3* h = nullptr;
  uint64_t v = 0;
  EXPECT_EQ(sqlite3_open_v2(db.c_str(), &h, SQLITE_OPEN_READONLY, nullptr), SQLITE_OK);
  sqlite3_stmt* st = nullptr;
  if (sqlite3_prepare_v2(h, sql.c_str(), -1, &st, nullptr) == SQLITE_OK &&
      sqlite3_step(st) == SQLITE_ROW) {
    v = static_cast<uint64_t>(sqlite3_column_int64(st, 0));
  } else {
    ADD_FAILURE() << sql << ": " << sqlite3_errmsg(h);
  }
  sqlite3_finalize(st);
  sqlite3_close(h);
  return v;
}

std::vector<size_t> FindAll(const std::string& hay, const std::string& needle) {
  std::vector<size_t> at;
  for (size_t p = hay.find(needle); p != std::string::npos; p = hay.find(needle, p + 1)) {
    at.push_back(p);
  }
  return at;
}

class Tamper : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_FAIL() << "must run as root (one call is made as uid 65534)";
    d_ = std::make_unique<DaemonProcess>(tmp_.path());
    d_->WriteConfig(DaemonConfig::With("socket_group = \"65534\"\n",
                                       "checkpoint_every_records = 5\ncheckpoint_every_ms = 86400000\n"));
    ASSERT_TRUE(d_->Start());
    auto c = ConnectTo(*d_);
    ASSERT_NE(c, nullptr);
    // Record 1 is the policy set loaded at start-up; records 2..30 pings.
    for (int i = 2; i <= 30; ++i) {
      auto p = c->Ping("tamper-ping-" + std::to_string(i));
      ASSERT_TRUE(p.ok()) << p.status().ToString();
      ASSERT_EQ(p->audit_sequence, static_cast<uint64_t>(i));
    }
    CmdResult r = AictlJson(*d_, {"whoami"}, {.as_nobody = true});  // record 31
    ASSERT_EQ(r.exit_code, 0) << r.Describe();
    nobody_seq_ = ParseJson(r.out)["audit_sequence"].get<uint64_t>();
    ASSERT_EQ(nobody_seq_, 31u);
    AuditFilter f;
    f.after_sequence = 16;
    f.limit = 1;
    auto recs = Query(*c, f);  // record 32
    ASSERT_EQ(recs.size(), 1u);
    digest17_ = recs[0].request_digest;
    ASSERT_EQ(digest17_.size(), 32u);
    c.reset();
    ASSERT_EQ(d_->Stop(), 0) << d_->Log();
    ASSERT_FALSE(std::filesystem::exists(d_->audit_db() + "-wal") &&
                 std::filesystem::file_size(d_->audit_db() + "-wal") > 0)
        << "a clean stop should leave no WAL to replay";
    head_ = SqlScalar(d_->audit_db(), "SELECT max(seq) FROM records");
    last_checkpoint_ = SqlScalar(d_->audit_db(), "SELECT max(seq) FROM checkpoints");
    ASSERT_EQ(head_, 32u);
    ASSERT_EQ(last_checkpoint_, head_) << "the final checkpoint covers the head";
    ASSERT_GE(SqlScalar(d_->audit_db(), "SELECT count(*) FROM checkpoints"), 6u);
  }

  // A fresh copy of the stopped daemon's ledger.
  std::string Copy(const std::string& name) {
    std::string path = tmp_.path() + "/" + name + ".db";
    std::filesystem::copy_file(d_->audit_db(), path,
                               std::filesystem::copy_options::overwrite_existing);
    return path;
  }

  TempDir tmp_;
  std::unique_ptr<DaemonProcess> d_;
  uint64_t nobody_seq_ = 0, head_ = 0, last_checkpoint_ = 0;
  std::string digest17_;
};

TEST_F(Tamper, UntouchedLedgerVerifies) {
  VerifyOutcome v = VerifyLedger(Copy("clean"), d_->pubkey());
  EXPECT_EQ(v.run.exit_code, 0) << v.run.Describe();
  EXPECT_EQ(v.report["ok"], true);
  EXPECT_EQ(v.report["records"], head_);
  EXPECT_EQ(v.report["head_sequence"], head_);
  EXPECT_GE(v.report["checkpoints"].get<uint64_t>(), 6u);
  // Also straight from the state dir (the default --db and key).
  CmdResult r = RunAictl({"audit", "verify", "--state-dir", d_->state_dir()});
  EXPECT_EQ(r.exit_code, 0) << r.Describe();
}

TEST_F(Tamper, OneFlippedByteInARecordsDigestNamesThatRecord) {
  std::string db = Copy("flip-digest");
  std::string bytes = ReadFile(db);
  std::vector<size_t> at = FindAll(bytes, digest17_);
  ASSERT_EQ(at.size(), 1u) << "record 17's request digest should occur once in the file";
  bytes[at[0] + 7] ^= 0x01;
  WriteFile(db, bytes);
  VerifyOutcome v = VerifyLedger(db, d_->pubkey());
  EXPECT_EQ(v.run.exit_code, 1) << v.run.Describe();
  EXPECT_EQ(v.report["ok"], false);
  EXPECT_EQ(v.report["first_bad_sequence"], 17) << v.run.Describe();
  EXPECT_NE(v.run.err.find("at sequence 17"), std::string::npos) << v.run.Describe();
}

TEST_F(Tamper, OneFlippedByteInAUniquePrincipalNamesThatRecord) {
  // "user:65534" is in record 31's row and (derived data) in the principal
  // index. Flip one byte of each copy in turn: the row's copy must be
  // detected naming record 31; no flip may be blamed on another record.
  std::string original = ReadFile(d_->audit_db());
  std::vector<size_t> at = FindAll(original, "user:65534");
  ASSERT_GE(at.size(), 1u);
  int detected = 0;
  for (size_t i = 0; i < at.size(); ++i) {
    std::string db = tmp_.path() + "/flip-principal-" + std::to_string(i) + ".db";
    std::string bytes = original;
    bytes[at[i] + 5] ^= 0x04;  // '6' -> '2': "user:25534"
    WriteFile(db, bytes);
    VerifyOutcome v = VerifyLedger(db, d_->pubkey());
    if (v.run.exit_code == 0) {
      std::printf("[note] flip %zu of %zu (file offset %zu) verifies: an index copy, not the "
                  "record\n", i + 1, at.size(), at[i]);
      continue;
    }
    EXPECT_EQ(v.run.exit_code, 1) << v.run.Describe();
    EXPECT_EQ(v.report["first_bad_sequence"], nobody_seq_) << v.run.Describe();
    EXPECT_NE(v.run.err.find("at sequence " + std::to_string(nobody_seq_)), std::string::npos)
        << v.run.Describe();
    ++detected;
  }
  EXPECT_EQ(detected, 1) << "exactly the record's own copy must fail verification";
}

TEST_F(Tamper, DeletedMiddleRecordIsReportedAsAGap) {
  std::string db = Copy("delete-13");
  Sql(db, "DROP TRIGGER records_no_delete; DELETE FROM records WHERE seq = 13;");
  VerifyOutcome v = VerifyLedger(db, d_->pubkey());
  EXPECT_EQ(v.run.exit_code, 1) << v.run.Describe();
  EXPECT_EQ(v.report["first_bad_sequence"], 13) << v.run.Describe();
  EXPECT_NE(v.run.err.find("13"), std::string::npos) << v.run.Describe();
  EXPECT_NE(v.run.err.find("missing"), std::string::npos) << v.run.Describe();
}

TEST_F(Tamper, DeletedRecordWithItsCheckpointStillReportsTheGap) {
  // Delete record 13 and the checkpoint that covers it (at 15): later
  // checkpoints and the sequence gap still give it away.
  std::string db = Copy("delete-13-cp");
  Sql(db,
      "DROP TRIGGER records_no_delete; DROP TRIGGER checkpoints_no_delete;"
      "DELETE FROM records WHERE seq = 13; DELETE FROM checkpoints WHERE seq = 15;");
  VerifyOutcome v = VerifyLedger(db, d_->pubkey());
  EXPECT_EQ(v.run.exit_code, 1) << v.run.Describe();
  EXPECT_EQ(v.report["first_bad_sequence"], 13) << v.run.Describe();
}

TEST_F(Tamper, TruncatedTailBelowTheLastCheckpointIsReported) {
  std::string db = Copy("truncate");
  uint64_t keep = last_checkpoint_ - 4;  // 28: records 29..32 removed
  Sql(db, "DROP TRIGGER records_no_delete; DELETE FROM records WHERE seq > " +
              std::to_string(keep) + ";");
  VerifyOutcome v = VerifyLedger(db, d_->pubkey());
  EXPECT_EQ(v.run.exit_code, 1) << v.run.Describe();
  EXPECT_EQ(v.report["first_bad_sequence"], keep + 1) << v.run.Describe();
  // Names the first checkpoint beyond the new tail (30 or 32, both signed).
  EXPECT_NE(v.run.err.find("checkpoint at sequence "), std::string::npos) << v.run.Describe();
  EXPECT_NE(v.run.err.find("were removed"), std::string::npos) << v.run.Describe();
}

TEST_F(Tamper, ForgedCheckpointSignatureIsReported) {
  std::string db = Copy("forge-cp");
  Sql(db,
      "DROP TRIGGER checkpoints_no_update;"
      "UPDATE checkpoints SET signature = zeroblob(64) WHERE seq = 10;");
  VerifyOutcome v = VerifyLedger(db, d_->pubkey());
  EXPECT_EQ(v.run.exit_code, 1) << v.run.Describe();
  EXPECT_EQ(v.report["first_bad_sequence"], 10) << v.run.Describe();
}

}  // namespace
}  // namespace aikernel::testing
