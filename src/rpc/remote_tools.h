// rpc remote tools: an agent's call to a tool another node hosts, named
// "<node>/<tool>" in Tools.CallTool (docs/net.md "Remote tool calls").
//
// CallRemoteTool() is one Kernel::Dispatch of tool.call on this node, with
// resource Tool::"<node>/<tool>" and context {args (redacted), remote: true,
// peer: <the peer's name>}, under this node's policy. Before policy
// (`prepare`, a failure is recorded as "precheck"): the arguments are JSON,
// <node> is a federated peer (by name, else by trust domain: NOT_FOUND
// naming it otherwise), and the caller is an agent (an operator calls as
// one with as_agent). Allowed, it forwards the call over the peer's
// mutual-TLS link (net::RemoteToolTransport) with the node's signed
// assertion naming the agent and the call's correlation id; the peer decides
// tool.call again with the remote agent as principal and runs the tool.
// Both ledger records carry "corr:<id>"; this node's also
// "tool.provider:peer:<name>" and "peer.audit_seq:<n>" (the peer's record).
// Outcomes: the peer's (PERMISSION_DENIED, NOT_FOUND, ...) with its message
// prefixed "peer <name>: "; UNAVAILABLE naming the peer when it cannot be
// reached. The peer checks the arguments against the tool's schema, not
// this node.
#pragma once

namespace grpc {
class ServerContext;
class Status;
}  // namespace grpc
namespace aikernel::v1 {
class CallToolRequest;
class CallToolResponse;
}  // namespace aikernel::v1
namespace aikernel::kernel {
class Kernel;
}
namespace aikernel::net {
class Messenger;
class RemoteToolTransport;
}  // namespace aikernel::net

namespace aikernel::rpc {

struct RemoteTools {
  net::Messenger* messenger = nullptr;            // the federated peers
  net::RemoteToolTransport* transport = nullptr;  // null: federation off (UNAVAILABLE)
};

grpc::Status CallRemoteTool(kernel::Kernel* kernel, const RemoteTools& remote,
                            grpc::ServerContext* ctx, const ::aikernel::v1::CallToolRequest& req,
                            ::aikernel::v1::CallToolResponse* resp);

}  // namespace aikernel::rpc
