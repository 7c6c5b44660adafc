// rpc::PolicyService: the Policy gRPC service (policy.proto) as a thin
// adapter over the kernel: policy reload and operator approvals. Register it
// through ServerOptions::services. Every handler dispatches through
// Kernel::Dispatch. Thread-safe; the kernel must outlive the service.
#pragma once

#include <memory>

#include "kernel/kernel.h"
#include "rpc/server.h"  // ServicePtr

namespace aikernel::rpc {

ServicePtr MakePolicyService(kernel::Kernel* kernel);

}  // namespace aikernel::rpc
