// tools::Registry and tools::ToolProvider: every tool the kernel can run for
// a caller, by name, whoever provides it (the daemon's builtins, MCP servers).
//
// Contract
// - A Tool has a name (unique across providers: "fs.read", "<server>.<tool>"),
//   a description, a JSON Schema for its arguments and the name of its
//   provider. A provider may also mark a tool refused (its description or
//   schema changed since it was pinned): such a tool is listed, with the
//   reason, and every call to it is FAILED_PRECONDITION until an operator
//   accepts it (Registry::Accept -> ToolProvider::Accept).
// - Providers are added and removed at run time (an MCP server restarts, its
//   tools/list_changed arrives). The registry keeps no copy of their tool
//   lists: List() and Find() ask each provider for its current snapshot, so
//   a provider that changes its list only updates its own state (under its
//   own lock). Lookup goes through providers in the order they were added;
//   a name that an earlier provider already has is shadowed (List() shows
//   the one that is called, and logs the clash once per Add).
// - Calls: ToolProvider::Call runs on the caller's thread, which is a gRPC
//   server thread inside Kernel::Dispatch's execute step (the sync server
//   already dedicates a thread to the call, so blocking it is fine and never
//   blocks the Asio loop). A provider that does its I/O on a thread of its
//   own (the MCP provider on the Asio loop) posts the request there and
//   waits on a future / condition variable until the reply, the deadline
//   (CallContext::deadline) or cancellation (CallContext::Cancelled(), which
//   it polls, e.g. every 50 ms of waiting); its own thread must never wait
//   for a caller. On deadline it returns DEADLINE_EXCEEDED, on cancellation
//   CANCELLED, after telling the tool (MCP notifications/cancelled).
// - Results: ToolResult::content is any JSON value (MCP providers return the
//   MCP result object {content: [...], structuredContent?, isError}); the
//   registry refuses a result whose serialized size exceeds
//   CallContext::max_result_bytes (RESOURCE_EXHAUSTED naming the cap).
// - Errors: NOT_FOUND for an unknown tool; INVALID_ARGUMENT naming the field
//   for arguments that do not match the schema (registry, before policy);
//   FAILED_PRECONDITION for a refused tool; whatever the provider returns
//   otherwise (UNAVAILABLE for a provider that is down).
// - Thread-safety: every method of Registry is thread-safe; a ToolProvider
//   must be callable from many threads at once.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/status.h"

namespace aikernel::tools {

struct Tool {
  std::string name;
  std::string description;
  nlohmann::json input_schema = nlohmann::json::object();  // a JSON Schema object
  std::string provider;  // ToolProvider::name()
  // Set by a provider that pins tools: the tool changed after it was pinned
  // and is refused until accepted; `refused_reason` says what changed.
  bool refused = false;
  std::string refused_reason;
  std::string pinned_hash;  // hex; empty when the provider does not pin
};

struct ToolResult {
  nlohmann::json content;  // the tool's result
  bool is_error = false;   // the tool ran and reported an error (MCP isError)
};

// What a call may use besides its arguments.
struct CallContext {
  std::string caller;  // the authorized principal's id, for logs
  std::chrono::steady_clock::time_point deadline = std::chrono::steady_clock::time_point::max();
  size_t max_result_bytes = 1 << 20;
  // True once the caller went away or the daemon is stopping. Cheap; poll it.
  std::function<bool()> cancelled;
  // Re-authorizes a further step of the same call under the same principal
  // (http.fetch: each redirect hop, step "redirect"; each further address
  // of a host tried after the first could not be connected to, step
  // "address") with `context`'s keys
  // added to the policy context (its args stay the call's), and records the
  // decision in the ledger. OK or PERMISSION_DENIED. Null: steps are refused.
  std::function<Status(const nlohmann::json& context, const std::string& step)> authorize_step;
  // The policy context the call was decided on (the provider's
  // PolicyContext output plus args), so a tool acts on exactly what was
  // decided (http.fetch: the resolved address). Null outside Dispatch.
  const nlohmann::json* policy_context = nullptr;

