// mcp::SseParser: the event-stream framing MCP's streamable HTTP answers use.
#include "tools/mcp/sse.h"

#include <gtest/gtest.h>

namespace aikernel::tools::mcp {
namespace {

std::vector<std::string> FeedAll(SseParser& p, const std::vector<std::string>& chunks) {
  std::vector<std::string> events;
  for (const std::string& c : chunks) EXPECT_TRUE(p.Feed(c, &events).ok());
  return events;
}

TEST(SseParser, EventsSplitAnywhereAndEveryLineEnding) {
  SseParser p(1 << 20);
  auto ev = FeedAll(p, {"event: message\r", "\nid: 1\r\ndata: {\"a\"", ":1}\r\n\r", "\n",
                        "data: {\"b\":2}\n\n", "data: {\"c\":3}\r\r"});
  ASSERT_EQ(ev.size(), 3u);
  EXPECT_EQ(ev[0], R"({"a":1})");
  EXPECT_EQ(ev[1], R"({"b":2})");
  EXPECT_EQ(ev[2], R"({"c":3})");
}

TEST(SseParser, DataLinesJoinCommentsAndOtherEventsAreDropped) {
  SseParser p(1 << 20);
  auto ev = FeedAll(p, {": keep-alive\n\n", "data:one\ndata: two\n\n", "event: ping\ndata: x\n\n",
                        "id: 7\n\n", "data: incomplete"});
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0], "one\ntwo");
}

TEST(SseParser, AnEventLargerThanTheCapIsRefused) {
  SseParser p(64);
  std::vector<std::string> events;
  Status s = p.Feed("data: " + std::string(40, 'x') + "\n", &events);
  ASSERT_TRUE(s.ok());
  s = p.Feed("data: " + std::string(40, 'y') + "\n\n", &events);
  EXPECT_EQ(s.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_NE(std::string(s.message()).find("larger than 64 bytes"), std::string::npos) << s;
  EXPECT_TRUE(events.empty());
}

}  // namespace
}  // namespace aikernel::tools::mcp
