#include "rpc/agent_proto.h"

namespace aikernel::rpc {
namespace {

namespace pb = ::aikernel::v1;

int64_t Ms(const google::protobuf::Duration& d) {
  return d.seconds() * 1000 + d.nanos() / 1'000'000;
}
void SetMs(int64_t ms, google::protobuf::Duration* d) {
  d->set_seconds(ms / 1000);
  d->set_nanos(static_cast<int32_t>((ms % 1000) * 1'000'000));
}
void SetTs(int64_t ns, google::protobuf::Timestamp* ts) {
  ts->set_seconds(ns / 1'000'000'000);
  ts->set_nanos(static_cast<int32_t>(ns % 1'000'000'000));
}

Status Duration(const std::string& field, bool has, const google::protobuf::Duration& d,
                int64_t* out) {
  if (!has) return absl::OkStatus();
  if (d.seconds() < 0 || d.nanos() < 0) {
    return absl::InvalidArgumentError(absl::StrCat(field, ": must not be negative"));
  }
  *out = Ms(d);
  return absl::OkStatus();
}

pb::AgentState ToProto(agents::AgentState s) {
  switch (s) {
    case agents::AgentState::kQueued: return pb::AGENT_STATE_QUEUED;
    case agents::AgentState::kStarting: return pb::AGENT_STATE_STARTING;
    case agents::AgentState::kRunning: return pb::AGENT_STATE_RUNNING;
    case agents::AgentState::kExited: return pb::AGENT_STATE_EXITED;
    case agents::AgentState::kFailed: return pb::AGENT_STATE_FAILED;
    case agents::AgentState::kStopped: return pb::AGENT_STATE_STOPPED;
  }
  return pb::AGENT_STATE_UNSPECIFIED;
}

// Out-of-range values become one Validate() refuses, naming the field.
int64_t Clamp(uint64_t v) { return v > INT64_MAX ? INT64_MAX : static_cast<int64_t>(v); }

agents::CallQuota FromProto(const pb::CallQuota& q) {
  return {Clamp(q.per_minute()), Clamp(q.per_hour()), Clamp(q.total())};
}
void ToProto(const agents::CallQuota& q, pb::CallQuota* out) {
  out->set_per_minute(static_cast<uint64_t>(q.per_minute));
  out->set_per_hour(static_cast<uint64_t>(q.per_hour));
  out->set_total(static_cast<uint64_t>(q.total));
}

}  // namespace

StatusOr<agents::AgentSpec> FromProto(const pb::AgentSpec& in) {
  agents::AgentSpec s;
  s.name = in.name();
  s.command = in.command();
  s.args.assign(in.args().begin(), in.args().end());
  for (const auto& [k, v] : in.env()) s.env[k] = v;
  s.workdir = in.workdir();
  s.groups.assign(in.groups().begin(), in.groups().end());
  if (in.priority_set() || in.priority() != 0) s.priority = in.priority();
  if (!in.profile().empty()) s.profile = in.profile();
  if (in.uid() != 0) s.uid = in.uid();
  if (in.gid() != 0) s.gid = in.gid();
  AIK_RETURN_IF_ERROR(Duration("stop_grace", in.has_stop_grace(), in.stop_grace(), &s.stop_grace_ms));
  const pb::RestartSpec& r = in.restart();
  switch (r.policy()) {
    case pb::RestartSpec::POLICY_UNSPECIFIED:
    case pb::RestartSpec::POLICY_NO: s.restart.policy = agents::RestartPolicy::kNo; break;
    case pb::RestartSpec::POLICY_ON_FAILURE:
      s.restart.policy = agents::RestartPolicy::kOnFailure;
      break;
    case pb::RestartSpec::POLICY_ALWAYS: s.restart.policy = agents::RestartPolicy::kAlways; break;
    default:
      return absl::InvalidArgumentError(
          absl::StrCat("restart.policy: unknown value ", static_cast<int>(r.policy())));
  }
  AIK_RETURN_IF_ERROR(Duration("restart.backoff_initial", r.has_backoff_initial(),
                               r.backoff_initial(), &s.restart.backoff_initial_ms));
  AIK_RETURN_IF_ERROR(Duration("restart.backoff_max", r.has_backoff_max(), r.backoff_max(),
                               &s.restart.backoff_max_ms));
  AIK_RETURN_IF_ERROR(Duration("restart.window", r.has_window(), r.window(), &s.restart.window_ms));
  if (r.max_restarts_set() || r.max_restarts() != 0) s.restart.max_restarts = r.max_restarts();
  const pb::AgentLimits& l = in.limits();
  if (l.memory_bytes() != 0) s.limits.memory_bytes = static_cast<int64_t>(l.memory_bytes());
  if (l.pids() != 0) s.limits.pids = static_cast<int64_t>(l.pids());
  if (l.cpu() < 0) s.limits.cpu = 0;
  else if (l.cpu() > 0) s.limits.cpu = l.cpu();
  if (l.open_files() != 0) s.limits.open_files = static_cast<int64_t>(l.open_files());
  AIK_RETURN_IF_ERROR(Duration("limits.timeout", l.has_timeout(), l.timeout(), &s.limits.timeout_ms));
  const pb::AgentQuotas& q = in.quotas();
  s.quotas.calls = FromProto(q.calls());
  s.quotas.bytes_per_minute = Clamp(q.bytes_per_minute());
  s.quotas.bytes_per_hour = Clamp(q.bytes_per_hour());
  s.quotas.tool_calls = Clamp(q.tool_calls());
  for (const auto& [action, aq] : q.actions()) s.quotas.actions[action] = FromProto(aq);
  return s;
}

void ToProto(const agents::AgentSpec& s, pb::AgentSpec* out) {
  out->set_name(s.name);
  out->set_command(s.command);
  for (const auto& a : s.args) out->add_args(a);
  for (const auto& [k, v] : s.env) (*out->mutable_env())[k] = v;
  out->set_workdir(s.workdir);
  for (const auto& g : s.groups) out->add_groups(g);
  out->set_priority(static_cast<int32_t>(s.priority));
  out->set_priority_set(true);
  out->set_profile(s.profile);
  out->set_uid(s.uid < 0 ? 0 : static_cast<uint32_t>(s.uid));
  out->set_gid(s.gid < 0 ? 0 : static_cast<uint32_t>(s.gid));
  SetMs(s.stop_grace_ms, out->mutable_stop_grace());
  pb::RestartSpec* r = out->mutable_restart();
  switch (s.restart.policy) {
    case agents::RestartPolicy::kNo: r->set_policy(pb::RestartSpec::POLICY_NO); break;
    case agents::RestartPolicy::kOnFailure: r->set_policy(pb::RestartSpec::POLICY_ON_FAILURE); break;
    case agents::RestartPolicy::kAlways: r->set_policy(pb::RestartSpec::POLICY_ALWAYS); break;
  }
  SetMs(s.restart.backoff_initial_ms, r->mutable_backoff_initial());
  SetMs(s.restart.backoff_max_ms, r->mutable_backoff_max());
  r->set_max_restarts(static_cast<uint32_t>(s.restart.max_restarts));
  r->set_max_restarts_set(true);
  SetMs(s.restart.window_ms, r->mutable_window());
  pb::AgentLimits* l = out->mutable_limits();
  l->set_memory_bytes(static_cast<uint64_t>(s.limits.memory_bytes));
  l->set_pids(static_cast<uint64_t>(s.limits.pids));
  l->set_cpu(s.limits.cpu == 0 ? -1 : s.limits.cpu);
  l->set_open_files(static_cast<uint64_t>(s.limits.open_files));
  if (s.limits.timeout_ms > 0) SetMs(s.limits.timeout_ms, l->mutable_timeout());
  if (!s.quotas.empty()) {
    pb::AgentQuotas* q = out->mutable_quotas();
    ToProto(s.quotas.calls, q->mutable_calls());
    q->set_bytes_per_minute(static_cast<uint64_t>(s.quotas.bytes_per_minute));
    q->set_bytes_per_hour(static_cast<uint64_t>(s.quotas.bytes_per_hour));
    q->set_tool_calls(static_cast<uint64_t>(s.quotas.tool_calls));
    for (const auto& [action, aq] : s.quotas.actions) ToProto(aq, &(*q->mutable_actions())[action]);
  }
}

void ToProto(const agents::AgentInfo& a, pb::AgentStatus* out) {
  ToProto(a.spec, out->mutable_spec());
  out->set_state(ToProto(a.state));
  out->set_reason(a.reason);
  out->set_exit_code(a.exit_code);
  out->set_signal(a.signal);
  if (a.created_at_ns) SetTs(a.created_at_ns, out->mutable_created_at());
  if (a.state_since_ns) SetTs(a.state_since_ns, out->mutable_state_since());
  out->set_queue_position(a.queue_position);
  if (a.restart_at_ns) SetTs(a.restart_at_ns, out->mutable_restart_at());
  out->set_restarts(a.restarts);
  out->set_spiffe_id(a.spiffe_id);
  out->set_confinement(a.confinement);
  out->set_log_path(a.log_path);
  if (!a.instance.id.empty()) {
    pb::AgentInstance* i = out->mutable_instance();
    i->set_id(a.instance.id);
    i->set_pid(a.instance.pid);
    if (a.instance.started_at_ns) SetTs(a.instance.started_at_ns, i->mutable_started_at());
    if (a.instance.ended_at_ns) SetTs(a.instance.ended_at_ns, i->mutable_ended_at());
    i->set_exit_code(a.instance.exit_code);
    i->set_signal(a.instance.signal);
    i->set_reason(a.instance.reason);
  }
}

}  // namespace aikernel::rpc
