// mcp::SseParser: the event-stream framing MCP's streamable HTTP answers use.
#include "tools/mcp/sse.h"

#include <gtest/gtest.h>

namespace aikernel::tools::mcp {
namespace {

std::vector<SseEvent> FeedAll(SseParser& p, const std::vector<std::string>& chunks) {
  std::vector<SseEvent> events;
  for (const std::string& c : chunks) EXPECT_TRUE(p.Feed(c, &events).ok());
  return events;
}

TEST(SseParser, EventsSplitAnywhereAndEveryLineEnding) {
  SseParser p(1 << 20);
  auto ev = FeedAll(p, {"event: message\r", "\nid: 1\r\ndata: {\"a\"", ":1}\r\n\r", "\n",
                        "data: {\"b\":2}\n\n", "data: {\"c\":3}\r\r"});
  ASSERT_EQ(ev.size(), 3u);
  EXPECT_EQ(ev[0].data, R"({"a":1})");
  EXPECT_EQ(ev[1].data, R"({"b":2})");
  EXPECT_EQ(ev[2].data, R"({"c":3})");
}

TEST(SseParser, DataLinesJoinCommentsAndOtherEventsAreDropped) {
  SseParser p(1 << 20);
  auto ev = FeedAll(p, {": keep-alive\n\n", "data:one\ndata: two\n\n", "event: ping\ndata: x\n\n",
                        "data: incomplete"});
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].data, "one\ntwo");
  EXPECT_EQ(ev[0].id, "");
}

TEST(SseParser, TheLastEventIdCarriesOverAndAPrimingEventMovesItAlone) {
  SseParser p(1 << 20);
  std::string nul_id = "id: c";
  nul_id += '\0';
  nul_id += "d\ndata: {\"z\":3}\n\n";
  auto ev = FeedAll(p, {"id: a1\ndata: \n\n",           // priming: id, empty data
                        "data: {\"x\":1}\n\n",           // no id field: keeps a1
                        "id: b2\nretry: 250\ndata: {\"y\":2}\n\n", "id: b2\n\n",
                        nul_id});  // an id with NUL: ignored
  ASSERT_EQ(ev.size(), 4u);
  EXPECT_EQ(ev[0].id, "a1");
  EXPECT_EQ(ev[0].data, "");
  EXPECT_EQ(ev[1].id, "a1");
  EXPECT_EQ(ev[1].data, R"({"x":1})");
  EXPECT_FALSE(ev[1].own_id);
  EXPECT_TRUE(ev[2].own_id);
  EXPECT_EQ(ev[2].id, "b2");
  EXPECT_EQ(ev[2].data, R"({"y":2})");
  EXPECT_EQ(ev[3].id, "b2");  // an unchanged id alone is no event
  EXPECT_EQ(ev[3].data, R"({"z":3})");
  EXPECT_EQ(p.retry_ms(), 250);
}

TEST(SseParser, AnEventLargerThanTheCapIsRefused) {
  SseParser p(64);
  std::vector<SseEvent> events;
  Status s = p.Feed("data: " + std::string(40, 'x') + "\n", &events);
  ASSERT_TRUE(s.ok());
  s = p.Feed("data: " + std::string(40, 'y') + "\n\n", &events);
  EXPECT_EQ(s.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_NE(std::string(s.message()).find("larger than 64 bytes"), std::string::npos) << s;
  EXPECT_TRUE(events.empty());
}

}  // namespace
}  // namespace aikernel::tools::mcp
