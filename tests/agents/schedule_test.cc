#include "agents/schedule.h"

#include <gtest/gtest.h>

namespace aikernel::agents {
namespace {

constexpr int64_t kSec = 1'000'000'000;

std::vector<std::string> Names(const RunQueue& q, int64_t now) {
  std::vector<std::string> out;
  for (const auto& e : q.Ordered(now)) out.push_back(e.name);
  return out;
}

TEST(RunQueueTest, HigherPriorityFirstThenFifo) {
  RunQueue q(10 * kSec);
  q.Push("low", 10, 1, 0);
  q.Push("high", 90, 1, 0);
  q.Push("mid-1", 50, 1, 0);
  q.Push("mid-2", 50, 1, 0);
  EXPECT_EQ(Names(q, 0), (std::vector<std::string>{"high", "mid-1", "mid-2", "low"}));
  EXPECT_EQ(q.Position("mid-2", 0), 3u);
  EXPECT_EQ(q.Position("absent", 0), 0u);
}

TEST(RunQueueTest, AgingPutsALongWaiterAheadOfLaterHigherPriorities) {
  // Every entry ages at the same rate, so what aging changes is how an old
  // entry compares with newer ones: priority 10 that has waited 40 s ranks
  // with a fresh priority 50.
  RunQueue q(1 * kSec);
  q.Push("old-low", 10, 1, 0);
  q.Push("new-high", 50, 1, 30 * kSec);  // 10 s of waiting short: ahead
  EXPECT_EQ(Names(q, 30 * kSec), (std::vector<std::string>{"new-high", "old-low"}));
  q.Push("newer-high", 50, 1, 45 * kSec);  // 5 s too late: behind old-low
  EXPECT_EQ(Names(q, 45 * kSec), (std::vector<std::string>{"new-high", "old-low", "newer-high"}));
  EXPECT_EQ(EffectivePriority(10, 0, 45 * kSec, kSec), 55);
  EXPECT_EQ(EffectivePriority(10, 0, 45 * kSec, 0), 10);  // no aging
}

TEST(RunQueueTest, NeverStarvedByAStreamOfNewcomers) {
  // Each second a fresh priority-100 entry arrives and the head is taken.
  RunQueue q(1 * kSec);
  q.Push("starving", 0, 1, 0);
  int64_t now = 0;
  int rounds = 0;
  for (; rounds < 1000; ++rounds) {
    now += kSec;
    q.Push("newcomer-" + std::to_string(rounds), 100, 1, now);
    auto e = q.PopIf(now, [](const RunQueue::Entry&) { return true; });
    ASSERT_TRUE(e.has_value());
    if (e->name == "starving") break;
  }
  EXPECT_LE(rounds, 101) << "priority 0 waited behind " << rounds << " newcomers";
}

TEST(RunQueueTest, PopIfNeverSkipsTheHead) {
  RunQueue q(10 * kSec);
  q.Push("big", 90, 1000, 0);
  q.Push("small", 10, 1, 0);
  auto e = q.PopIf(0, [](const RunQueue::Entry& e) { return e.memory_bytes < 100; });
  EXPECT_FALSE(e.has_value());
  EXPECT_EQ(q.size(), 2u);
  e = q.PopIf(0, [](const RunQueue::Entry&) { return true; });
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->name, "big");
}

TEST(RunQueueTest, PushReplacesAndRemoveForgets) {
  RunQueue q(kSec);
  q.Push("a", 1, 1, 0);
  q.Push("a", 2, 1, 0);
  EXPECT_EQ(q.size(), 1u);
  EXPECT_TRUE(q.Remove("a"));
  EXPECT_FALSE(q.Remove("a"));
  EXPECT_FALSE(q.Contains("a"));
}

TEST(BackoffTest, DoublesUpToTheCap) {
  EXPECT_EQ(BackoffMs(500, 30000, 0), 500);
  EXPECT_EQ(BackoffMs(500, 30000, 1), 1000);
  EXPECT_EQ(BackoffMs(500, 30000, 5), 16000);
  EXPECT_EQ(BackoffMs(500, 30000, 6), 30000);
  EXPECT_EQ(BackoffMs(500, 30000, 1000), 30000);  // no overflow
  EXPECT_EQ(BackoffMs(100, 100, 3), 100);
  EXPECT_EQ(BackoffMs(100, 1000, -1), 100);
}

TEST(CrashLoopTest, MoreThanMaxWithinTheWindowIsALoop) {
  CrashLoopWindow w;
  EXPECT_TRUE(w.Record(0, 2, 10 * kSec));
  EXPECT_TRUE(w.Record(1 * kSec, 2, 10 * kSec));
  EXPECT_FALSE(w.Record(2 * kSec, 2, 10 * kSec));
}

TEST(CrashLoopTest, OldRestartsLeaveTheWindow) {
  CrashLoopWindow w;
  EXPECT_TRUE(w.Record(0, 2, 10 * kSec));
  EXPECT_TRUE(w.Record(1 * kSec, 2, 10 * kSec));
  EXPECT_TRUE(w.Record(10 * kSec + kSec / 2, 2, 10 * kSec));  // the first one expired
  EXPECT_EQ(w.count(), 2u);
}

TEST(CrashLoopTest, ZeroRestartsAllowedFailsAtOnce) {
  CrashLoopWindow w;
  EXPECT_FALSE(w.Record(0, 0, 10 * kSec));
}

}  // namespace
}  // namespace aikernel::agents
