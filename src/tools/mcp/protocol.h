// mcp protocol: MCP's JSON-RPC 2.0 messages over newline-delimited stdio.
//
// Pure functions and one small stateful framer; no I/O, no threads.
// - LineFramer splits a byte stream into lines (one JSON-RPC message each,
//   MCP's stdio transport) and refuses a line longer than its limit, so a
//   server writing a 100 MB line is cut off after `max_bytes`, not buffered.
// - ParseIncoming classifies one line: a response to one of our requests, a
//   request from the server, or a notification. Anything else (not JSON,
//   not an object, no "jsonrpc":"2.0", an id of the wrong type) is an
//   INVALID_ARGUMENT naming what is wrong: the caller treats it as a
//   protocol error of that server.
// - The Make* functions build the messages the client sends.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/status.h"

namespace aikernel::tools::mcp {

// The protocol versions this client speaks, preferred first. The client
// offers the first; a server may answer with any of them.
inline constexpr const char* kProtocolVersions[] = {"2025-06-18", "2025-03-26"};
bool SupportedProtocolVersion(std::string_view v);

class LineFramer {
 public:
  explicit LineFramer(size_t max_bytes) : max_bytes_(max_bytes) {}
  // Appends `data`; complete lines (without "\n" and a trailing "\r") are
  // appended to `lines`. Empty lines are skipped. RESOURCE_EXHAUSTED when
  // the line being collected grows past max_bytes (the framer is then
  // unusable: the stream has no trustworthy boundary any more).
  Status Feed(std::string_view data, std::vector<std::string>* lines);
  size_t buffered() const { return partial_.size(); }

 private:
  size_t max_bytes_;
  std::string partial_;
};

struct Incoming {
  enum class Kind { kResponse, kRequest, kNotification };
  Kind kind = Kind::kNotification;
  nlohmann::json id;      // responses and requests
  std::string method;     // requests and notifications
  nlohmann::json params;  // requests and notifications (null when absent)
  nlohmann::json result;  // responses without error
  std::optional<nlohmann::json> error;  // responses: the JSON-RPC error object
};

StatusOr<Incoming> ParseIncoming(std::string_view line);

// "code: message" of a JSON-RPC error object, for error messages.
std::string DescribeError(const nlohmann::json& error);

std::string MakeRequest(int64_t id, std::string_view method, const nlohmann::json& params);
std::string MakeNotification(std::string_view method, const nlohmann::json& params);
std::string MakeResult(const nlohmann::json& id, const nlohmann::json& result);
std::string MakeErrorReply(const nlohmann::json& id, int code, std::string_view message);
nlohmann::json InitializeParams(std::string_view client_version);

struct ToolDef {
  std::string name;  // as the server names it
  std::string title;
  std::string description;
  nlohmann::json input_schema = nlohmann::json::object();
};

struct ToolsPage {
  std::vector<ToolDef> tools;
  std::string next_cursor;  // empty: last page
  std::vector<std::string> skipped;  // "name: why" for tools refused as malformed
};
// A tools/list result. A tool without a valid name or with a non-object
// inputSchema is skipped and reported, not fatal.
StatusOr<ToolsPage> ParseToolsList(const nlohmann::json& result);

// True for names MCP allows: 1-128 of [A-Za-z0-9_.-].
bool ValidToolName(std::string_view name);

}  // namespace aikernel::tools::mcp
