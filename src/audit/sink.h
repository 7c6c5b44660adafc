// audit::Sink: where the kernel's dispatch path writes one record per call.
//
// The seam between the kernel and the ledger: the real implementation is
// audit::Ledger; tests substitute one that fails, to prove the kernel fails
// closed. Implementations are thread-safe.
#pragma once

#include "audit/record.h"
#include "common/status.h"

namespace aikernel::audit {

class Sink {
 public:
  virtual ~Sink() = default;

  // Appends `record` and returns only once it is durable (per the
  // configured synchronous mode). On success returns its sequence number.
  // On failure returns UNAVAILABLE naming the cause; nothing was written.
  virtual StatusOr<uint64_t> Append(Record record) = 0;

  // False once the sink cannot take records (closed, or its writer failed
  // and has not recovered). The kernel checks this before executing a call
  // so a call that could not be audited is not executed.
  virtual bool Accepting() const = 0;
};

}  // namespace aikernel::audit
