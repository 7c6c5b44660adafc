#include "rpc/tools_service.h"

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <string>

#include "aikernel/v1/tools.grpc.pb.h"
#include "rpc/service_util.h"

namespace aikernel::rpc {
namespace {

namespace pb = ::aikernel::v1;
using kernel::CallRequest;
using kernel::Principal;
using kernel::Syscall;
using nlohmann::json;

// Tool names are short; the ledger keeps a bounded prefix of a long one.
constexpr size_t kMaxResourceName = 160;
constexpr int kMaxArgsDepth = 64;


void ToProto(const tools::Tool& t, pb::ToolInfo* out) {
  out->set_name(t.name);
  out->set_description(t.description);
  out->set_input_schema_json(t.input_schema.dump(-1, ' ', false, json::error_handler_t::replace));
  out->set_provider(t.provider);
  out->set_refused(t.refused);
  out->set_refused_reason(t.refused_reason);
  out->set_pinned_hash(t.pinned_hash);
}

bool DeeperThan(const json& v, int max) {
  if (max < 0) return true;
  if (!v.is_structured()) return false;
  for (const json& e : v) {
    if (DeeperThan(e, max - 1)) return true;
  }
  return false;
}



// The earliest of the gRPC deadline and the call's timeout (or the default).
StatusOr<std::chrono::steady_clock::time_point> Deadline(
    grpc::ServerContext* ctx, const pb::CallToolRequest& req, const tools::Registry& reg) {
  std::chrono::nanoseconds timeout = reg.options().call_timeout;
  if (req.has_timeout()) {
    AIK_ASSIGN_OR_RETURN(int64_t ns, NonNegativeNs("timeout", req.timeout()));
    timeout = std::chrono::nanoseconds(ns);
  }
  const auto now = std::chrono::steady_clock::now();
  const auto grpc_deadline = ctx->deadline();
  if (grpc_deadline != std::chrono::system_clock::time_point::max()) {
    auto left = grpc_deadline - std::chrono::system_clock::now();
    if (left < timeout) timeout = std::chrono::duration_cast<std::chrono::nanoseconds>(left);
  }
  if (timeout > std::chrono::hours(24 * 365)) return std::chrono::steady_clock::time_point::max();
  return now + timeout;
}

class ToolsService final : public pb::Tools::Service {
 public:
  ToolsService(kernel::Kernel* k, RemoteTools remote) : k_(k), remote_(remote) {}

  grpc::Status ListTools(grpc::ServerContext* ctx, const pb::ListToolsRequest* req,
                         pb::ListToolsResponse* resp) override {
    CallRequest call{CallerOf(ctx), Syscall::kToolList, "node:" + k_->node(), req};
    return Finish(ctx, k_->Dispatch(call, [&](const Principal&) -> Status {
      AIK_ASSIGN_OR_RETURN(tools::Registry * reg, k_->Tools());
      for (const auto& t : reg->List()) {
        if (t->name.starts_with(req->prefix())) ToProto(*t, resp->add_tools());
      }
      return absl::OkStatus();
    }));
  }

  grpc::Status DescribeTool(grpc::ServerContext* ctx, const pb::DescribeToolRequest* req,
                            pb::DescribeToolResponse* resp) override {
    CallRequest call{CallerOf(ctx), Syscall::kToolDescribe, ToolResource(req->name()), req};
    return Finish(ctx, k_->Dispatch(call, [&](const Principal&) -> Status {
      AIK_ASSIGN_OR_RETURN(tools::Registry * reg, k_->Tools());
      AIK_ASSIGN_OR_RETURN(tools::Resolved r, reg->Find(req->name()));
      ToProto(*r.tool, resp->mutable_tool());
      return absl::OkStatus();
    }));
  }

  grpc::Status AcceptTool(grpc::ServerContext* ctx, const pb::AcceptToolRequest* req,
                          pb::AcceptToolResponse* resp) override {
    CallRequest call{CallerOf(ctx), Syscall::kToolAccept, ToolResource(req->name()), req};
    return Finish(ctx, k_->Dispatch(call, [&](const Principal&) -> Status {
      AIK_ASSIGN_OR_RETURN(tools::Registry * reg, k_->Tools());
      AIK_RETURN_IF_ERROR(reg->Accept(req->name()));
      AIK_ASSIGN_OR_RETURN(tools::Resolved r, reg->Find(req->name()));
      ToProto(*r.tool, resp->mutable_tool());
      return absl::OkStatus();
    }));
  }

  grpc::Status CallTool(grpc::ServerContext* ctx, const pb::CallToolRequest* req,
                        pb::CallToolResponse* resp) override {
    if (req->name().find('/') != std::string::npos) {
      return CallRemoteTool(k_, remote_, ctx, *req, resp);
    }
    return Finish(ctx, DispatchToolCall(k_, ctx, *req, resp, ToolCallOrigin{}));
  }

