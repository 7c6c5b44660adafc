// Helpers shared by the audit tests: records, a ledger in a temp dir, raw
// file tampering.
#pragma once

#include <gtest/gtest.h>

#include <fstream>
#include <iterator>
#include <string>

#include "audit/ledger.h"
#include "audit/record.h"
#include "identity/node_key.h"
#include "store/database.h"
#include "store/test_temp_dir.h"

namespace aikernel::audit::testutil {

inline Record MakeRecord(uint64_t i,
                         const std::string& principal_prefix = "agent") {
  Record r;
  r.time_ns = 1'700'000'000'000'000'000 + static_cast<int64_t>(i) * 1000;
  r.node = "node-a";
  r.principal = principal_prefix + "-" + std::to_string(i % 7);
  r.action = i % 3 == 0 ? "fs.read" : "tool.call";
  r.resource = "/data/file-" + std::to_string(i);
  for (size_t k = 0; k < r.request_digest.size(); ++k) {
    r.request_digest[k] = static_cast<uint8_t>(i + k);
  }
  r.decision = i % 4 == 0 ? Decision::kDeny : Decision::kAllow;
  r.rule_ids = {"policy-" + std::to_string(i % 5)};
  if (i % 2) r.rule_ids.push_back("p\"q\\r\n");
  r.code = i % 4 == 0 ? 7 : 0;
  r.latency_ns = static_cast<int64_t>(i * 10);
  return r;
}

// A node key and a ledger path in a fresh temp dir.
struct Fixture {
  testing::TempDir dir;
  std::unique_ptr<identity::NodeKey> key;
  std::string db;
  Fixture() {
    auto k = identity::NodeKey::LoadOrCreate(dir.file("keys"));
    EXPECT_TRUE(k.ok()) << k.status();
    key = std::move(*k);
    db = dir.file("audit.db");
  }
  LedgerOptions Options() const {
    LedgerOptions o;
    o.path = db;
    o.synchronous = Synchronous::kNormal;  // tests need not fsync
    // No time-based checkpoints: tests count checkpoints, whatever the load.
    o.checkpoint_every = std::chrono::hours(1);
    return o;
  }
  std::unique_ptr<Ledger> Open(LedgerOptions o) const {
    auto l = Ledger::Open(o, key.get());
    EXPECT_TRUE(l.ok()) << l.status();
    return l.ok() ? std::move(*l) : nullptr;
  }
  std::unique_ptr<Ledger> Open() const { return Open(Options()); }
};

inline std::string ReadFile(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(f)), {});
}
inline void WriteFile(const std::string& path, const std::string& data) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f << data;
}

// Flips one bit in every occurrence of `needle` in the file; returns how
// many were changed.
inline int FlipInFile(const std::string& path, const std::string& needle) {
  std::string data = ReadFile(path);
  int n = 0;
  for (size_t pos = data.find(needle); pos != std::string::npos;
       pos = data.find(needle, pos + 1)) {
    data[pos + needle.size() - 1] ^= 0x01;
    ++n;
  }
  WriteFile(path, data);
  return n;
}

// Runs SQL on the ledger file directly (an attacker with write access).
inline void RawSql(const std::string& path, const std::string& sql) {
  store::DatabaseOptions o;
  o.path = path;
  o.create = false;
  auto db = store::Database::Open(o);
  ASSERT_TRUE(db.ok()) << db.status();
  Status s = (*db)->Exec(sql);
  ASSERT_TRUE(s.ok()) << s;
}

inline void DropTriggers(const std::string& path) {
  RawSql(path,
         "DROP TRIGGER records_no_update; DROP TRIGGER records_no_delete;"
         "DROP TRIGGER checkpoints_no_update; DROP TRIGGER "
         "checkpoints_no_delete;");
}

}  // namespace aikernel::audit::testutil
