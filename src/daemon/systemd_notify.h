// daemon::SystemdNotify: the sd_notify protocol (READY, WATCHDOG, STOPPING,
// STATUS). A no-op when NOTIFY_SOCKET is unset, so the daemon runs the same
// under systemd, in a terminal, and in tests (which set NOTIFY_SOCKET to a
// socket of their own to learn when the daemon is ready). Thread-safe.
#pragma once

#include <chrono>
#include <optional>
#include <string>

namespace aikernel::daemon {

class SystemdNotify {
 public:
  static void Ready(const std::string& status);
  static void Status(const std::string& status);
  static void Watchdog();
  static void Stopping();
  static void Reloading();
  // Half of WATCHDOG_USEC, if the service manager asked for watchdog pings.
  static std::optional<std::chrono::microseconds> WatchdogInterval();
};

}  // namespace aikernel::daemon
