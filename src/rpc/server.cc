#include "rpc/server.h"

#include <grpcpp/grpcpp.h>

#include <grpcpp/server_posix.h>
#include <spdlog/spdlog.h>

#include "aikernel/v1/admin.grpc.pb.h"
#include "aikernel/v1/kernel.grpc.pb.h"
#include "rpc/agent_proto.h"
#include "rpc/service_util.h"
#include "rpc/status_map.h"

namespace aikernel::rpc {
namespace {

namespace pb = ::aikernel::v1;
using kernel::CallRequest;
using kernel::CallResult;
using kernel::Principal;
using kernel::Syscall;

constexpr size_t kMaxPingPayload = 4096;

pb::Principal::Kind ToProto(Principal::Kind k) {
  switch (k) {
    case Principal::Kind::kAnonymous: return pb::Principal::KIND_ANONYMOUS;
    case Principal::Kind::kUser: return pb::Principal::KIND_USER;
    case Principal::Kind::kOperator: return pb::Principal::KIND_OPERATOR;
    case Principal::Kind::kAgent: return pb::Principal::KIND_AGENT;
  }
  return pb::Principal::KIND_UNSPECIFIED;
}

class KernelService final : public pb::Kernel::Service {
 public:
  KernelService(kernel::Kernel* k, std::string node) : k_(k), node_(std::move(node)) {}

  grpc::Status Whoami(grpc::ServerContext* ctx, const pb::WhoamiRequest* req,
                      pb::WhoamiResponse* resp) override {
    CallRequest call{CallerOf(ctx), Syscall::kWhoami, "node:" + node_, req};
    return Finish(ctx, k_->Dispatch(call, [&](const Principal& p) {
      auto* out = resp->mutable_principal();
      out->set_kind(ToProto(p.kind));
      out->set_id(p.Id());
      out->set_uid(p.uid);
      out->set_gid(p.gid);
      out->set_pid(p.pid);
      out->set_spiffe_id(p.spiffe_id);
      out->set_instance_id(p.instance_id);
      for (gid_t g : p.groups) out->add_groups(g);
      for (const std::string& g : p.agent_groups) out->add_agent_groups(g);
      const gid_t admin = k_->AdminGroup();
      out->set_admin_gid(admin == static_cast<gid_t>(-1) ? -1 : static_cast<int64_t>(admin));
      if (p.kind == Principal::Kind::kOperator) {
        out->set_admin(true);
        out->set_admin_via(p.uid == 0 ? "uid 0" : absl::StrCat("admin group ", admin));
      }
      resp->set_node(node_);
      return absl::OkStatus();
    }));
  }

 private:
  kernel::Kernel* k_;
  std::string node_;
};

class AdminService final : public pb::Admin::Service {
 public:
  AdminService(kernel::Kernel* k, std::string node) : k_(k), node_(std::move(node)) {}

  grpc::Status Status(grpc::ServerContext* ctx, const pb::StatusRequest* req,
                      pb::StatusResponse* resp) override {
    CallRequest call{CallerOf(ctx), Syscall::kAdminStatus, "node:" + node_, req};
    return Finish(ctx, k_->Dispatch(call, [&](const Principal&) {
      kernel::StatusSnapshot s = k_->Snapshot();
      resp->set_version(s.info.version);
      SetTimestamp(s.started_at_ns, resp->mutable_started_at());
      SetDuration(s.uptime_ns, resp->mutable_uptime());
      resp->set_node(s.info.node);
      resp->set_socket(s.info.socket_path);
      resp->set_state_dir(s.info.state_dir);
      resp->set_audit_synchronous(s.info.audit_synchronous);
      auto* l = resp->mutable_ledger();
      l->set_sequence(s.head.sequence);
      l->set_hash(s.head.hash.data(), s.head.hash.size());
      l->set_checkpoint_sequence(s.head.checkpoint_sequence);
      l->set_key_id(s.key_id);
      auto* c = resp->mutable_calls();
      c->set_total(s.calls.total);
      c->set_denied(s.calls.denied);
      c->set_failed(s.calls.failed);
      c->set_connections(s.calls.connections);
      if (s.agents_enabled) {
        resp->mutable_confinement()->set_summary(s.confinement.summary);
        for (const auto& m : s.confinement.mechanisms) resp->mutable_confinement()->add_mechanisms(m);
        for (const auto& p : s.confinement.profiles) resp->mutable_confinement()->add_profiles(p);
        resp->mutable_agents()->set_total(s.agents_total);
        resp->mutable_agents()->set_running(s.agents_running);
        resp->mutable_agents()->set_queued(s.agents_queued);
      }
      return absl::OkStatus();
    }));
  }

