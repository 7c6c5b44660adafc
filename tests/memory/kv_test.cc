// Namespaces and versioned key/value: put, get, versions, delete, list,
// history, compare-and-set (also raced from threads), batch atomicity.
#include <atomic>
#include <thread>

#include "memory/memory_test_util.h"

namespace aikernel::memory::testing {
namespace {

using ::testing::HasSubstr;

class KvTest : public MemoryTest {};

TEST_F(KvTest, NamespacesCreateListGetAndRejectBadNames) {
  MakeNs("agent/alpha");
  MakeNs("shared/team");
  MakeNs("agent/beta");
  auto dup = mem_->CreateNamespace({"agent/alpha"});
  EXPECT_EQ(dup.status().code(), absl::StatusCode::kFailedPrecondition);
  auto all = mem_->ListNamespaces("");
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 3u);
  EXPECT_EQ((*all)[0].name, "agent/alpha");
  auto agents = mem_->ListNamespaces("agent/");
  ASSERT_TRUE(agents.ok());
  EXPECT_EQ(agents->size(), 2u);
  for (const char* bad :
       {"alpha", "agent/", "agent/a b", "other/x", "shared/../x/y"}) {
    auto r = mem_->CreateNamespace({bad});
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_THAT(std::string(r.status().message()), HasSubstr("namespace"));
  }
  auto e = mem_->EnsureNamespace({"agent/alpha"});
  ASSERT_TRUE(e.ok());
  auto e2 = mem_->EnsureNamespace({"agent/gamma"});
  ASSERT_TRUE(e2.ok());
  EXPECT_EQ(e2->name, "agent/gamma");
  auto missing = mem_->Put("agent/nobody", "k", "v");
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(missing.status().message()),
              HasSubstr("agent/nobody"));
  ASSERT_TRUE(mem_->DropNamespace("agent/beta").ok());
  EXPECT_EQ(mem_->GetNamespace("agent/beta").status().code(),
            absl::StatusCode::kNotFound);
}

TEST_F(KvTest, PutGetVersionsDeleteHistory) {
  MakeNs("agent/a");
  auto v1 = mem_->Put("agent/a", "k", "one");
  ASSERT_TRUE(v1.ok()) << v1.status();
  EXPECT_EQ(v1->version, 1);
  Advance(kSecond);
  auto v2 = mem_->Put("agent/a", "k", std::string("two\0bytes", 9));
  ASSERT_TRUE(v2.ok());
  EXPECT_EQ(v2->version, 2);
  auto got = mem_->Get("agent/a", "k");
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->value, std::string("two\0bytes", 9));
  EXPECT_EQ(got->version, 2);
  auto old = mem_->Get("agent/a", "k", 1);
  ASSERT_TRUE(old.ok());
  EXPECT_EQ(old->value, "one");
  EXPECT_EQ(mem_->Get("agent/a", "k", 7).status().code(),
            absl::StatusCode::kNotFound);

  auto del = mem_->Delete("agent/a", "k");
  ASSERT_TRUE(del.ok());
  EXPECT_EQ(*del, 3);
  auto gone = mem_->Get("agent/a", "k");
  EXPECT_EQ(gone.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(gone.status().message()), HasSubstr("deleted"));
  EXPECT_EQ(mem_->Delete("agent/a", "k").status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_TRUE(mem_->Get("agent/a", "k", 2).ok());  // history kept

  auto h = mem_->History("agent/a", "k");
  ASSERT_TRUE(h.ok());
  ASSERT_EQ(h->size(), 3u);
  EXPECT_EQ((*h)[0].version, 3);
  EXPECT_TRUE((*h)[0].deleted);
  EXPECT_EQ((*h)[2].value, "one");

  auto again = mem_->Put("agent/a", "k", "back");
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->version, 4);  // versions never reused

  EXPECT_EQ(mem_->Put("agent/a", "", "x").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(mem_->Put("agent/a", "", "x").status().message()),
              HasSubstr("key"));
}

