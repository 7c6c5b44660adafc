// TTL (with an injected clock, no sleeps), purge, quotas, compaction.
#include "memory/memory_test_util.h"

namespace aikernel::memory::testing {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;

class MaintenanceTest : public MemoryTest {};

TEST_F(MaintenanceTest, TtlHidesAtOnceAndPurgeRemoves) {
  MakeNs("agent/a", 2);
  PutOptions ttl;
  ttl.ttl = std::chrono::seconds(10);
  ASSERT_TRUE(mem_->Put("agent/a", "k", "v1").ok());
  ASSERT_TRUE(mem_->Put("agent/a", "k", "v2", ttl).ok());
  ASSERT_TRUE(mem_->Put("agent/a", "t", "x", ttl).ok());
  ASSERT_TRUE(
      mem_->AppendEvent("agent/a", {0, "k", "1", std::chrono::seconds(10)})
          .ok());
  ASSERT_TRUE(mem_->AppendEvent("agent/a", {0, "k", "2", {}}).ok());
  DocumentInput d{.id = "d",
                  .text = "ephemeral note",
                  .embedding = {1, 0},
                  .ttl = std::chrono::seconds(10)};
  ASSERT_TRUE(mem_->PutDocument("agent/a", d).ok());
  EXPECT_EQ(mem_->Get("agent/a", "k")->value, "v2");
  EXPECT_EQ(mem_->Search("agent/a", {.embedding = {1, 0}})->size(), 1u);

  Advance(10 * kSecond);  // exactly at expiry: gone
  auto k = mem_->Get("agent/a", "k");
  EXPECT_EQ(k.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(k.status().message()), HasSubstr("expired"));
  EXPECT_EQ(mem_->Get("agent/a", "k", 1)->value, "v1");
  EXPECT_EQ(mem_->History("agent/a", "k")->size(), 1u);
  EXPECT_EQ(mem_->List("agent/a", {})->entries.size(), 0u);
  EXPECT_EQ(mem_->ReadEvents("agent/a", {})->events.size(), 1u);
  EXPECT_EQ(mem_->GetDocument("agent/a", "d").status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(mem_->Search("agent/a", {.text = "ephemeral"})->size(), 0u);
  EXPECT_EQ(mem_->Search("agent/a", {.embedding = {1, 0}})->size(), 0u);
  // An expired key counts as absent for compare-and-set.
  PutOptions create;
  create.expected_version = 0;
  EXPECT_TRUE(mem_->Put("agent/a", "t", "new", create).ok());

  const auto before = *mem_->GetNamespace("agent/a");
  auto p = mem_->PurgeExpired();
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->kv_versions, 2);
  EXPECT_EQ(p->events, 1);
  EXPECT_EQ(p->documents, 1);
  EXPECT_FALSE(p->more);
  const auto after = *mem_->GetNamespace("agent/a");
  EXPECT_EQ(after.used_records, before.used_records - 4);
  EXPECT_LT(after.used_bytes, before.used_bytes);
  // Version numbers continue after a purge.
  EXPECT_EQ(mem_->Put("agent/a", "k", "v4")->version, 3);
}

TEST_F(MaintenanceTest, IdleHookPurges) {
  auto o = Options();
  o.purge_interval = std::chrono::milliseconds(5);
  Reopen(o);
  MakeNs("agent/a");
  PutOptions ttl;
  ttl.ttl = std::chrono::seconds(1);
  ASSERT_TRUE(mem_->Put("agent/a", "k", "v", ttl).ok());
  Advance(2 * kSecond);
  // The writer runs the purge on its own once idle; wait for its effect.
  for (int i = 0; i < 2000 && mem_->GetNamespace("agent/a")->used_records > 0;
       ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  EXPECT_EQ(mem_->GetNamespace("agent/a")->used_records, 0);
}

TEST_F(MaintenanceTest, PurgeRunsUnderConstantWrites) {
  auto o = Options();
  o.purge_interval = std::chrono::milliseconds(20);
  Reopen(o);
  MakeNs("agent/a");
  PutOptions ttl;
  ttl.ttl = std::chrono::seconds(1);
  ASSERT_TRUE(mem_->Put("agent/a", "old", "v", ttl).ok());
  Advance(2 * kSecond);
  // Keep the writer busy: the purge rides along in a batch's transaction.
  bool purged = false;
  for (int i = 0; i < 5000 && !purged; ++i) {
    ASSERT_TRUE(mem_->Put("agent/a", "busy", std::to_string(i)).ok());
    purged = mem_->GetNamespace("agent/a")->used_records == i + 1;
  }
  EXPECT_TRUE(purged);
}

TEST_F(MaintenanceTest, QuotasRefuseWithNamespaceLimitAndUsage) {
  MakeNs("agent/small", 0, /*max_bytes=*/100, /*max_records=*/3);
  ASSERT_TRUE(mem_->Put("agent/small", "a", "1234567890").ok());
  ASSERT_TRUE(mem_->Put("agent/small", "b", "x").ok());
  auto big = mem_->Put("agent/small", "c", std::string(200, 'x'));
  EXPECT_EQ(big.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(std::string(big.status().message()),
              AllOf(HasSubstr("agent/small"), HasSubstr("limit 100"),
                    HasSubstr("used 13")));
  ASSERT_TRUE(mem_->Put("agent/small", "c", "y").ok());
  auto fourth = mem_->AppendEvent("agent/small", {0, "k", "1", {}});
  EXPECT_EQ(fourth.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(std::string(fourth.status().message()),
              AllOf(HasSubstr("record quota"), HasSubstr("limit 3"),
                    HasSubstr("used 3")));
  auto info = mem_->GetNamespace("agent/small");
  EXPECT_EQ(info->used_records, 3);
  EXPECT_EQ(info->used_bytes, 15);
  // Raising the limit lets writes through again.
  ASSERT_TRUE(mem_->SetQuota("agent/small", 100, 10).ok());
  EXPECT_TRUE(mem_->AppendEvent("agent/small", {0, "k", "1", {}}).ok());
  // Documents: replacing adjusts bytes, deleting frees.
  MakeNs("agent/docs", 0, 50, 0);
  DocumentInput d{.id = "d", .text = std::string(30, 'a')};
  ASSERT_TRUE(mem_->PutDocument("agent/docs", d).ok());
  d.text = std::string(60, 'a');
  EXPECT_EQ(mem_->PutDocument("agent/docs", d).status().code(),
            absl::StatusCode::kResourceExhausted);
  d.text = std::string(40, 'a');
  EXPECT_TRUE(mem_->PutDocument("agent/docs", d).ok());
  EXPECT_EQ(mem_->GetNamespace("agent/docs")->used_bytes, 1 + 40 + 2);
}

TEST_F(MaintenanceTest, CompactionDropsOldSupersededVersions) {
  MakeNs("agent/a");
  ASSERT_TRUE(mem_->Put("agent/a", "k", "v1").ok());
  ASSERT_TRUE(mem_->Put("agent/a", "k", "v2").ok());
  ASSERT_TRUE(mem_->Put("agent/a", "gone", "x").ok());
  ASSERT_TRUE(mem_->Delete("agent/a", "gone").ok());
  Advance(100 * kSecond);
  ASSERT_TRUE(mem_->Put("agent/a", "k", "v3").ok());  // recent, head
  auto c = mem_->Compact("agent/a", std::chrono::seconds(50));
  ASSERT_TRUE(c.ok()) << c.status();
  // k v1, k v2 (superseded, old); gone v1 (superseded) and its tombstone.
  EXPECT_EQ(c->versions_dropped, 4);
  auto h = mem_->History("agent/a", "k");
  ASSERT_TRUE(h.ok());
  ASSERT_EQ(h->size(), 1u);
  EXPECT_EQ((*h)[0].value, "v3");
  EXPECT_EQ(mem_->Get("agent/a", "k", 1).status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(mem_->GetNamespace("agent/a")->used_records, 1);
  // Versions are never reused after compaction.
  EXPECT_EQ(mem_->Put("agent/a", "gone", "back")->version, 3);
}

}  // namespace
}  // namespace aikernel::memory::testing
