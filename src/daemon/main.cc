// aikerneld: the aikernel daemon. See docs/operating.md.
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <iostream>

#include "common/version.h"
#include "daemon/daemon.h"

int main(int argc, char** argv) {
  aikernel::daemon::Flags flags;
  CLI::App app{
      "aikerneld: the aikernel daemon. Runs agents as confined processes and\n"
      "serves the syscall surface (gRPC over a Unix socket) through which every\n"
      "call is authenticated, authorized and written to the audit ledger.\n\n"
      "Runs in the foreground (it never forks); under systemd use Type=notify.\n"
      "Signals: SIGTERM/SIGINT drain and stop; SIGHUP reloads the configuration.",
      "aikerneld"};
  std::string config, state_dir, socket, policy_dir;
  bool version = false;
  app.add_option("--config", config,
                 "Configuration file (TOML). Default /etc/aikernel/aikerneld.toml; "
                 "if that default is missing, built-in defaults are used.");
  app.add_option("--state-dir", state_dir,
                 "State directory (ledger, keys); overrides daemon.state_dir.");
  app.add_option("--socket", socket,
                 "Unix socket path; overrides daemon.socket.");
  app.add_option("--policy-dir", policy_dir,
                 "Policy store directory (policies/*.cedar, entities.json); overrides policy.dir.");
  app.add_flag("--foreground", flags.foreground,
               "Log for a terminal (timestamps, colour) rather than for journald. "
               "Implied when stderr is a terminal.");
  app.add_flag("--version", version, "Print the version and exit.");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  if (version) {
    std::cout << "aikerneld " << aikernel::kVersion << "\n";
    return 0;
  }
  if (!config.empty()) {
    flags.config_path = config;
    flags.config_explicit = true;
  }
  if (!state_dir.empty()) flags.state_dir = state_dir;
  if (!socket.empty()) flags.socket = socket;
  if (!policy_dir.empty()) flags.policy_dir = policy_dir;
  if (isatty(STDERR_FILENO)) flags.foreground = true;
  return aikernel::daemon::Run(flags);
}
