// rpc::McpService: the Mcp gRPC service (mcp.proto) as a thin adapter: the
// mounted MCP servers' state and counters, through Kernel::Dispatch
// (action mcp.list). Register it through ServerOptions::services.
// Thread-safe; the kernel and the manager must outlive the service.
#pragma once

#include "kernel/kernel.h"
#include "rpc/server.h"  // ServicePtr
#include "tools/mcp/manager.h"

namespace aikernel::rpc {

// `manager` may be null (no [[mcp]] entries): the list is empty.
ServicePtr MakeMcpService(kernel::Kernel* kernel, tools::mcp::Manager* manager);

}  // namespace aikernel::rpc
