// mcp::HttpTransport: MCP's streamable HTTP transport (protocol 2025-03-26
// and 2025-06-18) to a server at a URL ([[mcp]] url = ...), over the
// Manager's HttpClient thread.
//
// Contract (beyond transport.h)
// - Every message is a POST of its JSON to the URL with
//   `Accept: application/json, text/event-stream`. The answer to a request
//   is either one JSON body or an SSE stream whose events carry the server's
//   messages (notifications, requests, then the answer). Notifications and
//   replies of ours get 202 and no body.
// - The `Mcp-Session-Id` the server gives with the initialize answer is sent
//   with every later request, `MCP-Protocol-Version` once negotiated.
//   Close() DELETEs the session (best effort; the HttpClient lets it finish
//   while the daemon stops).
// - The entry's own headers (headers / headers_from_file, checked by
//   headers.h) go with every request; their values are never logged.
//   SetHeaders() replaces them for requests started after it (a reload).
// - Once negotiated, a GET with `Accept: text/event-stream` opens the
//   server's own stream (list_changed and other notifications) if it offers
//   one (405: it does not).
// - Resumption (spec "Resumability and Redelivery"): the last event id of
//   every stream (each request's answer stream, the GET stream) is kept,
//   and an event id seen before in the session is dropped (a replay
//   delivers nothing twice). An answer stream that is cut or ends while
//   the Server still waits for the answer (TransportEvents::waiting) is
//   resumed with GET + Last-Event-ID until the answer comes: again when a
//   resume brings nothing for a while (0.5 s doubling to 30 s), retried
//   after failures (100 ms doubling, 5 in a row at most), stopped by
//   Abandon (the call's deadline). It fails that request only
//   (`unanswered`): no event ids ("does not support resumption: its events
//   carry no ids"), GET 405 ("does not support resumption"), or the
//   retries spent. The GET stream is resumed the same way; without ids it
//   is reopened (a break 5 times at most, then a fault).
// - Faults (failed, fault=true): no connection or a transfer error before
//   an event stream began (curl's reason and the URL), HTTP 404 with a
//   session (the session expired; a restart makes a new one), a message
//   larger than max_message_bytes. An HTTP error answer to a request fails
//   that request only (`unanswered` with the status and the start of the
//   body), as does a JSON exchange that ends without the answer.
// - Once negotiated, http_lane() is an HttpLane (http_lane.h) for callers'
//   threads to POST tools/call themselves with the session's headers; it
//   shares the seen event ids, posts the other messages of its exchanges
//   and its faults to the loop, and is closed with the session. Adopt()
//   takes over a lane call whose answer stream was cut and resumes it as
//   above (its answer then comes as a `message`).
#pragma once

#include <boost/asio/io_context.hpp>
#include <memory>

#include "agents/log_file.h"
#include "tools/mcp/http_client.h"
#include "tools/mcp/server_config.h"
#include "tools/mcp/transport.h"

namespace aikernel::tools::mcp {

class HttpTransport : public Transport {
 public:
  HttpTransport(const ServerConfig& config, boost::asio::io_context& io, HttpClient& client,
                agents::LogFile& log);
  ~HttpTransport() override;

  void Open(TransportEvents events) override;
  void Send(std::string message, int64_t request_id) override;
  void Abandon(int64_t request_id) override;
  void Negotiated(const std::string& version) override;
  void Close() override;
  const char* channel() const override { return "http"; }
  std::shared_ptr<HttpLane> http_lane() override;
  void Adopt(int64_t request_id, const HttpLaneResult& cut) override;
  void SetHeaders(std::vector<HttpHeader> headers) override;

  class Impl;

 private:
  std::shared_ptr<Impl> impl_;  // shared with its exchanges' callbacks
};

}  // namespace aikernel::tools::mcp
