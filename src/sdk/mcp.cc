// The SDK's Mcp calls (proto/aikernel/v1/mcp.proto).

#include "aikernel/client.h"
#include "aikernel/v1/mcp.grpc.pb.h"
#include "sdk/client_impl.h"

namespace aikernel {
inline namespace sdk {

namespace pb = ::aikernel::v1;

Result<McpServerList> Client::ListMcpServers(const CallOptions& call) {
  // The stub is cheap (it shares the channel); made per call so Impl does
  // not need to know this service.
  auto stub = pb::Mcp::NewStub(impl_->channel);
  return internal::Unary<McpServerList>(
      *impl_, call, *stub, &pb::Mcp::Stub::ListMcpServers, pb::ListMcpServersRequest(),
      [](const pb::ListMcpServersResponse& resp, McpServerList& out) {
        for (const pb::McpServer& s : resp.servers()) {
          McpServerInfo i;
          i.name = s.name();
          i.state = s.state();
          i.pid = s.pid();
          i.protocol_version = s.protocol_version();
          i.server_info = s.server_info();
          i.starts = s.starts();
          i.requests = s.requests();
          i.calls = s.calls();
          i.calls_failed = s.calls_failed();
          i.cancellations = s.cancellations();
          i.protocol_errors = s.protocol_errors();
          i.last_error = s.last_error();
          i.tools = s.tools();
          i.refused = s.refused();
          i.url = s.url();
          i.headers.assign(s.headers().begin(), s.headers().end());
          i.resumes = s.resumes();
          i.late_answers = s.late_answers();
          out.servers.push_back(std::move(i));
        }
      });
}

}  // namespace sdk
}  // namespace aikernel
