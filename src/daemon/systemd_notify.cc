#include "daemon/systemd_notify.h"

#include <systemd/sd-daemon.h>
#include <unistd.h>

namespace aikernel::daemon {

void SystemdNotify::Ready(const std::string& status) {
  sd_notifyf(0, "READY=1\nSTATUS=%s\nMAINPID=%d", status.c_str(),
             static_cast<int>(getpid()));
}
void SystemdNotify::Status(const std::string& status) {
  sd_notifyf(0, "STATUS=%s", status.c_str());
}
void SystemdNotify::Watchdog() { sd_notify(0, "WATCHDOG=1"); }
void SystemdNotify::Stopping() { sd_notify(0, "STOPPING=1"); }
void SystemdNotify::Reloading() { sd_notify(0, "RELOADING=1"); }

std::optional<std::chrono::microseconds> SystemdNotify::WatchdogInterval() {
  uint64_t usec = 0;
  if (sd_watchdog_enabled(0, &usec) <= 0 || usec == 0) return std::nullopt;
  return std::chrono::microseconds(usec / 2);
}

}  // namespace aikernel::daemon
