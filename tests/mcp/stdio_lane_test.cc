// StdioLane: the stdio pipes shared by the loop and callers' threads. The
// test holds the other ends of the pipes and plays the server.
#include "tools/mcp/stdio_lane.h"

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

namespace aikernel::tools::mcp {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

struct Pipes {
  UniqueFd lane_in, server_in;    // the server reads server_in
  UniqueFd lane_out, server_out;  // the server writes server_out
  Pipes() {
    int a[2], b[2];
    EXPECT_EQ(pipe2(a, O_CLOEXEC), 0);
    EXPECT_EQ(pipe2(b, O_CLOEXEC), 0);
    server_in.reset(a[0]);
    lane_in.reset(a[1]);
    lane_out.reset(b[0]);
    server_out.reset(b[1]);
  }
};

void WriteAll(int fd, const std::string& s) {
  size_t off = 0;
  while (off < s.size()) {
    ssize_t n = ::write(fd, s.data() + off, s.size() - off);
    ASSERT_GT(n, 0) << std::strerror(errno);
    off += static_cast<size_t>(n);
  }
}

// Reads lines from the server's stdin until EOF.
std::vector<std::string> ReadLines(int fd, size_t count) {
  std::vector<std::string> lines;
  std::string buf;
  char b[65536];
  while (lines.size() < count) {
    ssize_t n = ::read(fd, b, sizeof(b));
    if (n <= 0) break;
    buf.append(b, static_cast<size_t>(n));
    size_t nl;
    while ((nl = buf.find('\n')) != std::string::npos) {
      lines.push_back(buf.substr(0, nl));
      buf.erase(0, nl + 1);
    }
  }
  return lines;
}

// The lane's lines, collected; answers "<id> ..." are matched to waiters.
struct Collector {
  std::mutex mu;
  std::vector<std::string> lines;
  std::map<int, std::string> answers;
  std::vector<std::thread::id> readers;
  std::condition_variable cv;
  // True for an answer (a line starting with a positive id).
  bool On(std::string line) {
    std::lock_guard<std::mutex> l(mu);
    readers.push_back(std::this_thread::get_id());
    int id = std::atoi(line.c_str());
    if (id > 0) answers[id] = line;
    lines.push_back(std::move(line));
    cv.notify_all();
    return id > 0;
  }
  bool Has(int id) {
    std::lock_guard<std::mutex> l(mu);
    return answers.count(id) != 0;
  }
};

StdioLaneOptions Options(Collector* c, std::chrono::milliseconds idle_after = 200ms) {
  StdioLaneOptions o;
  o.max_line_bytes = 1 << 20;
  o.idle_after = idle_after;
  o.on_line = [c](std::string line) { return c->On(std::move(line)); };
  return o;
}

// The lane over `p`'s lane ends, started.
std::unique_ptr<StdioLane> StartLane(Pipes& p, StdioLaneOptions o) {
  auto lane = std::make_unique<StdioLane>(std::move(p.lane_in), std::move(p.lane_out), std::move(o));
  EXPECT_TRUE(lane->Start().ok());
  return lane;
}

TEST(StdioLaneTest, ACallerReadsItsOwnAnswerOnItsThread) {
  Pipes p;
  Collector c;
  auto lane_ptr = StartLane(p, Options(&c, 10s));
  StdioLane& lane = *lane_ptr;
  // The first exchange after a quiet spell may be read by the lane's
  // thread (it was reading), even before the caller is inside Await; having
  // delivered a caller's answer it steps back, and callers read the rest.
  for (int id : {1, 2, 3}) {
    ASSERT_TRUE(lane.Write(std::to_string(id) + " ask\n").ok());
    EXPECT_EQ(ReadLines(p.server_in.get(), 1),
              std::vector<std::string>{std::to_string(id) + " ask"});
    WriteAll(p.server_out.get(), std::to_string(id) + " answer\n");
    lane.Await([&] { return c.Has(id); }, Clock::now() + 5s);
    ASSERT_TRUE(c.Has(id));
  }
  std::lock_guard<std::mutex> l(c.mu);
  EXPECT_EQ(c.readers.at(1), std::this_thread::get_id());
  EXPECT_EQ(c.readers.at(2), std::this_thread::get_id());
  EXPECT_GE(lane.lines_read_by_callers(), 2u);
}

TEST(StdioLaneTest, ConcurrentCallersEachGetTheirAnswerWhateverTheOrder) {
  Pipes p;
  Collector c;
  auto lane_ptr = StartLane(p, Options(&c));
  StdioLane& lane = *lane_ptr;
  constexpr int kThreads = 8, kEach = 150;
  // The server answers in batches, newest first, so answers arrive out of
  // order and often for another caller than the one reading.
  std::thread server([&] {
    std::string buf;
    char b[4096];
    std::vector<std::string> batch;
    int answered = 0;
    while (answered < kThreads * kEach) {
      ssize_t n = ::read(p.server_in.get(), b, sizeof(b));
      ASSERT_GT(n, 0);
      buf.append(b, static_cast<size_t>(n));
      size_t nl;
      while ((nl = buf.find('\n')) != std::string::npos) {
        batch.push_back(buf.substr(0, nl));
        buf.erase(0, nl + 1);
      }
      std::string out;
      for (auto it = batch.rbegin(); it != batch.rend(); ++it) {
        out += std::to_string(std::atoi(it->c_str())) + " done\n";
      }
      answered += static_cast<int>(batch.size());
      batch.clear();
      WriteAll(p.server_out.get(), out);
    }
  });
  std::atomic<int> ok{0};
  std::vector<std::thread> callers;
  for (int t = 0; t < kThreads; ++t) {
    callers.emplace_back([&, t] {
      for (int i = 0; i < kEach; ++i) {
        int id = 1 + t * kEach + i;
        ASSERT_TRUE(lane.Write(std::to_string(id) + " ask\n").ok());
        lane.Await([&] { return c.Has(id); }, Clock::now() + 10s);
        if (c.Has(id)) ++ok;
      }
    });
  }
  for (auto& t : callers) t.join();
  server.join();
  EXPECT_EQ(ok.load(), kThreads * kEach);
  std::lock_guard<std::mutex> l(c.mu);
  EXPECT_EQ(c.lines.size(), static_cast<size_t>(kThreads * kEach));  // each line once
}

TEST(StdioLaneTest, WhatAFullPipeDoesNotTakeIsQueuedAndWrittenInOrder) {
  Pipes p;
  Collector c;
  auto lane_ptr = StartLane(p, Options(&c));
  StdioLane& lane = *lane_ptr;
  // 64 lines of 16 KiB: far more than a pipe holds, and nobody reads yet.
  std::string expect;
  for (int i = 0; i < 64; ++i) {
    std::string line = std::to_string(i) + " " + std::string(16384, 'a' + i % 26) + "\n";
    expect += line;
    auto t0 = Clock::now();
    ASSERT_TRUE(lane.Write(line).ok());
    EXPECT_LT(Clock::now() - t0, 1s);  // Write never waits for the reader
  }
  std::vector<std::string> got = ReadLines(p.server_in.get(), 64);
  std::string joined;
  for (auto& l : got) joined += l + "\n";
  EXPECT_EQ(joined, expect);
}

TEST(StdioLaneTest, AnOverlongLineIsReportedOnceAndEndsReading) {
  Pipes p;
  Collector c;
  std::mutex mu;
  std::vector<Status> errors;
  StdioLaneOptions o = Options(&c);
  o.max_line_bytes = 1000;
  o.on_error = [&](Status s) {
    std::lock_guard<std::mutex> l(mu);
    errors.push_back(s);
  };
  auto lane_ptr = StartLane(p, std::move(o));
  StdioLane& lane = *lane_ptr;
  WriteAll(p.server_out.get(), "1 fine\n" + std::string(5000, 'x') + "\n2 after\n");
  auto until = Clock::now() + 300ms;
  lane.Await([&] { return c.Has(2); }, until);
  EXPECT_GE(Clock::now(), until);  // the line after the cut is never read
  EXPECT_TRUE(c.Has(1));
  EXPECT_FALSE(c.Has(2));
  std::lock_guard<std::mutex> l(mu);
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].code(), absl::StatusCode::kResourceExhausted);
}