 private:
  kernel::Kernel* k_;
  RemoteTools remote_;
};

}  // namespace

std::string ToolResource(const std::string& name) {
  return "tool:" + (name.size() <= kMaxResourceName
                        ? name
                        : name.substr(0, kMaxResourceName) + "...(truncated)");
}

ToolArgs ReadToolArgs(const std::string& text, const std::vector<std::string>& redact) {
  ToolArgs a;
  // nlohmann reports the position only through its exception; it stays here.
  try {
    a.value = json::parse(text.empty() ? std::string("{}") : text);
  } catch (const json::exception& e) {
    a.error = absl::InvalidArgumentError(absl::StrCat("args_json: not JSON: ", e.what()));
    return a;
  }
  // Checked before anything recurses through the value.
  if (DeeperThan(a.value, kMaxArgsDepth)) {
    a.error = absl::InvalidArgumentError(
        absl::StrCat("args: nested deeper than ", kMaxArgsDepth, " levels"));
    a.value = json::object();
    return a;
  }
  a.redacted = tools::Redact(a.value, redact);
  return a;
}

kernel::CallResult DispatchToolCall(kernel::Kernel* k, grpc::ServerContext* ctx,
                                    const pb::CallToolRequest& request,
                                    pb::CallToolResponse* resp, const ToolCallOrigin& origin) {
  const pb::CallToolRequest* req = &request;
  const std::string resource = ToolResource(req->name());
  ToolArgs args = ReadToolArgs(req->args_json(), k->RedactedFields());
  // The ledger digests the request with its arguments redacted.
  pb::CallToolRequest digested = *req;
  digested.set_args_json(args.error.ok() ? args.redacted.dump(-1, ' ', false, json::error_handler_t::replace)
                                        : "(unreadable)");
  json context = json::object();
  tools::Resolved tool;
  std::vector<std::string> annotations = origin.annotations;

  CallRequest call{CallerOf(ctx), origin.syscall, resource, &digested};
  call.act_as = req->as_agent();
  call.authenticated = origin.authenticated;
  call.correlation = origin.correlation;
  call.context = &context;
  call.annotations = &annotations;
  // Before policy: the arguments are JSON, the tool exists, they match its schema.
  call.prepare = [&](const Principal&) -> Status {
    AIK_RETURN_IF_ERROR(args.error);
    AIK_ASSIGN_OR_RETURN(tools::Registry * reg, k->Tools());
    AIK_ASSIGN_OR_RETURN(tool, reg->Find(req->name()));
    AIK_RETURN_IF_ERROR(reg->CheckCall(tool, args.value, req->args_json().size()));
    AIK_ASSIGN_OR_RETURN(json extra, tool.provider->PolicyContext(*tool.tool, args.value));
    if (extra.is_object()) context = std::move(extra);
    context["args"] = args.redacted;
    for (const auto& [key, value] : origin.extra_context.items()) context[key] = value;
    return absl::OkStatus();
  };
  return k->Dispatch(call, [&](const Principal& p) -> Status {
    AIK_ASSIGN_OR_RETURN(tools::Registry * reg, k->Tools());
    AIK_ASSIGN_OR_RETURN(auto deadline, Deadline(ctx, *req, *reg));
    tools::CallContext cc;
    cc.caller = p.Id();
    cc.deadline = deadline;
    cc.max_result_bytes = reg->options().max_result_bytes;
    cc.cancelled = [ctx, k] { return ctx->IsCancelled() || k->stopping(); };
    cc.policy_context = &context;
    cc.authorize_step = [&](const json& extra, const std::string& step) -> Status {
      json c = extra;
      c["args"] = args.redacted;
      return k->AuthorizeStep(p, Syscall::kToolCall, resource, c, step);
    };
    const auto t0 = std::chrono::steady_clock::now();
    std::string text;
    size_t bytes = 0;
    StatusOr<tools::ToolResult> r = reg->Call(tool, args.value, cc, &text, &bytes);
    const auto took = std::chrono::steady_clock::now() - t0;
    annotations.push_back("tool.provider:" + tool.tool->provider);
    annotations.push_back(absl::StrCat("tool.result_bytes:", bytes));
    if (!r.ok()) return r.status();
    resp->set_result_json(std::move(text));
    resp->set_is_error(r->is_error);
    resp->set_provider(tool.tool->provider);
    resp->set_result_bytes(bytes);
    SetDuration(std::chrono::duration_cast<std::chrono::nanoseconds>(took).count(),
                resp->mutable_latency());
    return absl::OkStatus();
  });
}

ServicePtr MakeToolsService(kernel::Kernel* kernel, RemoteTools remote) {
  return ServicePtr(new ToolsService(kernel, remote), [](grpc::Service* s) { delete s; });
}

}  // namespace aikernel::rpc
