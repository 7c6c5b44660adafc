#include "rpc/mcp_service.h"

#include <grpcpp/grpcpp.h>

#include "aikernel/v1/mcp.grpc.pb.h"
#include "rpc/service_util.h"

namespace aikernel::rpc {
namespace {

namespace pb = ::aikernel::v1;
using kernel::CallRequest;
using kernel::Principal;
using kernel::Syscall;

class McpService final : public pb::Mcp::Service {
 public:
  McpService(kernel::Kernel* k, tools::mcp::Manager* m)
      : k_(k), m_(m), node_(k->Snapshot().info.node) {}

  grpc::Status ListMcpServers(grpc::ServerContext* ctx, const pb::ListMcpServersRequest* req,
                              pb::ListMcpServersResponse* resp) override {
    CallRequest call{CallerOf(ctx), Syscall::kMcpList, "node:" + node_, req};
    return Finish(ctx, k_->Dispatch(call, [&](const Principal&) -> absl::Status {
      if (m_ == nullptr) return absl::OkStatus();
      for (const tools::mcp::ServerView& v : m_->Servers()) {
        pb::McpServer* s = resp->add_servers();
        s->set_name(v.name);
        s->set_state(tools::mcp::StateName(v.state));
        s->set_pid(v.pid);
        s->set_protocol_version(v.protocol_version);
        s->set_server_info(v.server_info);
        s->set_starts(v.starts);
        s->set_requests(v.requests);
        s->set_calls(v.calls);
        s->set_calls_failed(v.calls_failed);
        s->set_cancellations(v.cancellations);
        s->set_protocol_errors(v.protocol_errors);
        s->set_last_error(v.last_error);
        s->set_tools(static_cast<uint32_t>(v.tools.size()));
        uint32_t refused = 0;
        for (const auto& t : v.tools) refused += !t.refused.empty();
        s->set_refused(refused);
        s->set_url(v.url);
        for (const std::string& h : v.headers) s->add_headers(h);
        s->set_resumes(v.resumes);
        s->set_late_answers(v.late_answers);
      }
      return absl::OkStatus();
    }));
  }

 private:
  kernel::Kernel* k_;
  tools::mcp::Manager* m_;
  std::string node_;
};

}  // namespace

ServicePtr MakeMcpService(kernel::Kernel* kernel, tools::mcp::Manager* manager) {
  return ServicePtr(new McpService(kernel, manager), [](grpc::Service* s) { delete s; });
}

}  // namespace aikernel::rpc
