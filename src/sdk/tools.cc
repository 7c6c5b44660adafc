// The SDK's Tools calls (proto/aikernel/v1/tools.proto): protobuf <-> the
// plain types of aikernel/tools.h.

#include "aikernel/client.h"
#include "sdk/client_impl.h"

namespace aikernel {
inline namespace sdk {

namespace pb = ::aikernel::v1;

namespace {

ToolInfo FromProto(const pb::ToolInfo& t) {
  ToolInfo out;
  out.name = t.name();
  out.description = t.description();
  out.input_schema_json = t.input_schema_json();
  out.provider = t.provider();
  out.refused = t.refused();
  out.refused_reason = t.refused_reason();
  out.pinned_hash = t.pinned_hash();
  return out;
}

}  // namespace

Result<ToolList> Client::ListTools(std::string_view prefix, const CallOptions& call) {
  pb::ListToolsRequest req;
  req.set_prefix(std::string(prefix));
  return internal::Unary<ToolList>(*impl_, call, *impl_->tools, &pb::Tools::Stub::ListTools, req,
                                   [](const pb::ListToolsResponse& r, ToolList& out) {
                                     for (const auto& t : r.tools()) {
                                       out.tools.push_back(FromProto(t));
                                     }
                                   });
}

Result<ToolInfoResult> Client::DescribeTool(std::string_view name, const CallOptions& call) {
  pb::DescribeToolRequest req;
  req.set_name(std::string(name));
  return internal::Unary<ToolInfoResult>(
      *impl_, call, *impl_->tools, &pb::Tools::Stub::DescribeTool, req,
      [](const pb::DescribeToolResponse& r, ToolInfoResult& out) { out.tool = FromProto(r.tool()); });
}

Result<ToolInfoResult> Client::AcceptTool(std::string_view name, const CallOptions& call) {
  pb::AcceptToolRequest req;
  req.set_name(std::string(name));
  return internal::Unary<ToolInfoResult>(
      *impl_, call, *impl_->tools, &pb::Tools::Stub::AcceptTool, req,
      [](const pb::AcceptToolResponse& r, ToolInfoResult& out) { out.tool = FromProto(r.tool()); });
}

Result<ToolCallResult> Client::CallTool(std::string_view name, std::string_view args_json,
                                        const ToolCallOptions& options, const CallOptions& call) {
  pb::CallToolRequest req;
  req.set_name(std::string(name));
  req.set_args_json(std::string(args_json));
  if (options.timeout) {
    internal::ToProto(std::chrono::duration_cast<std::chrono::nanoseconds>(*options.timeout),
                      req.mutable_timeout());
  }
  req.set_as_agent(options.as_agent);
  return internal::Unary<ToolCallResult>(
      *impl_, call, *impl_->tools, &pb::Tools::Stub::CallTool, req,
      [](const pb::CallToolResponse& r, ToolCallResult& out) {
        out.result_json = r.result_json();
        out.is_error = r.is_error();
        out.provider = r.provider();
        out.result_bytes = r.result_bytes();
        out.latency = internal::FromProto(r.latency());
      });
}

}  // namespace sdk
}  // namespace aikernel
