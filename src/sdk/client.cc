// The SDK's channel setup and its Kernel and Admin calls (memory.cc has the
// Memory calls). gRPC and protobuf stay in src/sdk/; the public headers are
// plain C++ (include/aikernel/).
#include "aikernel/client.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <charconv>
#include <cstring>

#include <grpcpp/create_channel.h>
#include <grpcpp/create_channel_posix.h>
#include <grpcpp/grpcpp.h>

#include "aikernel/v1/policy.grpc.pb.h"
#include "sdk/client_impl.h"

namespace aikernel {
inline namespace sdk {

namespace pb = ::aikernel::v1;
// Inside Client (and Client::Impl) the name Status means the member function
// Client::Status(); this alias names the error type unambiguously.
using Error = ::aikernel::sdk::Status;
using std::chrono::milliseconds;
using std::chrono::nanoseconds;

namespace internal {

namespace {
constexpr char kAuditSeqKey[] = "aikernel-audit-seq";
}  // namespace

uint64_t AuditSeqOf(const grpc::ClientContext& ctx) {
  const auto& md = ctx.GetServerTrailingMetadata();
  auto it = md.find(kAuditSeqKey);
  if (it == md.end()) return 0;
  uint64_t v = 0;
  const char* b = it->second.data();
  const char* e = b + it->second.size();
  auto [p, ec] = std::from_chars(b, e, v);
  if (ec != std::errc() || p != e) return 0;
  return v;
}

Timestamp FromProto(const google::protobuf::Timestamp& t) {
  return Timestamp(nanoseconds(t.seconds() * 1'000'000'000LL + t.nanos()));
}
nanoseconds FromProto(const google::protobuf::Duration& d) {
  return nanoseconds(d.seconds() * 1'000'000'000LL + d.nanos());
}
void ToProto(Timestamp t, google::protobuf::Timestamp* out) {
  int64_t ns = t.time_since_epoch().count();
  int64_t s = ns / 1'000'000'000LL;
  int64_t r = ns % 1'000'000'000LL;
  if (r < 0) {
    r += 1'000'000'000LL;
    s -= 1;
  }
  out->set_seconds(s);
  out->set_nanos(static_cast<int32_t>(r));
}

void ToProto(nanoseconds d, google::protobuf::Duration* out) {
  out->set_seconds(d.count() / 1'000'000'000LL);
  out->set_nanos(static_cast<int32_t>(d.count() % 1'000'000'000LL));
}

}  // namespace internal

namespace {

// Set once a Connect took the fd named by AIKERNEL_FD: gRPC owns it from then
// on, so a second Connect must not hand it over again.
std::atomic<bool> g_env_fd_taken{false};

std::string ErrnoText(int err) { return std::strerror(err); }

using internal::AuditSeqOf;
using internal::FromProto;
using internal::ToProto;

Decision FromProto(pb::Decision d) {
  switch (d) {
    case pb::DECISION_ALLOW: return Decision::kAllow;
    case pb::DECISION_DENY: return Decision::kDeny;
    default: return Decision::kUnspecified;
  }
}
pb::Decision ToProto(Decision d) {
  switch (d) {
    case Decision::kAllow: return pb::DECISION_ALLOW;
    case Decision::kDeny: return pb::DECISION_DENY;
    default: return pb::DECISION_UNSPECIFIED;
  }
}

AuditRecord FromProto(const pb::AuditRecord& m) {
  AuditRecord r;
  r.sequence = m.sequence();
  r.time = FromProto(m.time());
  r.node = m.node();
  r.principal = m.principal();
  r.action = m.action();
  r.resource = m.resource();
  r.request_digest = m.request_digest();
  r.decision = FromProto(m.decision());
  r.rule_ids.assign(m.rule_ids().begin(), m.rule_ids().end());
  r.code = m.code();
  r.latency = FromProto(m.latency());
  r.prev_hash = m.prev_hash();
  r.hash = m.hash();
  return r;
}

// Tries a plain connect() to `path` to learn why gRPC could not: returns OK
// if the socket accepts now, else the error naming errno.
Error DiagnoseConnect(const std::string& path) {
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return Error(StatusCode::kUnavailable, "socket(): " + ErrnoText(errno));
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path.data(), path.size());
  int rc = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  int err = errno;
  ::close(fd);
  if (rc == 0) return Error();
  std::string msg = "cannot connect to " + path + ": " + ErrnoText(err);
  if (err == EACCES || err == EPERM) {
    return Error(StatusCode::kPermissionDenied,
                  msg + " — the socket's permissions do not admit this user");
  }
  if (err == ENOENT || err == ECONNREFUSED || err == ENOTDIR) {
    msg += " — is aikerneld running?";
  }
  return Error(StatusCode::kUnavailable, msg);
}

}  // namespace

Error Client::Impl::FromGrpc(const grpc::Status& st, const grpc::ClientContext& ctx,
                             const CallOptions& call) const {
  uint64_t seq = AuditSeqOf(ctx);
  StatusCode code = StatusCodeFromInt(static_cast<int>(st.error_code()));
  std::string msg = st.error_message();
  // A call the daemon audited (seq != 0) reached it: its UNAVAILABLE or
  // DEADLINE_EXCEEDED is about what it called (an MCP server, a peer node,
  // an http.fetch host), and its message names that.
  if (code == StatusCode::kUnavailable && seq == 0) {
    if (endpoint.fd < 0) {
      Error why = DiagnoseConnect(endpoint.path);
      if (!why.ok()) return Error(why.code(), why.message(), seq);
    }
    msg = "aikerneld at " + endpoint.ToString() + " is unavailable: " + msg;
  } else if (code == StatusCode::kDeadlineExceeded && seq == 0) {
    msg = "no reply from aikerneld within " + std::to_string(EffectiveTimeout(call).count()) +
          " ms";
  }
  return Error(code, std::move(msg), seq);
}

Client::Client(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Client::~Client() = default;

const Endpoint& Client::endpoint() const { return impl_->endpoint; }

Result<std::unique_ptr<Client>> Client::Connect(const ClientOptions& options) {
  Result<Endpoint> ep = ResolveEndpoint(options);
  if (!ep.ok()) return ep.status();
  auto impl = std::make_unique<Impl>();
  impl->endpoint = *ep;
  impl->default_timeout = options.default_timeout;

  if (ep->fd >= 0) {
    const int fd = ep->fd;
    const std::string name = ep->ToString();
    struct stat sb;
    if (::fstat(fd, &sb) != 0) {
      return Error(StatusCode::kInvalidArgument, name + ": " + ErrnoText(errno));
    }
    if (!S_ISSOCK(sb.st_mode)) {
      return Error(StatusCode::kInvalidArgument, name + " is not a socket");
    }
    bool from_env = ep->source == Endpoint::Source::kEnvFd;
    if (from_env && g_env_fd_taken.exchange(true)) {
      return Error(StatusCode::kFailedPrecondition,
                    name + " was already taken by an earlier Client::Connect in this "
                           "process; share that Client (it is thread-safe)");
    }
    // gRPC's fd transport only reads a non-blocking fd (it hangs otherwise).
    int fl = ::fcntl(fd, F_GETFL);
    if (fl < 0 || ::fcntl(fd, F_SETFL, fl | O_NONBLOCK) != 0 ||
        ::fcntl(fd, F_SETFD, FD_CLOEXEC) != 0) {
      int err = errno;
      if (from_env) g_env_fd_taken.store(false);
      return Error(StatusCode::kInvalidArgument, name + ": fcntl: " + ErrnoText(err));
    }
    impl->channel = grpc::CreateInsecureChannelFromFd("aikernel", fd);
  } else {
    const std::string& path = ep->path;
    if (path.size() >= sizeof(sockaddr_un{}.sun_path)) {
      return Error(StatusCode::kInvalidArgument,
                    "socket path is too long (" + std::to_string(path.size()) +
                        " bytes, at most " +
                        std::to_string(sizeof(sockaddr_un{}.sun_path) - 1) + "): " + path);
    }
    impl->channel = grpc::CreateChannel("unix:" + path, grpc::InsecureChannelCredentials());
    if (options.connect_timeout.count() > 0) {
      auto deadline = std::chrono::system_clock::now() + options.connect_timeout;
      grpc_connectivity_state s = impl->channel->GetState(/*try_to_connect=*/true);
      while (s != GRPC_CHANNEL_READY) {
        if (s == GRPC_CHANNEL_TRANSIENT_FAILURE || s == GRPC_CHANNEL_SHUTDOWN) {
          Error why = DiagnoseConnect(path);
          if (!why.ok()) return why;
          // It accepts now (the daemon just came up); let gRPC retry.
        }
        if (!impl->channel->WaitForStateChange(s, deadline)) {
          return Error(StatusCode::kDeadlineExceeded,
                        "cannot connect to " + path + ": no answer within " +
                            std::to_string(options.connect_timeout.count()) + " ms");
        }
        s = impl->channel->GetState(true);
      }
    }
  }
  impl->kernel = pb::Kernel::NewStub(impl->channel);
  impl->admin = pb::Admin::NewStub(impl->channel);
  impl->memory = pb::Memory::NewStub(impl->channel);
  impl->msg = pb::Msg::NewStub(impl->channel);
  impl->identity = pb::Identity::NewStub(impl->channel);
  impl->tools = pb::Tools::NewStub(impl->channel);
  impl->federation = pb::Federation::NewStub(impl->channel);
  return std::unique_ptr<Client>(new Client(std::move(impl)));
}

Result<WhoamiResult> Client::Whoami(const CallOptions& call) {
  grpc::ClientContext ctx;
  impl_->Prepare(ctx, call);
  std::stop_callback cancel(call.stop, [&ctx] { ctx.TryCancel(); });
  pb::WhoamiRequest req;
  pb::WhoamiResponse resp;
  grpc::Status st = impl_->kernel->Whoami(&ctx, req, &resp);
  if (!st.ok()) return impl_->FromGrpc(st, ctx, call);
  WhoamiResult r;
  const pb::Principal& p = resp.principal();
  r.principal.kind = static_cast<PrincipalKind>(
      p.kind() >= 0 && p.kind() <= 4 ? static_cast<int>(p.kind()) : 0);
  r.principal.id = p.id();
  r.principal.uid = p.uid();
  r.principal.gid = p.gid();
  r.principal.pid = p.pid();
  r.principal.spiffe_id = p.spiffe_id();
  r.principal.instance_id = p.instance_id();
  r.principal.groups.assign(p.groups().begin(), p.groups().end());
  r.principal.admin = p.admin();
  r.principal.admin_via = p.admin_via();
  r.principal.admin_gid = p.admin_gid();
  r.principal.agent_groups.assign(p.agent_groups().begin(), p.agent_groups().end());
  r.node = resp.node();
  r.audit_sequence = AuditSeqOf(ctx);
  return r;
}

Result<NodeStatus> Client::Status(const CallOptions& call) {
  grpc::ClientContext ctx;
  impl_->Prepare(ctx, call);
  std::stop_callback cancel(call.stop, [&ctx] { ctx.TryCancel(); });
  pb::StatusRequest req;
  pb::StatusResponse resp;
  grpc::Status st = impl_->admin->Status(&ctx, req, &resp);
  if (!st.ok()) return impl_->FromGrpc(st, ctx, call);
  NodeStatus r;
  r.version = resp.version();
  r.started_at = FromProto(resp.started_at());
  r.uptime = FromProto(resp.uptime());
  r.node = resp.node();
  r.socket = resp.socket();
  r.state_dir = resp.state_dir();
  r.audit_synchronous = resp.audit_synchronous();
  r.ledger.sequence = resp.ledger().sequence();
  r.ledger.hash = resp.ledger().hash();
  r.ledger.checkpoint_sequence = resp.ledger().checkpoint_sequence();
  r.ledger.key_id = resp.ledger().key_id();
  r.calls.total = resp.calls().total();
  r.calls.denied = resp.calls().denied();
  r.calls.failed = resp.calls().failed();
  r.calls.connections = resp.calls().connections();
  r.confinement.summary = resp.confinement().summary();
  r.confinement.mechanisms.assign(resp.confinement().mechanisms().begin(),
                                  resp.confinement().mechanisms().end());
  r.confinement.profiles.assign(resp.confinement().profiles().begin(),
                                resp.confinement().profiles().end());
  r.agents_total = resp.agents().total();
  r.agents_running = resp.agents().running();
  r.agents_queued = resp.agents().queued();
  r.audit_sequence = AuditSeqOf(ctx);
  return r;
}

Result<PingResult> Client::Ping(std::string_view payload, const CallOptions& call) {
  grpc::ClientContext ctx;
  impl_->Prepare(ctx, call);
  std::stop_callback cancel(call.stop, [&ctx] { ctx.TryCancel(); });
  pb::PingRequest req;
  req.set_payload(std::string(payload));
  pb::PingResponse resp;
  auto t0 = std::chrono::steady_clock::now();
  grpc::Status st = impl_->admin->Ping(&ctx, req, &resp);
  auto t1 = std::chrono::steady_clock::now();
  if (!st.ok()) return impl_->FromGrpc(st, ctx, call);
  PingResult r;
  r.payload = resp.payload();
  r.round_trip = std::chrono::duration_cast<nanoseconds>(t1 - t0);
  r.audit_sequence = AuditSeqOf(ctx);
  return r;
}

Result<ReloadResult> Client::Reload(const CallOptions& call) {
  grpc::ClientContext ctx;
  impl_->Prepare(ctx, call);
  std::stop_callback cancel(call.stop, [&ctx] { ctx.TryCancel(); });
  pb::ReloadRequest req;
  pb::ReloadResponse resp;
  grpc::Status st = impl_->admin->Reload(&ctx, req, &resp);
  if (!st.ok()) return impl_->FromGrpc(st, ctx, call);
  ReloadResult r;
  r.applied.assign(resp.applied().begin(), resp.applied().end());
  r.needs_restart.assign(resp.needs_restart().begin(), resp.needs_restart().end());
  r.audit_sequence = AuditSeqOf(ctx);
  return r;
}

Result<QueryResult> Client::QueryAudit(const AuditFilter& filter,
                                       const std::function<bool(const AuditRecord&)>& on_record,
                                       const CallOptions& call) {
  internal::StreamCall s(*impl_, call);
  pb::QueryAuditRequest req;
  req.set_principal(filter.principal);
  req.set_action(filter.action);
  req.set_decision(ToProto(filter.decision));
  if (filter.since) ToProto(*filter.since, req.mutable_since());
  if (filter.until) ToProto(*filter.until, req.mutable_until());
  req.set_limit(filter.limit);
  req.set_after_sequence(filter.after_sequence);
  req.set_last(filter.last);
  req.set_follow(filter.follow);

  auto reader = impl_->admin->QueryAudit(&s.ctx, req);
  QueryResult r;
  pb::AuditRecord msg;
  while (reader->Read(&msg)) {
    ++r.records;
    if (!on_record(FromProto(msg))) {
      s.StopByCaller();
      break;
    }
  }
  grpc::Status st = reader->Finish();
  r.audit_sequence = AuditSeqOf(s.ctx);
  if (Error e = s.End(st, &r.cancelled); !e.ok()) return e;
  return r;
}

// ------------------------------------------------------------------ agents

const char* RestartPolicyName(RestartPolicy p) {
  switch (p) {
    case RestartPolicy::kNo: return "no";
    case RestartPolicy::kOnFailure: return "on-failure";
    case RestartPolicy::kAlways: return "always";
  }
  return "no";
}

const char* AgentStateName(AgentState s) {
  switch (s) {
    case AgentState::kQueued: return "queued";
    case AgentState::kStarting: return "starting";
    case AgentState::kRunning: return "running";
    case AgentState::kExited: return "exited";
    case AgentState::kFailed: return "failed";
    case AgentState::kStopped: return "stopped";
    default: return "unspecified";
  }
}

namespace {

void SetDur(milliseconds ms, google::protobuf::Duration* d) {
  d->set_seconds(ms.count() / 1000);
  d->set_nanos(static_cast<int32_t>((ms.count() % 1000) * 1'000'000));
}
milliseconds MsOf(const google::protobuf::Duration& d) {
  return milliseconds(d.seconds() * 1000 + d.nanos() / 1'000'000);
}
std::optional<Timestamp> OptTs(bool has, const google::protobuf::Timestamp& t) {
  if (!has) return std::nullopt;
  return FromProto(t);
}

void SetCallQuota(const AgentCallQuota& q, pb::CallQuota* out) {
  out->set_per_minute(q.per_minute);
  out->set_per_hour(q.per_hour);
  out->set_total(q.total);
}

AgentCallQuota CallQuotaOf(const pb::CallQuota& q) {
  return {q.per_minute(), q.per_hour(), q.total()};
}

void ToProto(const AgentSpec& s, pb::AgentSpec* out) {
  out->set_name(s.name);
  out->set_command(s.command);
  for (const auto& a : s.args) out->add_args(a);
  for (const auto& [k, v] : s.env) (*out->mutable_env())[k] = v;
  out->set_workdir(s.workdir);
  for (const auto& g : s.groups) out->add_groups(g);
  if (s.priority) {
    out->set_priority(*s.priority);
    out->set_priority_set(true);
  }
  out->set_profile(s.profile);
  out->set_uid(s.uid);
  out->set_gid(s.gid);
  if (s.stop_grace.count() > 0) SetDur(s.stop_grace, out->mutable_stop_grace());
  pb::RestartSpec* r = out->mutable_restart();
  r->set_policy(static_cast<pb::RestartSpec::Policy>(static_cast<int>(s.restart.policy)));
  if (s.restart.backoff_initial.count() > 0) SetDur(s.restart.backoff_initial, r->mutable_backoff_initial());
  if (s.restart.backoff_max.count() > 0) SetDur(s.restart.backoff_max, r->mutable_backoff_max());
  if (s.restart.window.count() > 0) SetDur(s.restart.window, r->mutable_window());
  if (s.restart.max_restarts) {
    r->set_max_restarts(*s.restart.max_restarts);
    r->set_max_restarts_set(true);
  }
  pb::AgentLimits* l = out->mutable_limits();
  l->set_memory_bytes(s.limits.memory_bytes);
  l->set_pids(s.limits.pids);
  l->set_cpu(s.limits.cpu);
  l->set_open_files(s.limits.open_files);
  if (s.limits.timeout.count() > 0) SetDur(s.limits.timeout, l->mutable_timeout());
  pb::AgentQuotas* q = out->mutable_quotas();
  SetCallQuota(s.quotas.calls, q->mutable_calls());
  q->set_bytes_per_minute(s.quotas.bytes_per_minute);
  q->set_bytes_per_hour(s.quotas.bytes_per_hour);
  q->set_tool_calls(s.quotas.tool_calls);
  for (const auto& [action, aq] : s.quotas.actions) SetCallQuota(aq, &(*q->mutable_actions())[action]);
}

AgentSpec FromProto(const pb::AgentSpec& m) {
  AgentSpec s;
  s.name = m.name();
  s.command = m.command();
  s.args.assign(m.args().begin(), m.args().end());
  for (const auto& [k, v] : m.env()) s.env[k] = v;
  s.workdir = m.workdir();
  s.groups.assign(m.groups().begin(), m.groups().end());
  if (m.priority_set() || m.priority() != 0) s.priority = m.priority();
  s.profile = m.profile();
  s.uid = m.uid();
  s.gid = m.gid();
  s.stop_grace = MsOf(m.stop_grace());
  const pb::RestartSpec& r = m.restart();
  int p = static_cast<int>(r.policy());
  s.restart.policy = p >= 1 && p <= 3 ? static_cast<RestartPolicy>(p) : RestartPolicy::kNo;
  s.restart.backoff_initial = MsOf(r.backoff_initial());
  s.restart.backoff_max = MsOf(r.backoff_max());
  s.restart.window = MsOf(r.window());
  if (r.max_restarts_set() || r.max_restarts() != 0) s.restart.max_restarts = r.max_restarts();
  const pb::AgentLimits& l = m.limits();
  s.limits.memory_bytes = l.memory_bytes();
  s.limits.pids = l.pids();
  s.limits.cpu = l.cpu();
  s.limits.open_files = l.open_files();
  s.limits.timeout = MsOf(l.timeout());
  const pb::AgentQuotas& q = m.quotas();
  s.quotas.calls = CallQuotaOf(q.calls());
  s.quotas.bytes_per_minute = q.bytes_per_minute();
  s.quotas.bytes_per_hour = q.bytes_per_hour();
  s.quotas.tool_calls = q.tool_calls();
  for (const auto& [action, aq] : q.actions()) s.quotas.actions[action] = CallQuotaOf(aq);
  return s;
}

AgentStatus FromProto(const pb::AgentStatus& m) {
  AgentStatus a;
  a.spec = FromProto(m.spec());
  int st = static_cast<int>(m.state());
  a.state = st >= 0 && st <= 6 ? static_cast<AgentState>(st) : AgentState::kUnspecified;
  a.reason = m.reason();
  a.exit_code = m.exit_code();
  a.signal = m.signal();
  a.created_at = OptTs(m.has_created_at(), m.created_at());
  a.state_since = OptTs(m.has_state_since(), m.state_since());
  a.queue_position = m.queue_position();
  a.restart_at = OptTs(m.has_restart_at(), m.restart_at());
  a.restarts = m.restarts();
  a.spiffe_id = m.spiffe_id();
  a.confinement = m.confinement();
  a.log_path = m.log_path();
  const pb::AgentInstance& i = m.instance();
  a.instance.id = i.id();
  a.instance.pid = i.pid();
  a.instance.started_at = OptTs(i.has_started_at(), i.started_at());
  a.instance.ended_at = OptTs(i.has_ended_at(), i.ended_at());
  a.instance.exit_code = i.exit_code();
  a.instance.signal = i.signal();
  a.instance.reason = i.reason();
  return a;
}

}  // namespace

// One unary Admin agent call returning an AgentStatus.
#define AIK_AGENT_CALL(Method, req)                                          \
  grpc::ClientContext ctx;                                                   \
  impl_->Prepare(ctx, call);                                                 \
  std::stop_callback cancel(call.stop, [&ctx] { ctx.TryCancel(); });         \
  pb::Method##Response resp;                                                 \
  grpc::Status st = impl_->admin->Method(&ctx, req, &resp);                  \
  if (!st.ok()) return impl_->FromGrpc(st, ctx, call);

Result<AgentStatus> Client::RunAgent(const AgentSpec& spec, bool replace, const CallOptions& call) {
  pb::RunAgentRequest req;
  ToProto(spec, req.mutable_spec());
  req.set_replace(replace);
  AIK_AGENT_CALL(RunAgent, req)
  AgentStatus a = FromProto(resp.agent());
  a.audit_sequence = AuditSeqOf(ctx);
  return a;
}

Result<AgentList> Client::ListAgents(const CallOptions& call) {
  pb::ListAgentsRequest req;
  AIK_AGENT_CALL(ListAgents, req)
  AgentList out;
  out.agents.reserve(resp.agents_size());
  for (const auto& m : resp.agents()) out.agents.push_back(FromProto(m));
  out.audit_sequence = AuditSeqOf(ctx);
  return out;
}

Result<AgentStatus> Client::InspectAgent(std::string_view name, const CallOptions& call) {
  pb::InspectAgentRequest req;
  req.set_name(std::string(name));
  AIK_AGENT_CALL(InspectAgent, req)
  AgentStatus a = FromProto(resp.agent());
  a.audit_sequence = AuditSeqOf(ctx);
  return a;
}

Result<AgentStatus> Client::StopAgent(std::string_view name, std::optional<milliseconds> grace,
                                      const CallOptions& call) {
  pb::StopAgentRequest req;
  req.set_name(std::string(name));
  if (grace) SetDur(*grace, req.mutable_grace());
  AIK_AGENT_CALL(StopAgent, req)
  AgentStatus a = FromProto(resp.agent());
  a.audit_sequence = AuditSeqOf(ctx);
  return a;
}

Result<AgentStatus> Client::KillAgent(std::string_view name, int signal, const CallOptions& call) {
  pb::KillAgentRequest req;
  req.set_name(std::string(name));
  req.set_signal(signal);
  AIK_AGENT_CALL(KillAgent, req)
  AgentStatus a = FromProto(resp.agent());
  a.audit_sequence = AuditSeqOf(ctx);
  return a;
}

Result<AgentStatus> Client::RestartAgent(std::string_view name, const CallOptions& call) {
  pb::RestartAgentRequest req;
  req.set_name(std::string(name));
  AIK_AGENT_CALL(RestartAgent, req)
  AgentStatus a = FromProto(resp.agent());
  a.audit_sequence = AuditSeqOf(ctx);
  return a;
}

Result<uint64_t> Client::RemoveAgent(std::string_view name, bool force, const CallOptions& call) {
  pb::RemoveAgentRequest req;
  req.set_name(std::string(name));
  req.set_force(force);
  AIK_AGENT_CALL(RemoveAgent, req)
  (void)resp;
  return AuditSeqOf(ctx);
}

#undef AIK_AGENT_CALL

Result<LogsResult> Client::AgentLogs(std::string_view name, const AgentLogOptions& options,
                                     const std::function<bool(std::string_view)>& on_data,
                                     const CallOptions& call) {
  internal::StreamCall s(*impl_, call);
  pb::AgentLogsRequest req;
  req.set_name(std::string(name));
  req.set_follow(options.follow);
  if (options.tail_bytes) {
    req.set_tail_bytes(*options.tail_bytes);
    req.set_tail_set(true);
  }
  req.set_include_rotated(options.include_rotated);
  auto reader = impl_->admin->AgentLogs(&s.ctx, req);
  LogsResult r;
  pb::AgentLogChunk chunk;
  while (reader->Read(&chunk)) {
    r.bytes += chunk.data().size();
    if (!on_data(chunk.data())) {
      s.StopByCaller();
      break;
    }
  }
  grpc::Status st = reader->Finish();
  r.audit_sequence = AuditSeqOf(s.ctx);
  if (Error e = s.End(st, &r.cancelled); !e.ok()) return e;
  return r;
}

// ---------------------------------------------------------------- Policy

Result<PolicyReloadResult> Client::ReloadPolicy(const CallOptions& call) {
  grpc::ClientContext ctx;
  impl_->Prepare(ctx, call);
  std::stop_callback cancel(call.stop, [&ctx] { ctx.TryCancel(); });
  auto stub = pb::Policy::NewStub(impl_->channel);
  pb::ReloadPolicyRequest req;
  pb::ReloadPolicyResponse resp;
  grpc::Status st = stub->ReloadPolicy(&ctx, req, &resp);
  if (!st.ok()) return impl_->FromGrpc(st, ctx, call);
  PolicyReloadResult r;
  r.digest = resp.digest();
  r.policies = resp.policies();
  r.files.assign(resp.files().begin(), resp.files().end());
  r.changed = resp.changed();
  r.audit_sequence = AuditSeqOf(ctx);
  return r;
}

Result<DecisionExplanation> Client::ExplainDecision(uint64_t sequence,
                                                    const CallOptions& call) {
  grpc::ClientContext ctx;
  impl_->Prepare(ctx, call);
  std::stop_callback cancel(call.stop, [&ctx] { ctx.TryCancel(); });
  auto stub = pb::Policy::NewStub(impl_->channel);
  pb::ExplainDecisionRequest req;
  req.set_sequence(sequence);
  pb::ExplainDecisionResponse resp;
  grpc::Status st = stub->ExplainDecision(&ctx, req, &resp);
  if (!st.ok()) return impl_->FromGrpc(st, ctx, call);
  DecisionExplanation e;
  e.record = FromProto(resp.record());
  e.decided_by = resp.decided_by();
  e.determining_policies.assign(resp.determining_policies().begin(),
                                resp.determining_policies().end());
  e.errored_policies.assign(resp.errored_policies().begin(), resp.errored_policies().end());
  e.notes.assign(resp.notes().begin(), resp.notes().end());
  e.policy_set_digest = resp.policy_set_digest();
  e.policy_load_sequence = resp.policy_load_sequence();
  e.current_policy_set_digest = resp.current_policy_set_digest();
  e.policy_set_changed = resp.policy_set_changed();
  for (const pb::ExplainedPolicy& p : resp.policies()) {
    e.policies.push_back({p.id(), p.role(), p.file(), p.line(), p.text()});
  }
  e.audit_sequence = AuditSeqOf(ctx);
  return e;
}

Result<ApprovalList> Client::ListApprovals(const CallOptions& call) {
  grpc::ClientContext ctx;
  impl_->Prepare(ctx, call);
  std::stop_callback cancel(call.stop, [&ctx] { ctx.TryCancel(); });
  auto stub = pb::Policy::NewStub(impl_->channel);
  pb::ListApprovalsRequest req;
  pb::ListApprovalsResponse resp;
  grpc::Status st = stub->ListApprovals(&ctx, req, &resp);
  if (!st.ok()) return impl_->FromGrpc(st, ctx, call);
  ApprovalList out;
  for (const pb::Approval& a : resp.approvals()) {
    Approval x;
    x.id = a.id();
    x.principal = a.principal();
    x.action = a.action();
    x.resource = a.resource();
    x.reason = a.reason();
    x.rule_ids.assign(a.rule_ids().begin(), a.rule_ids().end());
    x.requested_at = FromProto(a.requested_at());
    x.deadline = FromProto(a.deadline());
    out.approvals.push_back(std::move(x));
  }
  out.audit_sequence = AuditSeqOf(ctx);
  return out;
}

Result<uint64_t> Client::DecideApproval(uint64_t id, bool approve, std::string_view reason,
                                        const CallOptions& call) {
  grpc::ClientContext ctx;
  impl_->Prepare(ctx, call);
  std::stop_callback cancel(call.stop, [&ctx] { ctx.TryCancel(); });
  auto stub = pb::Policy::NewStub(impl_->channel);
  pb::DecideApprovalRequest req;
  req.set_id(id);
  req.set_approve(approve);
  req.set_reason(std::string(reason));
  pb::DecideApprovalResponse resp;
  grpc::Status st = stub->DecideApproval(&ctx, req, &resp);
  if (!st.ok()) return impl_->FromGrpc(st, ctx, call);
  return AuditSeqOf(ctx);
}

}  // namespace sdk
}  // namespace aikernel
