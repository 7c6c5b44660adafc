#include "audit/reader.h"

#include <gtest/gtest.h>

#include "audit/audit_test_util.h"

namespace aikernel::audit {
namespace {

using testutil::Fixture;
using testutil::MakeRecord;

class ReaderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto ledger = f_.Open();
    ASSERT_NE(ledger, nullptr);
    for (uint64_t i = 1; i <= 100; ++i)
      ASSERT_TRUE(ledger->Append(MakeRecord(i)).ok());
    // Keep the ledger open: readers must work beside a live writer.
    ledger_ = std::move(ledger);
    auto r = Reader::Open(f_.db);
    ASSERT_TRUE(r.ok()) << r.status();
    reader_ = std::move(*r);
  }
  std::vector<uint64_t> Seqs(const Filter& filter) {
    std::vector<uint64_t> out;
    auto n = reader_->Query(filter, [&](const Record& r) {
      out.push_back(r.sequence);
      return true;
    });
    EXPECT_TRUE(n.ok()) << n.status();
    EXPECT_EQ(*n, out.size());
    return out;
  }
  Fixture f_;
  std::unique_ptr<Ledger> ledger_;
  std::unique_ptr<Reader> reader_;
};

TEST_F(ReaderTest, NoFilterReturnsAllInOrder) {
  auto s = Seqs({});
  ASSERT_EQ(s.size(), 100u);
  for (size_t i = 0; i < s.size(); ++i) EXPECT_EQ(s[i], i + 1);
}

TEST_F(ReaderTest, FiltersCombine) {
  Filter f;
  f.principal = "agent-3";  // i % 7 == 3
  for (uint64_t s : Seqs(f)) EXPECT_EQ(s % 7, 3u);
  EXPECT_EQ(Seqs(f).size(), 14u);
  f.action = "fs.read";  // i % 3 == 0
  for (uint64_t s : Seqs(f)) EXPECT_EQ(s % 21, 3u);
  f.decision = Decision::kDeny;  // i % 4 == 0
  EXPECT_EQ(Seqs(f), (std::vector<uint64_t>{24}));

  Filter t;
  t.since_ns = MakeRecord(10).time_ns;
  t.until_ns = MakeRecord(20).time_ns;
  auto s = Seqs(t);
  ASSERT_EQ(s.size(), 10u);
  EXPECT_EQ(s.front(), 10u);
  EXPECT_EQ(s.back(), 19u);

  Filter a;
  a.after_sequence = 95;
  EXPECT_EQ(Seqs(a), (std::vector<uint64_t>{96, 97, 98, 99, 100}));
}

TEST_F(ReaderTest, LimitAndLast) {
  Filter f;
  f.limit = 3;
  EXPECT_EQ(Seqs(f), (std::vector<uint64_t>{1, 2, 3}));
  f.last = true;
  EXPECT_EQ(Seqs(f), (std::vector<uint64_t>{98, 99, 100}));
  f.principal = "agent-0";
  EXPECT_EQ(Seqs(f), (std::vector<uint64_t>{84, 91, 98}));
}

TEST_F(ReaderTest, CallbackStopsTheWalk) {
  uint64_t calls = 0;
  auto n = reader_->Query({}, [&](const Record&) { return ++calls < 5; });
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(*n, 5u);
}

TEST_F(ReaderTest, RecordsRoundTrip) {
  Filter f;
  f.after_sequence = 6;
  f.limit = 1;
  reader_
      ->Query(f,
              [&](const Record& r) {
                Record want = MakeRecord(7);
                EXPECT_EQ(r.sequence, 7u);
                EXPECT_EQ(r.time_ns, want.time_ns);
                EXPECT_EQ(r.node, want.node);
                EXPECT_EQ(r.principal, want.principal);
                EXPECT_EQ(r.action, want.action);
                EXPECT_EQ(r.resource, want.resource);
                EXPECT_EQ(r.request_digest, want.request_digest);
                EXPECT_EQ(r.decision, want.decision);
                EXPECT_EQ(r.rule_ids, want.rule_ids);
                EXPECT_EQ(r.code, want.code);
                EXPECT_EQ(r.latency_ns, want.latency_ns);
                EXPECT_EQ(r.hash, ComputeHash(r));
                return true;
              })
      .IgnoreError();
}

TEST(ReaderOpenTest, RefusesAMissingFile) {
  testing::TempDir dir;
  EXPECT_FALSE(Reader::Open(dir.file("none.db")).ok());
}

}  // namespace
}  // namespace aikernel::audit
