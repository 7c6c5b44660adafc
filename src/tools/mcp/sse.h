// mcp::SseParser: the text/event-stream format (HTML Living Standard,
// "Server-sent events"), as MCP's streamable HTTP transport uses it: each
// event of type "message" (the default) carries one JSON-RPC message in its
// data lines.
//
// Pure and incremental: bytes in, complete events' data out. Lines end with
// CRLF, LF or CR (a CRLF split across two Feed calls counts once); "data:"
// lines are joined with "\n"; comments (":...") and the id/retry fields are
// ignored; events of another type are dropped. An event whose data grows
// past `max_event_bytes` is RESOURCE_EXHAUSTED, after which the parser is
// unusable (the stream has no trustworthy boundary any more).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace aikernel::tools::mcp {

class SseParser {
 public:
  explicit SseParser(size_t max_event_bytes) : max_(max_event_bytes) {}
  Status Feed(std::string_view bytes, std::vector<std::string>* events);

 private:
  void Line(std::vector<std::string>* events);

  size_t max_;
  std::string line_;
  std::string data_;
  std::string type_;
  bool has_data_ = false;
  bool after_cr_ = false;
};

}  // namespace aikernel::tools::mcp
