// aikernel MCP server types: what Client::ListMcpServers returns
// (proto/aikernel/v1/mcp.proto and docs/mcp.md state the semantics). The
// servers' tools are listed and called with the tool methods (tools.h).
// Plain values; no gRPC or protobuf.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace aikernel {
inline namespace sdk {

struct McpServerInfo {
  std::string name;
  std::string state;  // "starting", "initializing", "ready", "backoff", "stopped"
  int pid = 0;
  std::string protocol_version;
  std::string server_info;
  uint64_t starts = 0;
  uint64_t requests = 0;  // JSON-RPC requests sent
  uint64_t calls = 0;     // tools/call requests sent (denied calls never are)
  uint64_t calls_failed = 0;
  uint64_t cancellations = 0;
  uint64_t protocol_errors = 0;
  std::string last_error;
  uint32_t tools = 0;
  uint32_t refused = 0;
  std::string url;                   // "" for a stdio server
  std::vector<std::string> headers;  // "Name: value", "Name: <secret>" for a file's
  uint64_t resumes = 0;              // SSE streams resumed (Last-Event-ID)
  uint64_t late_answers = 0;         // answers to no waiting request (late, or twice)
};

struct McpServerList {
  std::vector<McpServerInfo> servers;
  uint64_t audit_sequence = 0;
};

}  // namespace sdk
}  // namespace aikernel
