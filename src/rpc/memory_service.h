// rpc memory service: the Memory gRPC service (proto/aikernel/v1/memory.proto)
// as a thin adapter over the kernel.
//
// Each handler names its syscall (kernel/syscalls.h) and resource
// ("memory:<namespace>", or "memories:<prefix>" for calls that span
// namespaces), calls Kernel::Dispatch, and inside the `execute` closure
// converts protobuf to memory:: values, calls the memory subsystem through
// Kernel::Memory() / MemoryForWrite(), and converts the result back. It holds
// no policy. Register it through rpc::ServerOptions::services; it must
// outlive the RpcServer, the kernel must outlive it. Handlers are
// thread-safe (gRPC calls them concurrently).
#pragma once

#include "kernel/kernel.h"
#include "rpc/server.h"  // ServicePtr

namespace aikernel::rpc {

ServicePtr MakeMemoryService(kernel::Kernel* kernel);

}  // namespace aikernel::rpc
