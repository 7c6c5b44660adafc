// The episodic log: append, read by time range and kind, pagination.
#include "memory/memory_test_util.h"

namespace aikernel::memory::testing {
namespace {

using ::testing::HasSubstr;

class EventsTest : public MemoryTest {};

TEST_F(EventsTest, AppendAndReadByTimeAndKind) {
  MakeNs("agent/a");
  const int64_t t0 = now_.load();
  for (int i = 0; i < 10; ++i) {
    EventInput e;
    e.time_ns = t0 + i * kSecond;
    e.kind = i % 2 ? "tool" : "thought";
    e.payload = absl::StrCat("{\"i\": ", i, ", \"b\": [1, 2]}");
    auto r = mem_->AppendEvent("agent/a", e);
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(r->seq, i + 1);
    EXPECT_EQ(r->payload, absl::StrCat("{\"b\":[1,2],\"i\":", i, "}"));
  }
  EventQuery q;
  q.from_ns = t0 + 2 * kSecond;
  q.to_ns = t0 + 8 * kSecond;
  auto all = mem_->ReadEvents("agent/a", q);
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->events.size(), 6u);
  EXPECT_EQ(all->events.front().seq, 3);
  q.kinds = {"tool"};
  auto tools = mem_->ReadEvents("agent/a", q);
  ASSERT_TRUE(tools.ok());
  ASSERT_EQ(tools->events.size(), 3u);
  for (auto& e : tools->events) EXPECT_EQ(e.kind, "tool");

  // Pagination over everything, 3 at a time.
  EventQuery p;
  p.limit = 3;
  std::vector<int64_t> seqs;
  for (;;) {
    auto page = mem_->ReadEvents("agent/a", p);
    ASSERT_TRUE(page.ok());
    for (auto& e : page->events) seqs.push_back(e.seq);
    if (page->next_page_token.empty()) break;
    p.page_token = page->next_page_token;
  }
  EXPECT_EQ(seqs.size(), 10u);
  EXPECT_TRUE(std::is_sorted(seqs.begin(), seqs.end()));
}

TEST_F(EventsTest, TimeDefaultsToNowAndOrderIsByTime) {
  MakeNs("agent/a");
  EventInput late{now_.load() + 100, "k", "1", {}};
  EventInput early{now_.load() - 100, "k", "2", {}};
  ASSERT_TRUE(mem_->AppendEvent("agent/a", late).ok());
  ASSERT_TRUE(mem_->AppendEvent("agent/a", early).ok());
  auto d = mem_->AppendEvent("agent/a", {0, "k", "\"now\"", {}});
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->time_ns, now_.load());
  auto r = mem_->ReadEvents("agent/a", {});
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->events.size(), 3u);
  EXPECT_EQ(r->events[0].payload, "2");
  EXPECT_EQ(r->events[1].payload, "\"now\"");
}

TEST_F(EventsTest, RejectsBadInput) {
  MakeNs("agent/a");
  auto bad = mem_->AppendEvent("agent/a", {0, "k", "{not json", {}});
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(bad.status().message()), HasSubstr("payload"));
  auto nokind = mem_->AppendEvent("agent/a", {0, "", "1", {}});
  EXPECT_THAT(std::string(nokind.status().message()), HasSubstr("kind"));
  EventQuery q;
  q.page_token = "garbage";
  EXPECT_THAT(std::string(mem_->ReadEvents("agent/a", q).status().message()),
              HasSubstr("page_token"));
  EXPECT_EQ(mem_->ReadEvents("agent/zz", {}).status().code(),
            absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace aikernel::memory::testing