TEST_F(KvTest, ListByPrefixWithPagination) {
  MakeNs("agent/a");
  for (int i = 0; i < 25; ++i) {
    char k[16];
    snprintf(k, sizeof k, "notes/%02d", i);
    ASSERT_TRUE(mem_->Put("agent/a", k, std::to_string(i)).ok());
  }
  ASSERT_TRUE(mem_->Put("agent/a", "other", "x").ok());
  ASSERT_TRUE(mem_->Put("agent/a", "notes/05", "v2").ok());
  ASSERT_TRUE(mem_->Delete("agent/a", "notes/07").ok());
  std::vector<std::string> keys;
  ListOptions o;
  o.prefix = "notes/";
  o.limit = 10;
  for (;;) {
    auto page = mem_->List("agent/a", o);
    ASSERT_TRUE(page.ok()) << page.status();
    for (auto& e : page->entries) {
      keys.push_back(e.key);
      if (e.key == "notes/05") {
        EXPECT_EQ(e.value, "v2");
        EXPECT_EQ(e.version, 2);
      }
    }
    if (page->next_page_token.empty()) break;
    o.page_token = page->next_page_token;
  }
  ASSERT_EQ(keys.size(), 24u);  // 25 minus the deleted one
  EXPECT_EQ(keys.front(), "notes/00");
  EXPECT_EQ(keys.back(), "notes/24");
  EXPECT_TRUE(std::is_sorted(keys.begin(), keys.end()));
  EXPECT_EQ(std::find(keys.begin(), keys.end(), "notes/07"), keys.end());
}

TEST_F(KvTest, CompareAndSet) {
  MakeNs("agent/a");
  PutOptions create;
  create.expected_version = 0;
  ASSERT_TRUE(mem_->Put("agent/a", "k", "a", create).ok());
  auto again = mem_->Put("agent/a", "k", "b", create);
  EXPECT_EQ(again.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(again.status().message()), HasSubstr("current 1"));
  PutOptions at1;
  at1.expected_version = 1;
  ASSERT_TRUE(mem_->Put("agent/a", "k", "b", at1).ok());
  EXPECT_EQ(mem_->Put("agent/a", "k", "c", at1).status().code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(mem_->Delete("agent/a", "k", 1).status().code(),
            absl::StatusCode::kFailedPrecondition);
  ASSERT_TRUE(mem_->Delete("agent/a", "k", 2).ok());
  // After a delete, "must not exist" succeeds again.
  EXPECT_TRUE(mem_->Put("agent/a", "k", "d", create).ok());
}

TEST_F(KvTest, CasRaceHasExactlyOneWinner) {
  MakeNs("agent/a");
  ASSERT_TRUE(mem_->Put("agent/a", "counter", "0").ok());
  for (int round = 0; round < 5; ++round) {
    const int64_t current = mem_->Get("agent/a", "counter")->version;
    std::atomic<int> wins{0}, conflicts{0}, other{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 8; ++t) {
      threads.emplace_back([&, t] {
        PutOptions o;
        o.expected_version = current;
        auto r = mem_->Put("agent/a", "counter", "by " + std::to_string(t), o);
        if (r.ok()) {
          ++wins;
        } else if (r.status().code() == absl::StatusCode::kFailedPrecondition) {
          ++conflicts;
        } else {
          ++other;
        }
      });
    }
    for (auto& t : threads) t.join();
    EXPECT_EQ(wins.load(), 1);
    EXPECT_EQ(conflicts.load(), 7);
    EXPECT_EQ(other.load(), 0);
    EXPECT_EQ(mem_->Get("agent/a", "counter")->version, current + 1);
  }
}

TEST_F(KvTest, BatchIsAllOrNothing) {
  MakeNs("agent/a");
  ASSERT_TRUE(mem_->Put("agent/a", "x", "1").ok());
  std::vector<KvWrite> ok = {{"a", "1", {}}, {"b", "2", {}}, {"x", "2", {}}};
  ok[2].options.expected_version = 1;
  auto r = mem_->PutBatch("agent/a", ok);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(*r, (std::vector<int64_t>{1, 1, 2}));

  std::vector<KvWrite> bad = {{"c", "3", {}}, {"x", "3", {}}};
  bad[1].options.expected_version = 1;  // stale
  auto f = mem_->PutBatch("agent/a", bad);
  EXPECT_EQ(f.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(f.status().message()), HasSubstr("writes[1]"));
  EXPECT_EQ(mem_->Get("agent/a", "c").status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(mem_->Get("agent/a", "x")->value, "2");
  EXPECT_EQ(mem_->GetNamespace("agent/a")->used_records, 4);
}

TEST_F(KvTest, ReadsSeeAcknowledgedWritesAcrossReopen) {
  MakeNs("agent/a");
  ASSERT_TRUE(mem_->Put("agent/a", "k", "v").ok());
  Reopen();
  auto g = mem_->Get("agent/a", "k");
  ASSERT_TRUE(g.ok());
  EXPECT_EQ(g->value, "v");
  mem_->Close();
  EXPECT_EQ(mem_->Put("agent/a", "k", "w").status().code(),
            absl::StatusCode::kUnavailable);
}

}  // namespace
}  // namespace aikernel::memory::testing
