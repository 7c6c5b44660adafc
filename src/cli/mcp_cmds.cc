// aictl mcp ls: the MCP servers the daemon mounts (docs/mcp.md), with their
// state, counters and last fault. Their tools are `aictl tool ls`.
#include <iostream>
#include <memory>

#include "cli/cli.h"
#include "cli/format.h"
#include "cli/session.h"

namespace aikernel::cli {

namespace {

using nlohmann::ordered_json;

int RunList(const Globals& g) {
  int rc = 0;
  auto client = ConnectOrReport(g, &rc);
  if (!client) return rc;
  auto r = client->ListMcpServers();
  if (!r.ok()) return Report("mcp ls", r.status());
  if (g.json) {
    ordered_json arr = ordered_json::array();
    for (const McpServerInfo& s : r->servers) {
      arr.push_back({{"name", s.name},
                     {"state", s.state},
                     {"pid", s.pid},
                     {"protocol_version", s.protocol_version},
                     {"server_info", s.server_info},
                     {"starts", s.starts},
                     {"requests", s.requests},
                     {"calls", s.calls},
                     {"calls_failed", s.calls_failed},
                     {"cancellations", s.cancellations},
                     {"protocol_errors", s.protocol_errors},
                     {"tools", s.tools},
                     {"refused", s.refused},
                     {"url", s.url},
                     {"headers", s.headers},
                     {"resumes", s.resumes},
                     {"late_answers", s.late_answers},
                     {"last_error", s.last_error}});
    }
    std::cout << DumpJson(arr, 2) << "\n";
    return kExitOk;
  }
  Table table({"NAME", "STATE", "PID", "TOOLS", "REFUSED", "STARTS", "CALLS", "FAILED",
               "LAST ERROR"});
  for (const McpServerInfo& s : r->servers) {
    table.AddRow({s.name, s.state, s.pid ? std::to_string(s.pid) : "-", std::to_string(s.tools),
                  std::to_string(s.refused), std::to_string(s.starts), std::to_string(s.calls),
                  std::to_string(s.calls_failed), s.last_error.empty() ? "-" : s.last_error});
  }
  std::cout << table.Render();
  return kExitOk;
}

}  // namespace

void AddMcpCommands(CLI::App& mcp, Context& ctx) {
  CLI::App* ls = mcp.add_subcommand("ls", "The MCP servers, their state, counters and last fault");
  ls->callback([&ctx] { ctx.exit_code = RunList(ctx.globals); });
}

}  // namespace aikernel::cli
