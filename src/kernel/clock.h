// kernel::Clock: the seam through which the kernel reads time, so tests can
// control it. SystemClock is the real one. Implementations are thread-safe.
#pragma once

#include <cstdint>

namespace aikernel::kernel {

class Clock {
 public:
  virtual ~Clock() = default;
  virtual int64_t RealtimeNs() const = 0;   // ns since the Unix epoch
  virtual int64_t MonotonicNs() const = 0;  // for durations
};

class SystemClock final : public Clock {
 public:
  int64_t RealtimeNs() const override;
  int64_t MonotonicNs() const override;
  static const SystemClock& Get();
};

}  // namespace aikernel::kernel
