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
// (registry.h has the threading rules). A name "<node>/<tool>" is a tool of
// peer node <node> (rpc/remote_tools.h). Register it through
// rpc::ServerOptions::services; it must outlive the RpcServer, the kernel
// (and `remote`'s parts) must outlive it. Thread-safe.
//
// DispatchToolCall() is that call path on its own, for Peer.CallTool
// (rpc/federation_service.cc): a remote agent's call to a tool of this
// node, with the principal, correlation id and extra context it sets.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "kernel/kernel.h"
#include "rpc/remote_tools.h"
#include "rpc/server.h"  // ServicePtr

namespace grpc {
class ServerContext;
}
namespace aikernel::v1 {
class CallToolRequest;
class CallToolResponse;
}  // namespace aikernel::v1

namespace aikernel::rpc {

ServicePtr MakeToolsService(kernel::Kernel* kernel, RemoteTools remote = {});

// "tool:<name>" as the ledger shows it (a long name keeps a bounded prefix).
std::string ToolResource(const std::string& name);

// A call's arguments ("" means {}), parsed, and redacted for policy and the
// ledger's digest; or why they could not be read (INVALID_ARGUMENT naming
// args_json / args).
struct ToolArgs {
  nlohmann::json value;
  Status error;
  nlohmann::json redacted;
};
ToolArgs ReadToolArgs(const std::string& text, const std::vector<std::string>& redact);

struct ToolCallOrigin {
  // Its row in the syscall table: Tools.CallTool or Peer.CallTool (both
  // action tool.call).
  kernel::Syscall syscall = kernel::Syscall::kToolCall;
  // Set: the caller as the Peer service established it (kernel.h
  // CallRequest::authenticated); null: the connection's.
  const kernel::Principal* authenticated = nullptr;
  std::string correlation;
  // Merged into the policy context after the tool's own (context.remote,
  // context.peer).
  nlohmann::json extra_context = nlohmann::json::object();
  // Annotations added to the record first (e.g. the peer's name).
  std::vector<std::string> annotations;
};

kernel::CallResult DispatchToolCall(kernel::Kernel* kernel, grpc::ServerContext* ctx,
                                    const ::aikernel::v1::CallToolRequest& req,
                                    ::aikernel::v1::CallToolResponse* resp,
                                    const ToolCallOrigin& origin);

}  // namespace aikernel::rpc
