// rpc::PolicyService: the Policy gRPC service (policy.proto) as a thin
// adapter over the kernel: policy reload and operator approvals. Register it
// through ServerOptions::services. Every handler dispatches through
// Kernel::Dispatch. Thread-safe; the kernel must outlive the service.
#pragma once

#include <memory>

#include "kernel/kernel.h"

namespace grpc {
class Service;
}

namespace aikernel::rpc {

// Owns a service without the owner needing gRPC's headers.
using ServicePtr = std::unique_ptr<grpc::Service, void (*)(grpc::Service*)>;

ServicePtr MakePolicyService(kernel::Kernel* kernel);

}  // namespace aikernel::rpc
