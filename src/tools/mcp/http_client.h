// mcp::HttpClient: one thread running libcurl's multi interface for the
// MCP servers mounted over streamable HTTP. Many exchanges at once (calls,
// each server's GET event stream), connections reused per host.
//
// Contract
// - Start(), Abort() and Stop() are thread-safe. Each exchange's callbacks
//   run on the client's thread, in order: on_response once (when the first
//   body byte or the end arrives: status and lower-cased headers of the last
//   response), on_data per chunk (return false to abort), on_done once: OK
//   when the exchange completed, CANCELLED when aborted (Abort or Stop),
//   UNAVAILABLE naming the URL and curl's reason otherwise (no connection,
//   timeout). Callbacks must not block: they post to a loop.
// - Only http and https; redirects are not followed (an MCP endpoint that
//   redirects is a misconfiguration to see, not to chase); no proxy from the
//   environment.
// - Stop(grace) lets exchanges in progress (session DELETEs) finish for up
//   to `grace`, aborts the rest and joins. Start() after Stop() completes
//   the exchange CANCELLED at once.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace aikernel::tools::mcp {

struct HttpExchange {
  std::string method = "POST";  // POST, GET or DELETE
  std::string url;
  std::vector<std::string> headers;  // "Name: value"
  std::string body;                  // POST only
  std::chrono::milliseconds timeout{0};  // whole exchange; 0: none (event streams)
  std::chrono::milliseconds connect_timeout{5000};
  std::function<void(long status, const std::map<std::string, std::string>& headers)>
      on_response;
  std::function<bool(std::string_view data)> on_data;
  std::function<void(Status done)> on_done;
};

// The options every MCP exchange uses, on a libcurl easy handle (a CURL*):
// http and https only, no redirects, no proxy from the environment, no
// signals, TCP_NODELAY, `connect_timeout`. Shared with HttpLane.
void SetMcpCurlOptions(void* easy, std::chrono::milliseconds connect_timeout);

class HttpClient {
 public:
  explicit HttpClient(std::string thread_name = "aik-mcp-http");
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  uint64_t Start(HttpExchange x);
  void Abort(uint64_t id);
  void Stop(std::chrono::milliseconds grace);

  class Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace aikernel::tools::mcp
