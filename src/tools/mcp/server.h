// mcp::Server: the client of one MCP server, on the daemon's Boost.Asio
// loop, over one of two transports (transport.h): a child process over
// stdio, or a URL over streamable HTTP ([[mcp]] url).
//
// Contract
// - Everything but View(), CallOnLane() and CallOverHttp() runs on the io_context's thread
//   (the loop): the Manager posts to it. CallOnLane() is the fast path of a
//   tools/call on a ready stdio server: the caller's thread writes the
//   request and reads the answer (StdioLane), sharing ids, counters, tool
//   checks and failure handling with the loop's path. CallOverHttp() is the
//   same for a ready url server (HttpLane: the caller POSTs and reads the
//   answer); a cut answer stream is handed back to the loop (ResumeCall).
//   Nothing here blocks the loop: sandbox::Launch runs
//   on the Manager's LaunchThread and posts its result back; pipes are
//   non-blocking stream_descriptors; the pidfd is watched for readability
//   and reaped with waitid(P_PIDFD).
// - Lifecycle: Start() spawns the server confined (sandbox profile from the
//   config), sends `initialize` (offering protocol 2025-06-18, accepting
//   2025-03-26 too), `notifications/initialized`, then `tools/list` page by
//   page (cursor) and becomes ready. `notifications/tools/list_changed`
//   re-lists. Each listing is checked against the PinStore: a tool whose
//   description or inputSchema changed since it was pinned is listed but
//   refused until accepted.
// - Faults end the process and restart it with exponential backoff
//   (restart_initial_ms doubling to restart_max_ms; reset once a process has
//   been ready for 30 s): exit or crash, a line longer than
//   max_message_bytes, malformed JSON-RPC, more than kFloodMessages
//   unsolicited messages within a second, no answer to the handshake within
//   start_timeout_ms, an unsupported protocol version. Calls in flight fail
//   UNAVAILABLE with the fault named. Other servers are not affected.
// - Calls: each tools/call has its own deadline; when it passes, or the
//   caller cancels, `notifications/cancelled` is sent and the call ends
//   DEADLINE_EXCEEDED / CANCELLED; a late answer is dropped. A call made
//   while the server is starting waits for it (within its deadline).
// - stderr and the server's logging notifications go to
//   <logs_dir>/mcp/<name>.log (rotated by size).
// - View() is thread-safe: a copy of the state, counters and tools.
#pragma once

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/status.h"
#include "sandbox/launch_thread.h"
#include "sandbox/sandbox.h"
#include "tools/mcp/http_client.h"
#include "tools/mcp/http_lane.h"
#include "tools/mcp/pins.h"
#include "tools/mcp/protocol.h"
#include "tools/mcp/server_config.h"

namespace aikernel::tools::mcp {

struct MountedTool {
  std::string name;  // "<server>.<tool>"
  ToolDef def;       // def.name is the server's own name
  PinDigest digest;
  std::string refused;  // non-empty: why calls are refused (pin changed)
};

enum class ServerState { kStarting, kInitializing, kReady, kBackoff, kStopped };
const char* StateName(ServerState s);

// The reason a call the caller gave up on is named by, in its
// notifications/cancelled and its error (the lanes' and the loop's path).
inline constexpr char kCallerCancelled[] = "cancelled by the caller";

// Runs `fn` on `io`'s thread and waits until it has, `limit` at most. False
// if the loop did not get to it in time (it may still run `fn` later).
bool RunOnLoop(boost::asio::io_context& io, std::function<void()> fn,
               std::chrono::milliseconds limit);

struct ServerView {
  std::string name;
  ServerState state = ServerState::kStopped;
  int pid = 0;
  std::string protocol_version;
  std::string server_info;  // serverInfo name and version
  uint64_t starts = 0;      // processes launched
  uint64_t requests = 0;    // JSON-RPC requests sent (all methods)
  uint64_t calls = 0;       // tools/call requests sent
  uint64_t lane_calls = 0;  // of which made on the caller's thread (StdioLane, HttpLane)
  uint64_t calls_failed = 0;  // ended without a result (timeout, cancel, fault, JSON-RPC error)
  uint64_t cancellations = 0;  // notifications/cancelled sent
  uint64_t protocol_errors = 0;
  std::string last_error;
  std::string url;                   // a streamable HTTP server's
  std::vector<std::string> headers;  // its [[mcp]] headers, "Name: <secret>" for files
  uint64_t resumes = 0;              // SSE streams resumed with Last-Event-ID
  uint64_t late_answers = 0;  // answers to no waiting request (after a timeout or cancel, or twice)
  std::vector<MountedTool> tools;
};

// Events the kernel writes to the ledger: action ("tool.pin",
// "tool.refuse", "mcp.fault"), resource ("tool:<name>" / "mcp:<server>"),
// details.
using EventFn = std::function<void(const std::string& action, const std::string& resource,
                                   const std::vector<std::string>& details)>;

struct ServerDeps {
  boost::asio::io_context* io = nullptr;
  sandbox::LaunchThread* launch_thread = nullptr;
  sandbox::Launcher* launcher = nullptr;
  HttpClient* http = nullptr;  // servers with a url
  sandbox::Profile profile;    // stdio servers: the entry's `sandbox`, resolved
  PinStore* pins = nullptr;
  EventFn on_event;
  // Called on the loop after the state or the mounted tools changed (tests
  // wait on it instead of polling).
  std::function<void()> on_change;
  std::string logs_dir;       // <logs_dir>/mcp/<name>.log
  std::string client_version;  // clientInfo.version
};

class Server {
 public:
  static constexpr int kFloodMessages = 1000;

