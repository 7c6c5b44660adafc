#include "tools/registry.h"

#include <algorithm>
#include <map>
#include <set>

#include <spdlog/spdlog.h>

#include "tools/json_schema.h"

namespace aikernel::tools {

using nlohmann::json;

Status ToolProvider::Accept(const std::string& tool_name) {
  return absl::FailedPreconditionError(
      absl::StrCat("tool ", tool_name, ": provider ", name(), " does not pin tools"));
}

Status Registry::AddProvider(std::shared_ptr<ToolProvider> provider) {
  const std::string name = provider->name();
  std::vector<std::shared_ptr<ToolProvider>> before;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& p : providers_) {
      if (p->name() == name) {
        return absl::AlreadyExistsError(absl::StrCat("tool provider ", name, " already exists"));
      }
    }
    before = providers_;
    providers_.push_back(provider);
  }
  for (const auto& t : provider->ListTools()) {
    for (const auto& p : before) {
      if (p->FindTool(t->name) != nullptr) {
        spdlog::warn("tools: {} of provider {} is shadowed by provider {}", t->name, name,
                     p->name());
      }
    }
  }
  return absl::OkStatus();
}

void Registry::RemoveProvider(const std::string& name) {
  std::lock_guard<std::mutex> lock(mu_);
  std::erase_if(providers_, [&](const auto& p) { return p->name() == name; });
}

std::vector<std::shared_ptr<ToolProvider>> Registry::Providers() const {
  std::lock_guard<std::mutex> lock(mu_);
  return providers_;
}

std::vector<std::string> Registry::ProviderNames() const {
  std::vector<std::string> out;
  for (const auto& p : Providers()) out.push_back(p->name());
  return out;
}

std::vector<std::shared_ptr<const Tool>> Registry::List() const {
  std::map<std::string, std::shared_ptr<const Tool>> by_name;
  for (const auto& p : Providers()) {
    for (auto& t : p->ListTools()) by_name.emplace(t->name, std::move(t));  // first one wins
  }
  std::vector<std::shared_ptr<const Tool>> out;
  out.reserve(by_name.size());
  for (auto& [_, t] : by_name) out.push_back(std::move(t));
  return out;
}

StatusOr<Resolved> Registry::Find(const std::string& name) const {
  for (const auto& p : Providers()) {
    if (auto t = p->FindTool(name)) return Resolved{std::move(t), p};
  }
  return absl::NotFoundError(absl::StrCat("no tool named '", name, "' (aictl tool ls)"));
}

Status Registry::CheckCall(const Resolved& r, const json& args, size_t args_bytes) const {
  if (args_bytes > options_.max_args_bytes) {
    return absl::ResourceExhaustedError(absl::StrCat("args: ", args_bytes, " bytes, more than ",
                                                     "[tools] max_args_bytes = ",
                                                     options_.max_args_bytes));
  }
  if (!args.is_object()) {
    return absl::InvalidArgumentError("args: expected a JSON object");
  }
  if (r.tool->refused) {
    return absl::FailedPreconditionError(absl::StrCat(
        "tool ", r.tool->name, " is refused: ", r.tool->refused_reason,
        "; an operator must review it and run 'aictl tool accept ", r.tool->name, "'"));
  }
  return ValidateArgs(r.tool->input_schema, args, "args");
}

StatusOr<ToolResult> Registry::Call(const Resolved& r, const json& args, const CallContext& ctx,
                                    std::string* result_json, size_t* result_bytes) const {
  AIK_ASSIGN_OR_RETURN(ToolResult result, r.provider->Call(*r.tool, args, ctx));
  *result_json = result.content.dump(-1, ' ', false, json::error_handler_t::replace);
  const size_t n = result_json->size();
  *result_bytes = n;
  if (n > ctx.max_result_bytes) {
    result_json->clear();
    return absl::ResourceExhaustedError(absl::StrCat("tool ", r.tool->name, ": result of ", n,
                                                     " bytes is over the cap of ",
                                                     ctx.max_result_bytes,
                                                     " ([tools] max_result_bytes)"));
  }
  return result;
}

Status Registry::Accept(const std::string& name) {
  AIK_ASSIGN_OR_RETURN(Resolved r, Find(name));
  return r.provider->Accept(name);
}

namespace {

bool EqualsIgnoreCase(const std::string& a, const std::string& b) {
  return a.size() == b.size() &&
         std::equal(a.begin(), a.end(), b.begin(), [](unsigned char x, unsigned char y) {
           return std::tolower(x) == std::tolower(y);
         });
}

json RedactAt(const json& v, const std::vector<std::string>& names, int depth) {
  if (depth > 64) return "[too deep]";
  if (v.is_array()) {
    json out = json::array();
    for (const json& e : v) out.push_back(RedactAt(e, names, depth + 1));
    return out;
  }
  if (!v.is_object()) return v;
  json out = json::object();
  for (auto it = v.begin(); it != v.end(); ++it) {
    bool secret = std::any_of(names.begin(), names.end(),
                              [&](const std::string& n) { return EqualsIgnoreCase(n, it.key()); });
    out[it.key()] = secret ? json("[redacted]") : RedactAt(it.value(), names, depth + 1);
  }
  return out;
}

}  // namespace

json Redact(const json& v, const std::vector<std::string>& names) { return RedactAt(v, names, 0); }

}  // namespace aikernel::tools
