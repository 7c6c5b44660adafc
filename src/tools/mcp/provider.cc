#include "tools/mcp/provider.h"

#include "identity/ossl.h"

namespace aikernel::tools::mcp {

using nlohmann::json;

std::vector<std::shared_ptr<const Tool>> McpProvider::Snapshot() const {
  std::lock_guard<std::mutex> l(mu_);
  // Read the version before the view: a change in between only causes one
  // more rebuild next time.
  uint64_t version = m_->ToolsVersion(server_);
  if (version == cached_version_) return cached_;
  StatusOr<ServerView> v = m_->View(server_);
  cached_.clear();
  if (v.ok()) {
    for (const MountedTool& t : v->tools) {
      auto tool = std::make_shared<Tool>();
      tool->name = t.name;
      tool->description = t.def.description;
      tool->input_schema = t.def.input_schema;
      tool->provider = name();
      tool->refused = !t.refused.empty();
      tool->refused_reason = t.refused;
      tool->pinned_hash = identity::ossl::Hex(identity::ossl::Sha256(
          t.digest.description_sha256 + t.digest.schema_sha256));
      cached_.push_back(std::move(tool));
    }
  }
  cached_version_ = version;
  return cached_;
}

std::vector<std::shared_ptr<const Tool>> McpProvider::ListTools() const { return Snapshot(); }

std::shared_ptr<const Tool> McpProvider::FindTool(const std::string& name) const {
  for (auto& t : Snapshot()) {
    if (t->name == name) return t;
  }
  return nullptr;
}

StatusOr<ToolResult> McpProvider::Call(const Tool& tool, const json& args,
                                       const CallContext& ctx) {
  std::chrono::milliseconds timeout{0};
  if (ctx.deadline != std::chrono::steady_clock::time_point::max()) {
    timeout = std::chrono::duration_cast<std::chrono::milliseconds>(
        ctx.deadline - std::chrono::steady_clock::now());
    if (timeout.count() <= 0) {
      return absl::DeadlineExceededError(absl::StrCat(tool.name, ": deadline passed before the call"));
    }
  }
  AIK_ASSIGN_OR_RETURN(json result, m_->Call(tool.name, args, timeout, ctx.cancelled));
  ToolResult r;
  // Only a boolean true: json::value() would throw on this thread for an
  // isError of another type, which the server chooses.
  auto is_error = result.is_object() ? result.find("isError") : result.end();
  r.is_error = is_error != result.end() && *is_error == true;
  r.content = std::move(result);
  return r;
}

Status McpProvider::Accept(const std::string& tool_name) { return m_->Accept(tool_name); }

std::vector<std::shared_ptr<ToolProvider>> MakeProviders(Manager* manager) {
  std::vector<std::shared_ptr<ToolProvider>> out;
  for (const ServerView& v : manager->Servers()) {
    out.push_back(std::make_shared<McpProvider>(manager, v.name));
  }
  return out;
}

}  // namespace aikernel::tools::mcp