  Server(ServerConfig config, ServerDeps deps);
  ~Server();

  using Done = std::function<void(StatusOr<nlohmann::json>)>;
  // A call in progress, for Cancel(); opaque to callers.
  struct Call;

  // On the loop.
  void Start();
  // `tool` is the server's own name. The deadline is `timeout` or the
  // config's call_timeout_ms, whichever is shorter (0: the config's).
  std::shared_ptr<Call> CallTool(const std::string& tool, nlohmann::json args,
                                 std::chrono::milliseconds timeout, Done done);
  void Cancel(const std::shared_ptr<Call>& call, const std::string& reason);
  // Any thread: the same call made on the caller's thread over a stdio
  // server's pipes (StdioLane), with the same deadline, cancellation and
  // errors. nullopt when the server has no lane now (starting, restarting,
  // HTTP): use CallTool.
  std::optional<StatusOr<nlohmann::json>> CallOnLane(const std::string& tool,
                                                     const nlohmann::json& args,
                                                     std::chrono::milliseconds timeout,
                                                     const std::function<bool()>& cancelled);
  // Any thread: the same call to a ready streamable HTTP server POSTed and
  // its answer read on the caller's thread (HttpLane), with the same
  // deadline, cancellation (notifications/cancelled, sent by the loop) and
  // errors. nullopt when there is no lane now (use CallTool), or when the
  // answer stream was cut before the answer: then `*handover` is set and
  // ResumeCall continues the call on the loop.
  struct HttpHandover {
    int64_t id = 0;
    std::string tool;
    HttpLaneResult cut;
    std::chrono::milliseconds limit{0};  // the call's whole time
    std::chrono::steady_clock::time_point deadline;
    std::shared_ptr<HttpLane> lane;  // the session it was made in
  };
  std::optional<StatusOr<nlohmann::json>> CallOverHttp(const std::string& tool,
                                                       const nlohmann::json& args,
                                                       std::chrono::milliseconds timeout,
                                                       const std::function<bool()>& cancelled,
                                                       std::optional<HttpHandover>* handover);
  // On the loop: a handed-over call waits for its answer through the
  // transport's resumption (GET with Last-Event-ID), as a loop call (Cancel
  // works on it); UNAVAILABLE when its session is gone.
  std::shared_ptr<Call> ResumeCall(HttpHandover handover, Done done);
  // On the loop: a url server's [[mcp]] headers (checked by the caller)
  // for every request started from now on, this session's and later ones'.
  void SetHeaders(std::vector<HttpHeader> headers);
  // Re-reads the pins for the mounted tools (after an accept).
  void RecheckPins();
  // Kills and reaps the process, fails what is pending UNAVAILABLE, stops
  // restarting. Blocks only on reaping a SIGKILLed child.
  void Shutdown();

  // Any thread.
  ServerView View() const;
  // Bumped each time the mounted tools (or their refusals) are replaced, so
  // callers can cache what they built from View().tools.
  uint64_t ToolsVersion() const;
  const ServerConfig& config() const { return config_; }

  class Impl;

 private:
  const ServerConfig config_;
  std::shared_ptr<Impl> impl_;  // shared with its pending handlers
};

}  // namespace aikernel::tools::mcp
