// mcp::Transport: how one MCP connection moves JSON-RPC messages, under the
// one client (mcp::Server) that speaks the protocol over it. Two exist:
// stdio (a confined child process, newline-delimited JSON; stdio_transport.h)
// and streamable HTTP (POSTs to a URL, JSON or SSE answers, a session id;
// http_transport.h). Handshake, listing, pinning, calls, deadlines,
// cancellation, fault handling and restarts live in Server and are the same
// for both.
//
// Contract
// - One Transport is one connection attempt: Open() once, Close() once. A
//   new attempt (restart) makes a new Transport.
// - Every method but caller_lane() and http_lane() runs on the loop's thread, and every
//   event but `direct` is delivered on it. Events stop once Close() has
//   returned.
// - `failed` is delivered at most once; after it the Server calls Close().
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "tools/mcp/server_config.h"

namespace aikernel::tools::mcp {

class StdioLane;
class HttpLane;
struct HttpLaneResult;

struct TransportEvents {
  // Ready to carry messages; `pid` of the server process (0: none of ours).
  std::function<void(int pid)> opened;
  // One JSON-RPC message (a JSON text) from the server.
  std::function<void(std::string message)> message;
  // Optional, called on ANY thread before `message`, for transports with a
  // caller lane: true if it took the message (an answer to a call made
  // through the lane), which is then not delivered as `message`.
  std::function<bool(const std::string& message)> direct;
  // The request `id` sent with Send() can no longer be answered (its HTTP
  // exchange ended without the answer); the Server fails it with `why`.
  std::function<void(int64_t id, std::string why)> unanswered;
  // Whether the Server still waits for the answer to request `id`: a cut
  // event stream is resumed only while it does.
  std::function<bool(int64_t id)> waiting;
  // A cut event stream is being resumed (HTTP: GET with Last-Event-ID);
  // `what` says which and why, for the server's log.
  std::function<void(const std::string& what)> resumed;
  // The connection cannot go on. `fault`: the peer misbehaved or could not
  // be reached (a ledger mcp.fault record); false: it ended by itself (the
  // process exited).
  std::function<void(std::string why, bool fault)> failed;
};

class Transport {
 public:
  virtual ~Transport() = default;
  virtual void Open(TransportEvents events) = 0;
  // Sends one message. `request_id` is the JSON-RPC id when the message is a
  // request of ours (so an unanswered one can be reported), else 0.
  virtual void Send(std::string message, int64_t request_id) = 0;
  // The server's answer to `request_id` is no longer wanted (cancelled or
  // timed out): stop waiting for it.
  virtual void Abandon(int64_t /*request_id*/) {}
  // The protocol version agreed at initialize; sent with later requests where
  // the transport carries it (HTTP's MCP-Protocol-Version).
  virtual void Negotiated(const std::string& /*version*/) {}
  // Ends the connection: kills and reaps the process, or ends the session.
  virtual void Close() = 0;
  // Where messages come from, for fault messages ("stdout", "http").
  virtual const char* channel() const = 0;
  // The pipes, for a caller on any thread to write a request and read its
  // answer itself (stdio only; null otherwise, or once closed or failed).
  virtual std::shared_ptr<StdioLane> caller_lane() { return nullptr; }
  // HTTP: the lane callers POST tools/call on themselves (null otherwise,
  // before the session is negotiated, or once closed or failed); Adopt()
  // resumes a lane call's cut answer stream on the loop (http_transport.h).
  virtual std::shared_ptr<HttpLane> http_lane() { return nullptr; }
  virtual void Adopt(int64_t /*request_id*/, const HttpLaneResult& /*cut*/) {}
  // HTTP: the entry's own headers for requests started from now on.
  virtual void SetHeaders(std::vector<HttpHeader> /*headers*/) {}
};

}  // namespace aikernel::tools::mcp