  bool Cancelled() const { return cancelled && cancelled(); }
  bool Expired() const { return std::chrono::steady_clock::now() >= deadline; }
};

class ToolProvider {
 public:
  virtual ~ToolProvider() = default;
  // Stable, unique among providers: "builtin", "mcp:<server>".
  virtual std::string name() const = 0;
  // The current tools (a snapshot; the provider may change it at any time).
  virtual std::vector<std::shared_ptr<const Tool>> ListTools() const = 0;
  // One tool by name, or nullptr.
  virtual std::shared_ptr<const Tool> FindTool(const std::string& name) const = 0;
  // Extra policy context for a call whose arguments already passed the
  // schema, e.g. {"http": {scheme, host, port, method}} for http.fetch.
  // INVALID_ARGUMENT naming the field when the arguments cannot be read.
  virtual StatusOr<nlohmann::json> PolicyContext(const Tool& tool,
                                                 const nlohmann::json& args) const {
    (void)tool;
    (void)args;
    return nlohmann::json::object();
  }
  // Runs the tool (see the threading rules above).
  virtual StatusOr<ToolResult> Call(const Tool& tool, const nlohmann::json& args,
                                    const CallContext& ctx) = 0;
  // Re-pins a refused tool's current description and schema. Providers that
  // do not pin: FAILED_PRECONDITION.
  virtual Status Accept(const std::string& tool_name);
};

// A tool found by name with the provider that serves it.
struct Resolved {
  std::shared_ptr<const Tool> tool;
  std::shared_ptr<ToolProvider> provider;
};

struct RegistryOptions {
  size_t max_args_bytes = 1 << 20;    // serialized arguments
  size_t max_result_bytes = 1 << 20;  // serialized result
  std::chrono::milliseconds call_timeout{30000};  // when the caller sets none
};

class Registry {
 public:
  explicit Registry(RegistryOptions options = {}) : options_(options) {}

  // ALREADY_EXISTS if a provider of that name is registered.
  Status AddProvider(std::shared_ptr<ToolProvider> provider);
  // Removes it (calls in progress keep their reference and finish). No-op if absent.
  void RemoveProvider(const std::string& name);
  std::vector<std::string> ProviderNames() const;

  // Every callable tool name once, sorted by name.
  std::vector<std::shared_ptr<const Tool>> List() const;
  // NOT_FOUND naming the tool.
  StatusOr<Resolved> Find(const std::string& name) const;

  // The checks made before policy: arguments within max_args_bytes
  // (RESOURCE_EXHAUSTED), an object matching the tool's schema
  // (INVALID_ARGUMENT naming the field), the tool not refused
  // (FAILED_PRECONDITION naming `aictl tool accept`).
  Status CheckCall(const Resolved& r, const nlohmann::json& args, size_t args_bytes) const;
  // Runs the call and caps its result (RESOURCE_EXHAUSTED). `result_json`
  // gets the serialized result (its size also when over the cap, then the
  // text is cleared).
  StatusOr<ToolResult> Call(const Resolved& r, const nlohmann::json& args,
                            const CallContext& ctx, std::string* result_json,
                            size_t* result_bytes) const;

  // Accept a refused tool: NOT_FOUND, or the provider's answer.
  Status Accept(const std::string& name);

  const RegistryOptions& options() const { return options_; }

 private:
  std::vector<std::shared_ptr<ToolProvider>> Providers() const;

  RegistryOptions options_;
  mutable std::mutex mu_;
  std::vector<std::shared_ptr<ToolProvider>> providers_;  // GUARDED_BY(mu_)
};

// A copy of `v` where every object member whose key matches one of `names`
// (ASCII case-insensitive, at any depth) is replaced by "[redacted]": what
// the ledger digests and what policy sees, so secrets reach neither.
nlohmann::json Redact(const nlohmann::json& v, const std::vector<std::string>& names);


}  // namespace aikernel::tools