  grpc::Status Ping(grpc::ServerContext* ctx, const pb::PingRequest* req,
                    pb::PingResponse* resp) override {
    CallRequest call{CallerOf(ctx), Syscall::kAdminPing, "node:" + node_, req};
    return Finish(ctx, k_->Dispatch(call, [&](const Principal&) {
      if (req->payload().size() > kMaxPingPayload) {
        return absl::InvalidArgumentError(absl::StrCat(
            "payload: ", req->payload().size(), " bytes exceeds the ",
            kMaxPingPayload, "-byte limit"));
      }
      resp->set_payload(req->payload());
      return absl::OkStatus();
    }));
  }

  grpc::Status QueryAudit(grpc::ServerContext* ctx,
                          const pb::QueryAuditRequest* req,
                          grpc::ServerWriter<pb::AuditRecord>* writer) override {
    CallRequest call{CallerOf(ctx), Syscall::kAuditQuery, "ledger:audit", req};
    CallResult result = k_->Dispatch(call, [&](const Principal&) -> absl::Status {
      audit::Filter f;
      f.principal = req->principal();
      f.action = req->action();
      switch (req->decision()) {
        case pb::DECISION_UNSPECIFIED: break;
        case pb::DECISION_ALLOW: f.decision = audit::Decision::kAllow; break;
        case pb::DECISION_DENY: f.decision = audit::Decision::kDeny; break;
        default:
          return absl::InvalidArgumentError(
              absl::StrCat("decision: unknown value ", req->decision()));
      }
      if (req->has_since()) {
        AIK_RETURN_IF_ERROR(CheckTimestamp("since", req->since()));
        f.since_ns = ToNs(req->since());
      }
      if (req->has_until()) {
        AIK_RETURN_IF_ERROR(CheckTimestamp("until", req->until()));
        f.until_ns = ToNs(req->until());
      }
      if (f.since_ns && f.until_ns && *f.until_ns <= *f.since_ns) {
        return absl::InvalidArgumentError("until: must be later than since");
      }
      f.after_sequence = req->after_sequence();
      f.limit = req->limit();
      f.last = req->last();
      if (f.last && f.limit == 0) {
        return absl::InvalidArgumentError("limit: must be set when last is true");
      }
      pb::AuditRecord out;
      return k_->QueryAudit(
          f, req->follow(),
          [&](const audit::Record& r) {
            out.Clear();
            rpc::ToProto(r, &out);
            return writer->Write(out);
          },
          [&] { return ctx->IsCancelled(); });
    });
    return Finish(ctx, result);
  }

  // ---- agents ----

  grpc::Status RunAgent(grpc::ServerContext* ctx, const pb::RunAgentRequest* req,
                        pb::RunAgentResponse* resp) override {
    CallRequest call{CallerOf(ctx), Syscall::kAgentRun, "agent:" + req->spec().name(), req};
    return Finish(ctx, k_->Dispatch(call, [&](const Principal&) -> absl::Status {
      AIK_ASSIGN_OR_RETURN(agents::AgentSpec spec, FromProto(req->spec()));
      AIK_ASSIGN_OR_RETURN(agents::AgentInfo info, k_->RunAgent(spec, req->replace()));
      rpc::ToProto(info, resp->mutable_agent());
      return absl::OkStatus();
    }));
  }

  grpc::Status ListAgents(grpc::ServerContext* ctx, const pb::ListAgentsRequest* req,
                          pb::ListAgentsResponse* resp) override {
    CallRequest call{CallerOf(ctx), Syscall::kAgentList, "agent:*", req};
    return Finish(ctx, k_->Dispatch(call, [&](const Principal&) -> absl::Status {
      AIK_ASSIGN_OR_RETURN(std::vector<agents::AgentInfo> all, k_->ListAgents());
      for (const auto& a : all) rpc::ToProto(a, resp->add_agents());
      return absl::OkStatus();
    }));
  }

  grpc::Status InspectAgent(grpc::ServerContext* ctx, const pb::InspectAgentRequest* req,
                            pb::InspectAgentResponse* resp) override {
    CallRequest call{CallerOf(ctx), Syscall::kAgentInspect, "agent:" + req->name(), req};
    return Finish(ctx, k_->Dispatch(call, [&](const Principal&) -> absl::Status {
      AIK_ASSIGN_OR_RETURN(agents::AgentInfo info, k_->InspectAgent(req->name()));
      rpc::ToProto(info, resp->mutable_agent());
      return absl::OkStatus();
    }));
  }

