// Shared by the kernel tests: an audit sink that keeps what it is given and
// can be told to fail or to stop accepting. Thread-safe.
#pragma once

#include <mutex>
#include <vector>

#include "audit/sink.h"

namespace aikernel::kernel::testutil {

class RecordingSink : public audit::Sink {
 public:
  StatusOr<uint64_t> Append(audit::Record r) override {
    std::lock_guard<std::mutex> lock(mu);
    if (fail_appends) return absl::UnavailableError("disk on fire");
    records.push_back(std::move(r));
    return records.size();
  }
  bool Accepting() const override { return accepting; }
  std::vector<audit::Record> Records() {
    std::lock_guard<std::mutex> lock(mu);
    return records;
  }

  std::mutex mu;
  std::vector<audit::Record> records;
  bool fail_appends = false;
  bool accepting = true;
};

}  // namespace aikernel::kernel::testutil
