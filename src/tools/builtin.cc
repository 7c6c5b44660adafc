#include "tools/builtin.h"

#include <time.h>

#include <spdlog/spdlog.h>

namespace aikernel::tools {

using nlohmann::json;

std::shared_ptr<const Tool> MakeBuiltinTool(std::string name, std::string description,
                                            const char* schema) {
  auto t = std::make_shared<Tool>();
  t->name = std::move(name);
  t->description = std::move(description);
  // The schemas are literals in this part; a typo is a programming error
  // that the unit tests catch (every builtin's schema is checked to parse).
  t->input_schema = json::parse(schema, nullptr, /*allow_exceptions=*/false);
  if (t->input_schema.is_discarded()) {
    spdlog::critical("builtin tool {}: its schema does not parse", t->name);
    t->input_schema = json::object();
  }
  t->provider = "builtin";
  return t;
}

StatusOr<std::shared_ptr<BuiltinProvider>> BuiltinProvider::Create(const BuiltinOptions& options) {
  std::shared_ptr<BuiltinProvider> p(new BuiltinProvider());
  for (auto& t : ClockTools()) p->Add(std::move(t));
  AIK_ASSIGN_OR_RETURN(std::vector<BuiltinTool> fs, FsTools(options));
  for (auto& t : fs) p->Add(std::move(t));
  for (auto& t : HttpTools(options)) p->Add(std::move(t));
  for (auto& t : ExecTools(options)) p->Add(std::move(t));
  return p;
}

void BuiltinProvider::Add(BuiltinTool t) {
  std::string name = t.tool->name;
  tools_.emplace(std::move(name), std::move(t));
}

std::vector<std::shared_ptr<const Tool>> BuiltinProvider::ListTools() const {
  std::vector<std::shared_ptr<const Tool>> out;
  out.reserve(tools_.size());
  for (const auto& [_, t] : tools_) out.push_back(t.tool);
  return out;
}

std::shared_ptr<const Tool> BuiltinProvider::FindTool(const std::string& name) const {
  auto it = tools_.find(name);
  return it == tools_.end() ? nullptr : it->second.tool;
}

StatusOr<json> BuiltinProvider::PolicyContext(const Tool& tool, const json& args) const {
  auto it = tools_.find(tool.name);
  if (it == tools_.end() || !it->second.policy_context) return json::object();
  return it->second.policy_context(args);
}

StatusOr<ToolResult> BuiltinProvider::Call(const Tool& tool, const json& args,
                                           const CallContext& ctx) {
  auto it = tools_.find(tool.name);
  if (it == tools_.end()) return absl::NotFoundError(absl::StrCat("no builtin tool ", tool.name));
  return it->second.call(args, ctx);
}

// ------------------------------------------------------------- clock.now

std::vector<BuiltinTool> ClockTools() {
  BuiltinTool now;
  now.tool = MakeBuiltinTool(
      "clock.now",
      "The current time: unix_ns (ns since the Unix epoch, UTC), rfc3339 (UTC, ns precision) "
      "and monotonic_ns (CLOCK_MONOTONIC, for measuring intervals).",
      R"({"type":"object","properties":{},"additionalProperties":false})");
  now.call = [](const json&, const CallContext&) -> StatusOr<ToolResult> {
    timespec rt{}, mono{};
    clock_gettime(CLOCK_REALTIME, &rt);
    clock_gettime(CLOCK_MONOTONIC, &mono);
    tm utc{};
    gmtime_r(&rt.tv_sec, &utc);
    char buf[64];
    size_t n = strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &utc);
    snprintf(buf + n, sizeof(buf) - n, ".%09ldZ", rt.tv_nsec);
    ToolResult r;
    r.content = {{"unix_ns", int64_t{rt.tv_sec} * 1'000'000'000 + rt.tv_nsec},
                 {"rfc3339", buf},
                 {"monotonic_ns", int64_t{mono.tv_sec} * 1'000'000'000 + mono.tv_nsec}};
    return r;
  };
  return {std::move(now)};
}

}  // namespace aikernel::tools
