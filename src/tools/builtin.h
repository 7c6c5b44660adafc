// tools::BuiltinProvider: the tools the daemon runs itself (provider
// "builtin"): clock.now, fs.read/write/list/stat/delete under configured
// roots, http.fetch and proc.exec. docs/tools.md describes each tool's
// arguments and result.
//
// Each builtin is a BuiltinTool: its Tool row (name, description, schema),
// an optional policy-context function and its implementation. The set is
// fixed at construction from BuiltinOptions (fs.* only when roots are
// configured, proc.exec only when profiles are). Calls run on the caller's
// (gRPC) thread and honour CallContext's deadline and cancellation.
// Thread-safe: the provider holds only immutable state.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "sandbox/sandbox.h"
#include "tools/registry.h"

namespace aikernel::tools {

struct FsRoot {
  std::string name;  // how calls name it: {"root": "<name>", "path": "..."}
  std::string path;  // absolute directory on the host
  bool writable = false;
  friend bool operator==(const FsRoot&, const FsRoot&) = default;
};

struct BuiltinOptions {
  std::vector<FsRoot> fs_roots;
  int64_t fs_max_read_bytes = 1 << 20;
  int64_t fs_max_write_bytes = 1 << 20;
  int64_t fs_max_list_entries = 10000;
  int64_t http_max_response_bytes = 1 << 20;
  int64_t http_timeout_ms = 10000;
  int64_t http_max_redirects = 5;
  // proc.exec: sandbox profiles a call may name ("default", "trusted").
  // Empty: no proc.exec.
  std::vector<std::string> exec_profiles;
  // What those names mean: the daemon's [profiles.<name>] with the builtins.
  // A name not here is looked up among the builtins (sandbox::ProfileByName).
  std::map<std::string, sandbox::Profile, std::less<>> exec_sandboxes;
  int64_t exec_max_output_bytes = 64 << 10;  // each of stdout, stderr
  int64_t exec_timeout_ms = 10000;
  uid_t exec_uid = 65534;
  gid_t exec_gid = 65534;
  std::string exec_work_base;  // per-call workdirs are made under it (state_dir/tools/exec)
  friend bool operator==(const BuiltinOptions&, const BuiltinOptions&) = default;
};

struct BuiltinTool {
  std::shared_ptr<const Tool> tool;
  std::function<StatusOr<nlohmann::json>(const nlohmann::json& args)> policy_context;
  std::function<StatusOr<ToolResult>(const nlohmann::json& args, const CallContext& ctx)> call;
};

class BuiltinProvider final : public ToolProvider {
 public:
  // INVALID_ARGUMENT naming the root for a root that cannot be opened.
  static StatusOr<std::shared_ptr<BuiltinProvider>> Create(const BuiltinOptions& options);

  std::string name() const override { return "builtin"; }
  std::vector<std::shared_ptr<const Tool>> ListTools() const override;
  std::shared_ptr<const Tool> FindTool(const std::string& name) const override;
  StatusOr<nlohmann::json> PolicyContext(const Tool& tool,
                                         const nlohmann::json& args) const override;
  StatusOr<ToolResult> Call(const Tool& tool, const nlohmann::json& args,
                            const CallContext& ctx) override;

 private:
  BuiltinProvider() = default;
  void Add(BuiltinTool t);

  std::map<std::string, BuiltinTool, std::less<>> tools_;
};

// Makes a Tool row of provider "builtin"; `schema` is JSON text.
std::shared_ptr<const Tool> MakeBuiltinTool(std::string name, std::string description,
                                            const char* schema);

// The builtins, by family (builtin_*.cc). Each returns its tools.
std::vector<BuiltinTool> ClockTools();
StatusOr<std::vector<BuiltinTool>> FsTools(const BuiltinOptions& options);
std::vector<BuiltinTool> HttpTools(const BuiltinOptions& options);
std::vector<BuiltinTool> ExecTools(const BuiltinOptions& options);

}  // namespace aikernel::tools
