// aikernel tool types: what the Client's tool methods take and return
// (aikernel/client.h declares the methods; proto/aikernel/v1/tools.proto and
// docs/tools.md state the semantics in full).
//
// The kernel runs tools for its callers: builtins (fs.*, http.fetch,
// proc.exec, clock.now) and the tools of MCP servers it mounts
// ("<server>.<tool>"). Each call is checked against the tool's JSON Schema,
// decided by policy and audited; each result carries the sequence number of
// its audit record. Arguments and results are JSON text, so this header
// needs no JSON library.
//
// Plain values (thread-compatible, like std::string); no gRPC or protobuf.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace aikernel {
inline namespace sdk {

struct ToolInfo {
  std::string name;               // "fs.read", "<server>.<tool>"
  std::string description;
  std::string input_schema_json;  // the arguments' JSON Schema
  std::string provider;           // "builtin", "mcp:<server>"
  bool refused = false;           // changed since pinned: calls refused until accepted
  std::string refused_reason;
  std::string pinned_hash;        // empty when the provider does not pin
};

struct ToolList {
  std::vector<ToolInfo> tools;
  uint64_t audit_sequence = 0;
};

struct ToolInfoResult {
  ToolInfo tool;
  uint64_t audit_sequence = 0;
};

struct ToolCallOptions {
  // Time the tool may take; unset: the daemon's [tools] call_timeout_ms.
  // The call's own deadline (CallOptions), when earlier, wins.
  std::optional<std::chrono::milliseconds> timeout;
  // Operators only: decide the call under this agent's policy (debugging);
  // audited with the operator as the caller.
  std::string as_agent;
};

struct ToolCallResult {
  std::string result_json;  // the tool's result (JSON text)
  bool is_error = false;    // the tool ran and reported a failure (MCP isError)
  std::string provider;
  uint64_t result_bytes = 0;
  std::chrono::nanoseconds latency{0};  // time the tool ran in the daemon
  uint64_t audit_sequence = 0;
};

}  // namespace sdk
}  // namespace aikernel
