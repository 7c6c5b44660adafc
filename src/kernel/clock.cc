#include "kernel/clock.h"

#include <time.h>

namespace aikernel::kernel {
namespace {
int64_t Read(clockid_t id) {
  timespec ts{};
  clock_gettime(id, &ts);
  return int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}
}  // namespace

int64_t SystemClock::RealtimeNs() const { return Read(CLOCK_REALTIME); }
int64_t SystemClock::MonotonicNs() const { return Read(CLOCK_MONOTONIC); }
const SystemClock& SystemClock::Get() {
  static const SystemClock clock;
  return clock;
}

}  // namespace aikernel::kernel
