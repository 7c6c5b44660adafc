// aictl's command wiring: the global flags every command sees and the
// functions that add each command group to the CLI11 app. main() lives in
// aictl.cc. This header includes neither the SDK nor daemon headers, so the
// offline commands (audit verify) and the SDK-based ones stay apart.
#pragma once

#include <string>

#include <CLI/CLI.hpp>

namespace aikernel::cli {

struct Globals {
  std::string socket;       // --socket; empty: AIKERNEL_FD, AIKERNEL_SOCKET, default
  bool json = false;        // --json
  // --timeout, a duration (timeparse.h). Empty: 30s for single calls and for
  // connecting; no deadline for audit streams (query, export, tail).
  std::string timeout;
};

// Shared by all commands: the flags, and the exit code the command that ran
// leaves behind.
struct Context {
  Globals globals;
  int exit_code = 0;
};

// status, whoami, ping, reload (node_cmds.cc).
void AddNodeCommands(CLI::App& app, Context& ctx);
// audit tail, audit query, audit export (audit_cmds.cc).
void AddAuditCommands(CLI::App& audit, Context& ctx);
// identity bundle, identity rotate-ca (identity_cmds.cc).
void AddIdentityCommands(CLI::App& identity, Context& ctx);
// audit verify (verify_cmd.cc): offline, no daemon.
void AddVerifyCommand(CLI::App& audit, Context& ctx);
// mem ls|get|put|rm|history|search|export|import (mem_cmds.cc), append,
// events, doc, compact, ns (mem_admin_cmds.cc).
void AddMemoryCommands(CLI::App& mem, Context& ctx);

// agent run, ls, inspect, stop, kill, restart, logs, rm (agent_cmds.cc).
void AddAgentCommands(CLI::App& agent, Context& ctx);
// policy reload|check|eval, approvals ls|approve|deny (policy_cmds.cc).
void AddPolicyCommands(CLI::App& app, Context& ctx);
// policy explain (explain_cmd.cc), added to the `policy` command.
void AddPolicyExplainCommand(CLI::App& policy, Context& ctx);

// msg send|recv|ack|ls (msg_cmds.cc).
void AddMsgCommands(CLI::App& msg, Context& ctx);
// mcp ls (mcp_cmds.cc).
void AddMcpCommands(CLI::App& mcp, Context& ctx);
// tool ls|describe|call|accept (tool_cmds.cc).
void AddToolCommands(CLI::App& tool, Context& ctx);

// node bundle, node peer add|ls|rm (federation_cmds.cc).
void AddFederationCommands(CLI::App& node, Context& ctx);

// Builds the whole command tree into `app` (used by main and by tests).
void BuildApp(CLI::App& app, Context& ctx);

// Parses argv and runs the chosen command; returns aictl's exit code
// (format.h). Help and --version return 0; usage errors 2.
int RunAictl(int argc, char** argv);

// "aictl: <what>\nRun '<command> --help' for usage.\n" for a parse error.
std::string UsageMessage(const CLI::App& app, const std::string& what);

// A CLI11 validator for durations ("30s", "1h30m").
CLI::Validator DurationValidator();
// A CLI11 validator for time arguments (RFC 3339, date, now, relative).
CLI::Validator TimeValidator();

// Footer added to every command's --help.
inline constexpr const char* kGlobalFooter =
    "Global options (before or after the command): --socket PATH, --json, --timeout DURATION.\n"
    "Exit codes: 0 ok, 1 error, 2 usage, 3 denied by the daemon.";

}  // namespace aikernel::cli