  grpc::Status StopAgent(grpc::ServerContext* ctx, const pb::StopAgentRequest* req,
                         pb::StopAgentResponse* resp) override {
    CallRequest call{CallerOf(ctx), Syscall::kAgentStop, "agent:" + req->name(), req};
    return Finish(ctx, k_->Dispatch(call, [&](const Principal&) -> absl::Status {
      std::chrono::milliseconds grace(-1);
      if (req->has_grace()) {
        if (req->grace().seconds() < 0 || req->grace().nanos() < 0) {
          return absl::InvalidArgumentError("grace: must not be negative");
        }
        grace = std::chrono::milliseconds(req->grace().seconds() * 1000 +
                                          req->grace().nanos() / 1'000'000);
      }
      AIK_ASSIGN_OR_RETURN(agents::AgentInfo info, k_->StopAgent(req->name(), grace));
      rpc::ToProto(info, resp->mutable_agent());
      return absl::OkStatus();
    }));
  }

  grpc::Status KillAgent(grpc::ServerContext* ctx, const pb::KillAgentRequest* req,
                         pb::KillAgentResponse* resp) override {
    CallRequest call{CallerOf(ctx), Syscall::kAgentKill, "agent:" + req->name(), req};
    return Finish(ctx, k_->Dispatch(call, [&](const Principal&) -> absl::Status {
      AIK_ASSIGN_OR_RETURN(agents::AgentInfo info,
                           k_->KillAgent(req->name(), req->signal() == 0 ? 9 : req->signal()));
      rpc::ToProto(info, resp->mutable_agent());
      return absl::OkStatus();
    }));
  }

  grpc::Status RestartAgent(grpc::ServerContext* ctx, const pb::RestartAgentRequest* req,
                            pb::RestartAgentResponse* resp) override {
    CallRequest call{CallerOf(ctx), Syscall::kAgentRestart, "agent:" + req->name(), req};
    return Finish(ctx, k_->Dispatch(call, [&](const Principal&) -> absl::Status {
      AIK_ASSIGN_OR_RETURN(agents::AgentInfo info, k_->RestartAgent(req->name()));
      rpc::ToProto(info, resp->mutable_agent());
      return absl::OkStatus();
    }));
  }

  grpc::Status RemoveAgent(grpc::ServerContext* ctx, const pb::RemoveAgentRequest* req,
                           pb::RemoveAgentResponse*) override {
    CallRequest call{CallerOf(ctx), Syscall::kAgentRemove, "agent:" + req->name(), req};
    return Finish(ctx, k_->Dispatch(call, [&](const Principal&) -> absl::Status {
      return k_->RemoveAgent(req->name(), req->force());
    }));
  }

  grpc::Status AgentLogs(grpc::ServerContext* ctx, const pb::AgentLogsRequest* req,
                         grpc::ServerWriter<pb::AgentLogChunk>* writer) override {
    CallRequest call{CallerOf(ctx), Syscall::kAgentLogs, "agent:" + req->name(), req};
    return Finish(ctx, k_->Dispatch(call, [&](const Principal&) -> absl::Status {
      kernel::AgentLogOptions o;
      o.follow = req->follow();
      o.include_rotated = req->include_rotated();
      if (req->tail_set() || req->tail_bytes() != 0) {
        o.tail_bytes = static_cast<int64_t>(std::min<uint64_t>(req->tail_bytes(), INT64_MAX));
      }
      pb::AgentLogChunk chunk;
      return k_->AgentLogs(
          req->name(), o,
          [&](const std::string& data) {
            chunk.set_data(data);
            return writer->Write(chunk);
          },
          [&] { return ctx->IsCancelled(); });
    }));
  }

  grpc::Status Reload(grpc::ServerContext* ctx, const pb::ReloadRequest* req,
                      pb::ReloadResponse* resp) override {
    CallRequest call{CallerOf(ctx), Syscall::kReload, "node:" + node_, req};
    return Finish(ctx, k_->Dispatch(call, [&](const Principal&) -> absl::Status {
      AIK_ASSIGN_OR_RETURN(kernel::ReloadResult r, k_->Reload());
      for (auto& a : r.applied) resp->add_applied(a);
      for (auto& n : r.needs_restart) resp->add_needs_restart(n);
      return absl::OkStatus();
    }));
  }