TEST(StdioLaneTest, CloseEndsAWaitingCallerAtOnce) {
  Pipes p;
  Collector c;
  auto lane_ptr = StartLane(p, Options(&c));
  StdioLane& lane = *lane_ptr;
  std::atomic<bool> returned{false};
  auto t0 = Clock::now();
  std::thread caller([&] {
    lane.Await([] { return false; }, Clock::now() + 30s);
    returned = true;
  });
  // Whether the caller is inside Await yet or not, it must not stay there.
  lane.Close();
  caller.join();
  EXPECT_TRUE(returned.load());
  EXPECT_LT(Clock::now() - t0, 5s);
  EXPECT_EQ(lane.Write("x\n").code(), absl::StatusCode::kUnavailable);
}

TEST(StdioLaneTest, AfterAQuietSpellTheLanesThreadReadsUnsolicitedLines) {
  Pipes p;
  Collector c;
  auto lane_ptr = StartLane(p, Options(&c, 20ms));
  StdioLane& lane = *lane_ptr;
  WriteAll(p.server_out.get(), "0 notification\n");
  // No caller awaits; the lane's thread picks it up once idle.
  std::unique_lock<std::mutex> l(c.mu);
  ASSERT_TRUE(c.cv.wait_for(l, 5s, [&] { return !c.lines.empty(); }))
      << "the lane's thread never read";
  EXPECT_EQ(c.lines[0], "0 notification");
  EXPECT_NE(c.readers[0], std::this_thread::get_id());
  EXPECT_EQ(lane.lines_read_by_callers(), 0u);
}

TEST(StdioLaneTest, AServerThatClosedStdinFailsWritesNamingIt) {
  Pipes p;
  Collector c;
  auto lane_ptr = StartLane(p, Options(&c));
  StdioLane& lane = *lane_ptr;
  p.server_in.reset();
  signal(SIGPIPE, SIG_IGN);
  Status s = lane.Write("1 ask\n");
  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable);
  EXPECT_NE(std::string(s.message()).find("stdin"), std::string::npos) << s;
}

}  // namespace
}  // namespace aikernel::tools::mcp
