// daemon::Daemon: aikerneld's wiring and lifetime.
//
// Run() loads the configuration, opens the node key and the ledger, builds
// the kernel and the gRPC services, binds the Unix socket, tells systemd
// READY=1, and serves until SIGTERM/SIGINT. Then: STOPPING=1, stop
// accepting, drain in-flight calls (daemon.drain_timeout_ms), close the
// ledger (final checkpoint, fsync), remove the socket, return 0. SIGHUP (or
// Admin.Reload) re-reads the configuration, applies what can change live and
// logs what changed. The Boost.Asio loop runs on the calling thread: it
// accepts connections and handles signals and the watchdog; nothing on it
// blocks.
#pragma once

#include <optional>
#include <string>

namespace aikernel::daemon {

struct Flags {
  std::string config_path = "/etc/aikernel/aikerneld.toml";
  bool config_explicit = false;  // --config given: a missing file is an error
  std::optional<std::string> state_dir;
  std::optional<std::string> socket;
  std::optional<std::string> policy_dir;
  bool foreground = false;
};

// Exit codes: 0 clean stop; 1 runtime failure; 78 (EX_CONFIG) bad
// configuration, which the systemd unit does not restart on.
int Run(const Flags& flags);

constexpr int kExitConfig = 78;

}  // namespace aikernel::daemon
