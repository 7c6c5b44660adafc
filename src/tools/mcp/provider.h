// mcp::McpProvider: one MCP server of the Manager as a tools::ToolProvider
// ("mcp:<server>"), so its tools are listed and called through the
// registry, and so through Kernel::Dispatch (schema check, policy, ledger).
//
// Contract
// - ListTools()/FindTool() are the server's current mounted tools (a
//   snapshot of Server::View, cached until the view changes), named
//   "<server>.<tool>", refused ones marked with the reason and every tool's
//   pinned hash (SHA-256 of the description and schema digests).
// - Call() blocks the gRPC thread (never the loop) until the server answers,
//   the call's deadline (then notifications/cancelled, DEADLINE_EXCEEDED) or
//   CallContext::cancelled (then notifications/cancelled, CANCELLED). The
//   result is the MCP result object; isError sets ToolResult::is_error.
// - Accept() re-pins a refused tool (Manager::Accept).
// - Thread-safe.
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "tools/mcp/manager.h"
#include "tools/registry.h"

namespace aikernel::tools::mcp {

class McpProvider final : public ToolProvider {
 public:
  // `manager` must outlive the provider.
  McpProvider(Manager* manager, std::string server) : m_(manager), server_(std::move(server)) {}

  std::string name() const override { return "mcp:" + server_; }
  std::vector<std::shared_ptr<const Tool>> ListTools() const override;
  std::shared_ptr<const Tool> FindTool(const std::string& name) const override;
  StatusOr<ToolResult> Call(const Tool& tool, const nlohmann::json& args,
                            const CallContext& ctx) override;
  Status Accept(const std::string& tool_name) override;

 private:
  // The tools converted from the server's view; rebuilt only when the
  // server's ToolsVersion moved (a call's lookup then costs one lock).
  std::vector<std::shared_ptr<const Tool>> Snapshot() const;

  Manager* m_;
  const std::string server_;
  mutable std::mutex mu_;
  mutable uint64_t cached_version_ = ~uint64_t{0};           // GUARDED_BY(mu_)
  mutable std::vector<std::shared_ptr<const Tool>> cached_;  // GUARDED_BY(mu_)
};

// One provider per server of `manager`.
std::vector<std::shared_ptr<ToolProvider>> MakeProviders(Manager* manager);

}  // namespace aikernel::tools::mcp
