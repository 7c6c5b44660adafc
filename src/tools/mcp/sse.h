// mcp::SseParser: the text/event-stream format (HTML Living Standard,
// "Server-sent events"), as MCP's streamable HTTP transport uses it: each
// event of type "message" (the default) carries one JSON-RPC message in its
// data lines, and an `id` the client can resume the stream after
// (GET with Last-Event-ID; http_transport.h).
//
// Pure and incremental: bytes in, complete events out. Lines end with CRLF,
// LF or CR (a CRLF split across two Feed calls counts once); "data:" lines
// are joined with "\n"; comments (":...") are ignored. The "id" field sets
// the stream's last event id (kept across events, as the standard says; an
// id containing NUL is ignored); "retry" sets retry_ms(). Each event ends
// as one SseEvent: a message's data with the last event id at that point,
// or, for an event without data or of another type whose id changed (a
// server's priming event), the id alone (data empty). An event whose data
// grows past `max_event_bytes` is RESOURCE_EXHAUSTED, after which the
// parser is unusable (the stream has no trustworthy boundary any more).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace aikernel::tools::mcp {

struct SseEvent {
  std::string id;    // the stream's last event id ("" : none yet)
  std::string data;  // a JSON-RPC message; "" : only the id moved
  bool own_id = false;  // the event had an id field (else `id` is an earlier event's)
};

class SseParser {
 public:
  explicit SseParser(size_t max_event_bytes) : max_(max_event_bytes) {}
  Status Feed(std::string_view bytes, std::vector<SseEvent>* events);
  // The server's "retry:" (ms before reconnecting), -1 if it sent none.
  int64_t retry_ms() const { return retry_ms_; }

 private:
  void Line(std::vector<SseEvent>* events);

  size_t max_;
  std::string line_;
  std::string data_;
  std::string type_;
  std::string last_id_;
  bool has_data_ = false;
  bool id_changed_ = false;
  bool id_field_ = false;
  bool after_cr_ = false;
  int64_t retry_ms_ = -1;
};

}  // namespace aikernel::tools::mcp