 private:
  kernel::Kernel* k_;
  std::string node_;
};

}  // namespace

class RpcServer::Impl {
 public:
  Impl(kernel::Kernel* k, kernel::ConnectionTable* c, std::string node)
      : kernel(k), connections(c), kernel_service(k, node), admin_service(k, node) {}
  // A connection refused at accept is a failed authentication, and every
  // one is on the ledger (docs/identity.md, Audit): action
  // "connection.accept", principal "unauthenticated", rule id "authn".
  void RecordRefused(int fd, pid_t pid, const Status& why) {
    spdlog::warn("closing connection fd:{}: {}", fd, std::string(why.message()));
    audit::Record r;
    r.principal = "unauthenticated";
    r.action = "connection.accept";
    r.resource = pid > 0 ? absl::StrCat("connection:pid:", pid) : absl::StrCat("connection:fd:", fd);
    r.decision = audit::Decision::kDeny;
    r.rule_ids = {"authn"};
    r.code = static_cast<int32_t>(absl::StatusCode::kUnauthenticated);
    if (StatusOr<uint64_t> seq = kernel->AppendEvent(std::move(r)); !seq.ok()) {
      spdlog::error("audit append failed for a refused connection: {}",
                    std::string(seq.status().message()));
    }
  }
  kernel::Kernel* kernel;
  kernel::ConnectionTable* connections;
  KernelService kernel_service;
  AdminService admin_service;
  std::unique_ptr<grpc::Server> server;
  std::once_flag shutdown_once;
};

StatusOr<std::unique_ptr<RpcServer>> RpcServer::Start(
    kernel::Kernel* kernel, kernel::ConnectionTable* connections,
    const ServerOptions& options) {
  auto impl = std::make_unique<Impl>(kernel, connections,
                                     kernel->Snapshot().info.node);
  grpc::ServerBuilder builder;
  // Handlers block until their audit record is durable. With gRPC's
  // defaults (1..2 pollers) every blocked handler makes the pool spawn a
  // thread and reap it afterwards, one thread per call under load; keep
  // enough pollers around to absorb a batch of concurrent calls.
  builder.SetSyncServerOption(grpc::ServerBuilder::SyncServerOption::MIN_POLLERS, 4);
  builder.SetSyncServerOption(grpc::ServerBuilder::SyncServerOption::MAX_POLLERS, 64);
  builder.SetMaxReceiveMessageSize(static_cast<int>(options.max_message_bytes));
  builder.SetMaxSendMessageSize(static_cast<int>(options.max_message_bytes));
  builder.RegisterService(&impl->kernel_service);
  builder.RegisterService(&impl->admin_service);
  for (grpc::Service* s : options.services) builder.RegisterService(s);
  impl->server = builder.BuildAndStart();
  if (!impl->server) return absl::InternalError("gRPC server failed to start");
  return std::unique_ptr<RpcServer>(new RpcServer(std::move(impl)));
}

RpcServer::RpcServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
RpcServer::~RpcServer() { Shutdown(std::chrono::milliseconds(0)); }

void RpcServer::Adopt(UniqueFd fd) {
  StatusOr<kernel::PeerCredentials> creds = kernel::ReadPeerCredentials(fd.get());
  if (!creds.ok()) {
    impl_->RecordRefused(fd.get(), 0, creds.status());
    return;
  }
  if (Status s = impl_->connections->Register(fd.get(), *creds); !s.ok()) {
    impl_->RecordRefused(fd.get(), creds->pid, s);
    return;
  }
  spdlog::debug("connection fd:{} pid={} uid={} gid={}", fd.get(), creds->pid,
                creds->uid, creds->gid);
  grpc::AddInsecureChannelFromFd(impl_->server.get(), fd.release());
}

void RpcServer::AdoptAgent(UniqueFd fd, const kernel::AgentIdentity& identity) {
  if (Status s = impl_->connections->RegisterAgent(fd.get(), identity); !s.ok()) {
    spdlog::warn("agent {}: closing its connection: {}", identity.name, std::string(s.message()));
    return;
  }
  spdlog::debug("connection fd:{} is agent {} instance {}", fd.get(), identity.name,
                identity.instance_id);
  grpc::AddInsecureChannelFromFd(impl_->server.get(), fd.release());
}

void RpcServer::Shutdown(std::chrono::milliseconds drain) {
  std::call_once(impl_->shutdown_once, [&] {
    impl_->server->Shutdown(std::chrono::system_clock::now() + drain);
    impl_->server->Wait();
  });
}

}  // namespace aikernel::rpc
