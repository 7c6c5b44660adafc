// The command tree and the run loop shared by main() and the tests.
#include <exception>
#include <iostream>

#include "cli/cli.h"
#include "cli/format.h"
#include "cli/timeparse.h"

#ifndef AIKERNEL_VERSION
#define AIKERNEL_VERSION "0.0.0"
#endif

namespace aikernel::cli {

CLI::Validator DurationValidator() {
  return CLI::Validator(
      [](std::string& s) -> std::string {
        std::string err;
        return ParseDuration(s, &err) ? std::string() : err;
      },
      "");
}

CLI::Validator TimeValidator() {
  return CLI::Validator(
      [](std::string& s) -> std::string {
        std::string err;
        return ParseTimeArg(s, NowNs(), &err) ? std::string() : err;
      },
      "");
}

void BuildApp(CLI::App& app, Context& ctx) {
  app.description(
      "aictl: control and inspect the local aikernel daemon (aikerneld).\n"
      "Every call goes through the daemon's governed path and is audited; the daemon knows who "
      "you are from the socket, not from anything you pass.");
  // Global flags may come before or after the command (fallthrough is
  // inherited by every subcommand created below).
  app.fallthrough();
  app.require_subcommand(1);
  app.set_version_flag("--version", std::string("aictl ") + AIKERNEL_VERSION);
  app.add_option("--socket", ctx.globals.socket,
                 "The daemon's Unix socket (default: $AIKERNEL_SOCKET, else "
                 "/run/aikernel/aikernel.sock; an inherited $AIKERNEL_FD wins over both "
                 "unless --socket is given)")
      ->type_name("PATH");
  app.add_flag("--json", ctx.globals.json,
               "Machine output: one JSON document (JSON lines for audit tail and export)");
  app.add_option("--timeout", ctx.globals.timeout,
                 "Deadline for connecting and for each call, e.g. 5s or 2m (default 30s; audit "
                 "streams have none unless given)")
      ->type_name("DURATION")
      ->check(DurationValidator());
  app.footer("Exit codes: 0 ok, 1 error, 2 usage, 3 denied by the daemon.\n"
             "Run 'aictl <command> --help' for a command's options.");

  AddNodeCommands(app, ctx);
  CLI::App* agent = app.add_subcommand(
      "agent", "Run and manage agents: run, ls, inspect, stop, kill, restart, logs, rm "
               "(operators only)");
  agent->require_subcommand(1);
  agent->footer(kGlobalFooter);
  AddAgentCommands(*agent, ctx);
  CLI::App* audit = app.add_subcommand(
      "audit", "Read and check the audit ledger: tail, query, export (through the daemon) and "
               "verify (offline, on the file)");
  audit->require_subcommand(1);
  audit->footer(kGlobalFooter);
  AddAuditCommands(*audit, ctx);
  AddVerifyCommand(*audit, ctx);
  AddPolicyCommands(app, ctx);
  CLI::App* mem = app.add_subcommand(
      "mem", "Agent memory through the daemon: namespaces, keys and versions, documents and "
             "search, the event log, export and import");
  mem->require_subcommand(1);
  mem->footer(kGlobalFooter);
  AddMemoryCommands(*mem, ctx);
  CLI::App* msg = app.add_subcommand(
      "msg", "Agent messages through the daemon: send, recv, ack, ls (docs/net.md)");
  msg->require_subcommand(1);
  msg->footer(kGlobalFooter);
  AddMsgCommands(*msg, ctx);

  CLI::App* identity = app.add_subcommand(
      "identity", "The node's SPIFFE identity: trust bundle and CA rotation");
  identity->require_subcommand(1);
  identity->footer(kGlobalFooter);
  AddIdentityCommands(*identity, ctx);
  CLI::App* mcp = app.add_subcommand(
      "mcp", "The MCP servers the daemon mounts as tool providers: ls (docs/mcp.md)");
  mcp->require_subcommand(1);
  mcp->footer(kGlobalFooter);
  AddMcpCommands(*mcp, ctx);
  CLI::App* tool = app.add_subcommand(
      "tool", "Tools through the kernel: ls, describe, call (schema-checked, decided by policy, "
              "audited), accept");
  tool->require_subcommand(1);
  tool->footer(kGlobalFooter);
  AddToolCommands(*tool, ctx);
  CLI::App* node = app.add_subcommand(
      "node", "This node's federation: bundle, peer add|ls|rm (docs/net.md)");
  node->require_subcommand(1);
  node->footer(kGlobalFooter);
  AddFederationCommands(*node, ctx);
}

namespace {
// The innermost command the parser entered: "aictl audit query".
std::string CommandPath(const CLI::App& app) {
  std::string path = app.get_name();
  const CLI::App* cur = &app;
  for (;;) {
    auto subs = cur->get_subcommands();
    if (subs.empty()) break;
    cur = subs.front();
    path += " " + cur->get_name();
  }
  return path;
}
}  // namespace

std::string UsageMessage(const CLI::App& app, const std::string& what) {
  std::string cmd = CommandPath(app);
  std::string msg = what;
  // CLI11 reports an unknown command as a missing one; name it.
  std::vector<std::string> rest = app.remaining();
  if (!rest.empty() && msg.find("subcommand is required") != std::string::npos) {
    msg = "unknown command '" + rest.front() + "'";
  }
  return "aictl: " + msg + "\nRun '" + cmd + " --help' for usage.\n";
}

int RunAictl(int argc, char** argv) {
  CLI::App app("aictl", "aictl");
  Context ctx;
  if (argc <= 1) {  // no command: show what there is
    BuildApp(app, ctx);
    std::cerr << app.help();
    return kExitUsage;
  }
  try {
    BuildApp(app, ctx);
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);  // --help, --version
    std::cerr << UsageMessage(app, e.what());
    return kExitUsage;
  } catch (const std::exception& e) {
    std::cerr << "aictl: internal error: " << e.what() << "\n";
    return kExitError;
  }
  return ctx.exit_code;
}

}  // namespace aikernel::cli
