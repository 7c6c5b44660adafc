// mcp::HttpLane: a request to a streamable HTTP MCP server POSTed and its
// answer read on the caller's own thread (a gRPC thread making a tool
// call), instead of handing the call to the Asio loop and the HttpClient
// thread and back: several thread wake-ups per call, which on these
// machines cost more than a loopback server's own work. The loop keeps the
// session (initialize, Mcp-Session-Id, the GET event stream, listing,
// restarts, resumption); the HttpTransport makes one lane per session once
// it is negotiated (http_transport.h).
//
// Contract
// - Thread-safe. Post() blocks its caller until the exchange ends, the
//   deadline, the caller's cancel or Close(). Each Post uses its own
//   libcurl easy handle (and multi handle, polled by the caller) from a pool
//   kept by the lane, so connections are kept alive between calls; at most
//   kIdleHandles idle handles are kept.
// - Headers are what SetHeaders() last set (the transport's: Accept,
//   Content-Type, Mcp-Session-Id, MCP-Protocol-Version, the entry's own).
// - The answer is the JSON-RPC response whose id is the request's, from a
//   JSON body (a batch is split) or an SSE stream. Every other message of
//   the exchange (notifications, the server's requests, progress) goes to
//   `deliver`, in order, for the loop. An SSE event whose id the session saw
//   before (SeenEventIds, shared with the transport) is dropped; the
//   stream's last event id and `retry` are kept for a resume.
// - Outcomes: kAnswer (the response); kUnavailable (`why`: an HTTP error
//   answer, a body without the answer, the lane closed; and the faults, for
//   which `fault` is called too: no connection or a broken transfer before
//   any event, HTTP 404 to a POST that named a session (it expired), a
//   message over max_bytes);
//   kCut (an SSE stream that broke or ended before the answer: `last_id`
//   and `retry_ms` say where a GET with Last-Event-ID would resume it, ""
//   when its events had no ids); kTimeout and kCancelled (the POST was
//   aborted; the caller sends notifications/cancelled). cancelled() is
//   asked only once a 20 ms slice passed without the answer.
// - Close(why) makes Posts in progress end kUnavailable with `why` within a
//   slice, and every later Post at once. Idempotent (the first why stays).
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

namespace aikernel::tools::mcp {

// The header naming the session, as the transport sends it ("<name>: id");
// the lane looks for it to tell a session's 404 from a plain one.
inline constexpr char kSessionHeaderPrefix[] = "Mcp-Session-Id: ";

// The start of an HTTP error answer's body (200 bytes, on one line), for
// error messages.
std::string HttpSnippet(const std::string& body);
// "<what>: HTTP <status>: <snippet of body>" (no snippet for an empty body):
// how every HTTP error answer is named, by the lane and the transport.
std::string HttpError(const std::string& what, long status, const std::string& body);

// The event ids a session has seen (the last `keep`), so a replay delivers
// nothing twice. Thread-safe: the loop and lane callers share it.
class SeenEventIds {
 public:
  explicit SeenEventIds(size_t keep) : keep_(keep) {}
  // False when `id` came before.
  bool FirstTime(const std::string& id);

 private:
  const size_t keep_;
  std::mutex mu_;
  std::set<std::string> seen_;      // GUARDED_BY(mu_)
  std::deque<std::string> order_;   // GUARDED_BY(mu_)
};

struct HttpLaneResult {
  enum class End { kAnswer, kUnavailable, kCut, kTimeout, kCancelled };
  End end = End::kUnavailable;
  std::string answer;   // kAnswer: the response's JSON
  std::string why;      // kUnavailable, kCut
  std::string last_id;  // kCut: the stream's last event id ("" : none)
  int64_t retry_ms = -1;  // kCut: the server's "retry:", -1 if none
  bool fault = false;     // kUnavailable: the session cannot go on (`fault` was called)
};

class HttpLane {
 public:
  static constexpr size_t kIdleHandles = 8;
  using Clock = std::chrono::steady_clock;

  HttpLane(std::string url, size_t max_bytes, std::shared_ptr<SeenEventIds> seen,
           std::function<void(std::string message)> deliver,
           std::function<void(std::string why)> fault);
  ~HttpLane();
  HttpLane(const HttpLane&) = delete;
  HttpLane& operator=(const HttpLane&) = delete;

  void SetHeaders(std::vector<std::string> headers);
  HttpLaneResult Post(int64_t id, const std::string& body, Clock::time_point deadline,
                      const std::function<bool()>& cancelled);
  void Close(const std::string& why);

  struct Handle;
  struct Exchange;

 private:
  std::unique_ptr<Handle> Take();
  void Give(std::unique_ptr<Handle> h);
  // "" while open, else why it closed.
  std::string Closed();
  HttpLaneResult Finish(Exchange& x, int curl_code, const char* curl_error, bool with_session);

  const std::string url_;
  const size_t max_bytes_;
  const std::shared_ptr<SeenEventIds> seen_;
  const std::function<void(std::string)> deliver_;
  const std::function<void(std::string)> fault_;

  std::mutex mu_;
  std::shared_ptr<const std::vector<std::string>> headers_;  // GUARDED_BY(mu_)
  std::vector<std::unique_ptr<Handle>> idle_;                // GUARDED_BY(mu_)
  std::string closed_;                                        // GUARDED_BY(mu_)
};

}  // namespace aikernel::tools::mcp
