// rpc tools service: the Tools gRPC service (proto/aikernel/v1/tools.proto)
// as a thin adapter over the kernel and its tool registry.
//
// CallTool parses the arguments, then dispatches with a `prepare` step
// (kernel.h) that runs before policy: the tool exists, the arguments are an
// object within [tools] max_args_bytes matching the tool's schema, the tool
// is not refused; it also builds the policy context (context.args: the
// arguments with secret-looking keys redacted; plus what the provider adds,
// e.g. context.http). The ledger digests the request with the redacted
// arguments and its record gets "tool.provider:<p>" and
// "tool.result_bytes:<n>". The tool runs on the gRPC thread of the call
// (registry.h has the threading rules). Register it through
// rpc::ServerOptions::services; it must outlive the RpcServer, the kernel
// must outlive it. Thread-safe.
#pragma once

#include "kernel/kernel.h"
#include "rpc/server.h"  // ServicePtr

namespace aikernel::rpc {

ServicePtr MakeToolsService(kernel::Kernel* kernel);

}  // namespace aikernel::rpc
