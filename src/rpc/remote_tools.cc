#include "rpc/remote_tools.h"

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <optional>
#include <string>

#include "aikernel/v1/tools.pb.h"
#include "net/messenger.h"
#include "net/remote_tool.h"
#include "rpc/service_util.h"
#include "rpc/tools_service.h"

namespace aikernel::rpc {

namespace pb = ::aikernel::v1;
using kernel::CallRequest;
using kernel::Principal;
using kernel::Syscall;
using nlohmann::json;

grpc::Status CallRemoteTool(kernel::Kernel* k, const RemoteTools& remote,
                            grpc::ServerContext* ctx, const pb::CallToolRequest& req,
                            pb::CallToolResponse* resp) {
  const std::string& name = req.name();
  const size_t slash = name.find('/');
  const std::string node = name.substr(0, slash);
  const std::string tool = name.substr(slash + 1);
  ToolArgs args = ReadToolArgs(req.args_json(), k->RedactedFields());
  pb::CallToolRequest digested = req;
  digested.set_args_json(args.error.ok()
                             ? args.redacted.dump(-1, ' ', false, json::error_handler_t::replace)
                             : "(unreadable)");
  json context = json::object();
  std::vector<std::string> annotations;
  std::optional<net::Peer> peer;

  CallRequest call{CallerOf(ctx), Syscall::kToolCall, ToolResource(name), &digested};
  call.act_as = req.as_agent();
  call.context = &context;
  call.annotations = &annotations;
  call.correlation = net::Messenger::RandomId();
  call.prepare = [&](const Principal& p) -> Status {
    AIK_RETURN_IF_ERROR(args.error);
    if (node.empty() || tool.empty() || tool.find('/') != std::string::npos) {
      return absl::InvalidArgumentError(
          absl::StrCat("name: '", name, "' is neither a tool nor <node>/<tool>"));
    }
    if (remote.messenger == nullptr || remote.transport == nullptr) {
      return absl::UnavailableError(absl::StrCat(
          "tool '", name, "' is on node '", node,
          "', but this node has no federation (no node certificate)"));
    }
    peer = remote.messenger->PeerByName(node);
    if (!peer) peer = remote.messenger->PeerByTrustDomain(node);
    if (!peer) {
      return absl::NotFoundError(absl::StrCat("tool '", name, "': no peer node named '", node,
                                              "' (aictl node peer ls)"));
    }
    // The peer accepts only agents its node vouches for (docs/net.md).
    if (p.kind != Principal::Kind::kAgent || p.spiffe_id.empty()) {
      return absl::FailedPreconditionError(
          absl::StrCat("tool '", name, "' is on peer node '", peer->name,
                       "': remote tools are called by agents (operators: as_agent / --as)"));
    }
    context["args"] = args.redacted;
    context["remote"] = true;
    context["peer"] = peer->name;
    return absl::OkStatus();
  };
  return Finish(ctx, k->Dispatch(call, [&](const Principal& p) -> Status {
    net::RemoteToolCall rc;
    rc.caller = p.spiffe_id;
    rc.tool = tool;
    rc.args_json = req.args_json();
    rc.correlation = call.correlation;
    std::chrono::nanoseconds timeout{0};
    if (req.has_timeout()) {
      AIK_ASSIGN_OR_RETURN(int64_t ns, NonNegativeNs("timeout", req.timeout()));
      timeout = std::chrono::nanoseconds(ns);
    }
    rc.timeout = timeout;
    // The peer's own timeout applies there; this bounds the wait for it
    // (the tool's time plus the link's), and the caller's deadline wins.
    AIK_ASSIGN_OR_RETURN(tools::Registry * reg, k->Tools());
    const auto budget = (timeout.count() > 0 ? timeout : reg->options().call_timeout) +
                        std::chrono::seconds(5);
    rc.deadline = std::min(ctx->deadline(),
                           std::chrono::system_clock::now() +
                               std::chrono::duration_cast<std::chrono::system_clock::duration>(budget));
    annotations.push_back("tool.provider:peer:" + peer->name);
    const auto t0 = std::chrono::steady_clock::now();
    AIK_ASSIGN_OR_RETURN(net::RemoteToolResult r, remote.transport->CallTool(*peer, rc));
    const auto took = std::chrono::steady_clock::now() - t0;
    annotations.push_back(absl::StrCat("peer.audit_seq:", r.audit_sequence));
    if (!r.status.ok()) {
      return Status(r.status.code(), absl::StrCat("peer ", peer->name, ": ", r.status.message()));
    }
    annotations.push_back(absl::StrCat("tool.result_bytes:", r.result_bytes));
    resp->set_result_json(std::move(r.result_json));
    resp->set_is_error(r.is_error);
    resp->set_provider("peer:" + peer->name + "/" + r.provider);
    resp->set_result_bytes(r.result_bytes);
    SetDuration(std::chrono::duration_cast<std::chrono::nanoseconds>(took).count(),
                resp->mutable_latency());
    return absl::OkStatus();
  }));
}

}  // namespace aikernel::rpc
