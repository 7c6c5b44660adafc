// aictl tool ls | describe NAME | call NAME --args JSON [--as AGENT] | accept NAME.
#include <iostream>
#include <memory>

#include "cli/cli.h"
#include "cli/format.h"
#include "cli/session.h"
#include "cli/timeparse.h"

namespace aikernel::cli {

namespace {

using nlohmann::ordered_json;

// A JSON text from the daemon as a JSON value (kept as a string if it does
// not parse, which the daemon never sends).
ordered_json ParsedOrText(const std::string& text) {
  ordered_json j = ordered_json::parse(text, nullptr, /*allow_exceptions=*/false);
  return j.is_discarded() ? ordered_json(text) : j;
}

ordered_json ToolJson(const ToolInfo& t) {
  ordered_json j = {{"name", t.name},
                    {"provider", t.provider},
                    {"description", t.description},
                    {"input_schema", ParsedOrText(t.input_schema_json)},
                    {"refused", t.refused}};
  if (t.refused) j["refused_reason"] = t.refused_reason;
  if (!t.pinned_hash.empty()) j["pinned_hash"] = t.pinned_hash;
  return j;
}

std::string FirstLine(const std::string& s, size_t max) {
  std::string line = s.substr(0, s.find('\n'));
  return line.size() <= max ? line : line.substr(0, max - 3) + "...";
}

int RunList(const Globals& g, const std::string& prefix) {
  int rc = 0;
  auto client = ConnectOrReport(g, &rc);
  if (!client) return rc;
  auto r = client->ListTools(prefix);
  if (!r.ok()) return Report("tool ls", r.status());
  if (g.json) {
    ordered_json arr = ordered_json::array();
    for (const auto& t : r->tools) arr.push_back(ToolJson(t));
    std::cout << DumpJson(arr, 2) << "\n";
    return kExitOk;
  }
  Table table({"NAME", "PROVIDER", "STATE", "DESCRIPTION"});
  for (const auto& t : r->tools) {
    table.AddRow({t.name, t.provider, t.refused ? "refused" : "ready", FirstLine(t.description, 70)});
  }
  std::cout << table.Render();
  return kExitOk;
}

int RunDescribe(const Globals& g, const std::string& name) {
  int rc = 0;
  auto client = ConnectOrReport(g, &rc);
  if (!client) return rc;
  auto r = client->DescribeTool(name);
  if (!r.ok()) return Report("tool describe", r.status());
  const ToolInfo& t = r->tool;
  if (g.json) {
    std::cout << DumpJson(ToolJson(t), 2) << "\n";
    return kExitOk;
  }
  std::vector<std::pair<std::string, std::string>> fields = {
      {"name", t.name}, {"provider", t.provider}, {"state", t.refused ? "refused" : "ready"}};
  if (t.refused) fields.push_back({"refused", t.refused_reason});
  if (!t.pinned_hash.empty()) fields.push_back({"pinned", t.pinned_hash});
  fields.push_back({"description", t.description});
  std::cout << RenderFields(fields) << "arguments (JSON Schema):\n"
            << DumpJson(ParsedOrText(t.input_schema_json), 2) << "\n";
  return kExitOk;
}

struct CallArgs {
  std::string name;
  std::string args = "{}";
  std::string as_agent;
  std::string tool_timeout;
};

int RunCall(const Globals& g, const CallArgs& a) {
  // Refuse bad JSON here with the parser's position; the daemon would too.
  if (ordered_json::parse(a.args, nullptr, false).is_discarded()) {
    std::cerr << "aictl: tool call: --args is not valid JSON: " << a.args << "\n";
    return kExitUsage;
  }
  int rc = 0;
  auto client = ConnectOrReport(g, &rc);
  if (!client) return rc;
  ToolCallOptions o;
  o.as_agent = a.as_agent;
  if (!a.tool_timeout.empty()) {
    std::string err;
    if (auto ns = ParseDuration(a.tool_timeout, &err)) {
      o.timeout = std::chrono::milliseconds(*ns / 1'000'000);
    }
  }
  auto r = client->CallTool(a.name, a.args, o);
  if (!r.ok()) return Report("tool call", r.status());
  if (g.json) {
    std::cout << DumpJson({{"tool", a.name},
                           {"provider", r->provider},
                           {"is_error", r->is_error},
                           {"result", ParsedOrText(r->result_json)},
                           {"result_bytes", r->result_bytes},
                           {"latency_ns", r->latency.count()},
                           {"audit_sequence", r->audit_sequence}},
                          2)
              << "\n";
  } else {
    std::cout << DumpJson(ParsedOrText(r->result_json), 2) << "\n";
    if (r->is_error) std::cerr << "aictl: tool call: " << a.name << " reported an error\n";
  }
  return r->is_error ? kExitError : kExitOk;
}

int RunAccept(const Globals& g, const std::string& name) {
  int rc = 0;
  auto client = ConnectOrReport(g, &rc);
  if (!client) return rc;
  auto r = client->AcceptTool(name);
  if (!r.ok()) return Report("tool accept", r.status());
  if (g.json) {
    std::cout << DumpJson(ToolJson(r->tool), 2) << "\n";
  } else {
    std::cout << "accepted " << r->tool.name << " (audit record #" << r->audit_sequence << ")\n";
  }
  return kExitOk;
}

}  // namespace

void AddToolCommands(CLI::App& tool, Context& ctx) {
  auto prefix = std::make_shared<std::string>();
  CLI::App* ls = tool.add_subcommand("ls", "List the tools: name, provider, state (Tools.ListTools)");
  ls->add_option("prefix", *prefix, "Only tools whose name starts with this")->type_name("PREFIX");
  ls->footer(kGlobalFooter);
  ls->callback([&ctx, prefix] { ctx.exit_code = RunList(ctx.globals, *prefix); });

  auto name = std::make_shared<std::string>();
  CLI::App* describe =
      tool.add_subcommand("describe", "Show one tool and its argument schema (Tools.DescribeTool)");
  describe->add_option("name", *name, "Tool name, e.g. fs.read")->required()->type_name("NAME");
  describe->footer(kGlobalFooter);
  describe->callback([&ctx, name] { ctx.exit_code = RunDescribe(ctx.globals, *name); });

  auto ca = std::make_shared<CallArgs>();
  CLI::App* call = tool.add_subcommand(
      "call", "Run a tool through the kernel (checked against its schema, decided by policy, "
              "audited) and print its result (Tools.CallTool). Exit 1 if the tool reports an "
              "error.");
  call->add_option("name", ca->name, "Tool name")->required()->type_name("NAME");
  call->add_option("--args", ca->args, "Arguments as a JSON object (default {})")
      ->type_name("JSON");
  call->add_option("--as", ca->as_agent,
                   "Operators: decide the call under this agent's policy (for debugging; "
                   "audited with you as the caller)")
      ->type_name("AGENT");
  call->add_option("--tool-timeout", ca->tool_timeout,
                   "Time the tool may take (default: the daemon's [tools] call_timeout_ms)")
      ->type_name("DURATION")
      ->check(DurationValidator());
  call->footer(kGlobalFooter);
  call->callback([&ctx, ca] { ctx.exit_code = RunCall(ctx.globals, *ca); });

  auto accept_name = std::make_shared<std::string>();
  CLI::App* accept = tool.add_subcommand(
      "accept", "Accept a tool refused because its description or schema changed since it was "
                "pinned (Tools.AcceptTool; operators)");
  accept->add_option("name", *accept_name, "Tool name")->required()->type_name("NAME");
  accept->footer(kGlobalFooter);
  accept->callback([&ctx, accept_name] { ctx.exit_code = RunAccept(ctx.globals, *accept_name); });
}

}  // namespace aikernel::cli
