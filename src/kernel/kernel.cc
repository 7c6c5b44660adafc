#include "kernel/kernel.h"

#include <spdlog/spdlog.h>

#include <optional>

#include "kernel/cedar_authorizer.h"
#include "kernel/quota.h"

#include <google/protobuf/message.h>

namespace aikernel::kernel {

Kernel::Kernel(KernelInfo info, KernelDeps deps)
    : info_(std::move(info)),
      deps_(std::move(deps)),
      started_at_ns_(deps_.clock->RealtimeNs()),
      started_mono_ns_(deps_.clock->MonotonicNs()) {}

CallResult Kernel::Dispatch(const CallRequest& call, const Execute& execute) {
  const SyscallInfo& info = Describe(call.syscall);
  const int64_t received_ns = deps_.clock->RealtimeNs();
  const int64_t t0 = deps_.clock->MonotonicNs();
  total_.fetch_add(1, std::memory_order_relaxed);
  {
    std::lock_guard<std::mutex> lock(idle_mu_);
    ++in_flight_;
  }
  struct InFlight {
    Kernel* k;
    ~InFlight() {
      std::lock_guard<std::mutex> lock(k->idle_mu_);
      if (--k->in_flight_ == 0) k->idle_cv_.notify_all();
    }
  } in_flight{this};

  audit::Record record;
  record.time_ns = received_ns;
  record.node = info_.node;
  record.action = std::string(info.action);
  record.resource = call.resource;
  if (call.request != nullptr) record.request_digest = digester_.Digest(*call.request);

  Status status;
  std::string policy_set;  // the digest of the set that decided, if one did
  // 1 authenticate
  std::string revoked;  // the former principal of a revoked connection
  StatusOr<Principal> principal = call.authenticated != nullptr
                                       ? StatusOr<Principal>(*call.authenticated)
                                       : deps_.connections->Authenticate(call.peer, &revoked);
  std::vector<std::string> refused_credential;  // rule ids of a refused bearer token
  if (principal.ok() && !call.authorization.empty()) {
    Status presented = CheckPresented(*principal, call.authorization, &refused_credential);
    if (!presented.ok()) {
      record.principal = principal->Id();
      principal = presented;
    }
  }
  if (!principal.ok()) {
    if (record.principal.empty()) record.principal = "unauthenticated";
    record.decision = audit::Decision::kDeny;
    record.rule_ids = {"authn"};
    if (!revoked.empty()) record.rule_ids.push_back("revoked:" + revoked);
    for (std::string& id : refused_credential) record.rule_ids.push_back(std::move(id));
    status = principal.status();
    denied_.fetch_add(1, std::memory_order_relaxed);
  } else {
    record.principal = principal->Id();
  }
  // An operator trying a call under an agent's policy (CallRequest::act_as),
  // then the checks made before policy (CallRequest::prepare).
  StatusOr<Principal> acting = principal;
  if (principal.ok()) {
    if (!call.act_as.empty()) acting = ActAs(*principal, call.act_as);
    Status pre = !acting.ok()   ? acting.status()
                 : call.prepare ? call.prepare(*acting)
                                : absl::OkStatus();
    if (!pre.ok()) {
      record.decision = audit::Decision::kDeny;
      record.rule_ids = {acting.ok() ? "precheck" : "as:refused"};
      status = pre;
      (absl::IsPermissionDenied(pre) ? denied_ : failed_).fetch_add(1, std::memory_order_relaxed);
    }
  }
  AuthzRequest areq;
  if (principal.ok() && status.ok()) {
    // 2 admit: the caller's counters for this action and its hard quotas.
    areq.principal = &*acting;
    areq.call = &info;
    areq.time_ns = received_ns;
    status = Admit(call, &areq, &record);
    if (!status.ok()) denied_.fetch_add(1, std::memory_order_relaxed);
  }
  if (principal.ok() && status.ok()) {
    // 3 authorize
    areq.resource = ParseResourceString(call.resource);
    areq.args = call.request;
    areq.context = call.context;
    areq.node = info_.node;
    ContextAttrs extra;
    if (call.bind) {
      call.bind(*acting, &record.resource, &extra);
      areq.resource = ParseResourceString(record.resource);
      areq.extra = &extra;
    }
    Decision decision = deps_.authorizer->Decide(areq);
    policy_set = std::move(decision.policy_set);
    record.rule_ids = decision.rule_ids;
    for (const std::string& id : decision.error_ids) record.rule_ids.push_back("error:" + id);
    if (!call.act_as.empty()) record.rule_ids.push_back("as:" + acting->Id());
    if (decision.allow && decision.approval) {
      // 4 approve
      status = AwaitApproval(record, decision);
      if (!status.ok()) {
        decision.allow = false;
        decision.reason = std::string(status.message());
      }
    }
    if (!decision.allow) {
      record.decision = audit::Decision::kDeny;
      if (status.ok()) {
        status = absl::PermissionDeniedError(
            absl::StrCat("permission denied: ", decision.reason));
      }
      denied_.fetch_add(1, std::memory_order_relaxed);
    } else {
      record.decision = audit::Decision::kAllow;
      // 5 execute, but only if the call can be audited afterwards (fail closed).
      if (stopping()) {
        status = absl::UnavailableError("aikerneld is shutting down; call not executed");
        failed_.fetch_add(1, std::memory_order_relaxed);
      } else if (!deps_.sink->Accepting()) {
        status = absl::UnavailableError(
            "audit ledger is not accepting records; call not executed");
        failed_.fetch_add(1, std::memory_order_relaxed);
        return {status, 0};
      } else {
        status = execute(*acting);
        if (!status.ok()) failed_.fetch_add(1, std::memory_order_relaxed);
        if (call.annotations != nullptr) {
          for (std::string& a : *call.annotations) record.rule_ids.push_back(std::move(a));
        }
      }
    }
  }
  if (!call.correlation.empty()) record.rule_ids.push_back("corr:" + call.correlation);
  record.code = static_cast<int32_t>(status.code());
  if (status.ok() && call.audited_outcome != nullptr && !call.audited_outcome->ok()) {
    record.code = static_cast<int32_t>(call.audited_outcome->code());
  }
  record.latency_ns = deps_.clock->MonotonicNs() - t0;

  // 6 audit: durable before the reply.
  StatusOr<uint64_t> seq = AppendDecided(std::move(record), policy_set);
  if (!seq.ok()) {
    spdlog::error("audit append failed for {} ({}): {}", info.action,
                  status.ok() ? "executed" : status.ToString(),
                  seq.status().ToString());
    return {absl::UnavailableError(absl::StrCat(
                "audit ledger cannot be written: ", seq.status().message())),
            0};
  }
  return {status, *seq};
}

Status Kernel::Admit(const CallRequest& call, AuthzRequest* areq, audit::Record* record) {
  const Principal& p = *areq->principal;
  const int64_t now_s = areq->time_ns / 1'000'000'000;
  if (p.quotas == nullptr) {
    areq->counts = rates_.Hit(record->principal, areq->call->action, now_s);
    return absl::OkStatus();
  }
  const int64_t bytes =
      call.request != nullptr ? static_cast<int64_t>(call.request->ByteSizeLong()) : 0;
  std::optional<QuotaUse> exceeded;
  bool admitted = false;
  Usage u = rates_.Admit(
      record->principal, areq->call->action, now_s, bytes,
      [&](const Usage& used) {
        areq->budgets = ApplicableQuotas(*p.quotas, areq->call->action, used, bytes);
        for (const QuotaUse& q : areq->budgets) {
          if (q.exceeded()) {
            exceeded = q;
            return false;
          }
        }
        return true;
      },
      &admitted);
  areq->counts = u.action;
  if (admitted) return absl::OkStatus();
  record->decision = audit::Decision::kDeny;
  record->rule_ids = {"quota:" + exceeded->name};
  return QuotaExceeded(*exceeded, areq->call->action);
}

StatusOr<uint64_t> Kernel::AppendDecided(audit::Record record, const std::string& policy_set) {
  // Shared with NotePolicyLoad: a record appended after a policy.load record
  // whose call was decided by an earlier set says so, so that the set in
  // force for record N is "the last policy.load before N" unless tagged.
  std::shared_lock<std::shared_mutex> lock(policy_record_mu_);
  if (!policy_set.empty() && !recorded_policy_set_.empty() &&
      policy_set != recorded_policy_set_) {
    record.rule_ids.push_back(std::string(kPolicySetTag) + policy_set.substr(0, 16));
  }
  return deps_.sink->Append(std::move(record));
}

StatusOr<uint64_t> Kernel::NotePolicyLoad(const std::string& digest, audit::Record record) {
  std::unique_lock<std::shared_mutex> lock(policy_record_mu_);
  recorded_policy_set_ = digest;
  return AppendEvent(std::move(record));
}

StatusOr<Principal> Kernel::ActAs(const Principal& caller, const std::string& agent) const {
  if (caller.kind != Principal::Kind::kOperator) {
    return absl::PermissionDeniedError(absl::StrCat(
        "permission denied: ", caller.Id(), " may not act as agent ", agent,
        " (only operators may try a call under an agent's policy)"));
  }
  if (deps_.agents == nullptr) {
    return absl::UnavailableError("agents are not enabled in this daemon; cannot act as one");
  }
  AIK_ASSIGN_OR_RETURN(agents::AgentInfo a, deps_.agents->Inspect(agent));
  Principal p;
  p.kind = Principal::Kind::kAgent;
  p.uid = static_cast<uid_t>(a.spec.uid);
  p.gid = static_cast<gid_t>(a.spec.gid);
  p.pid = caller.pid;
  p.spiffe_id = a.spiffe_id.empty() ? absl::StrCat("spiffe://", info_.node, "/agent/", agent)
                                    : a.spiffe_id;
  p.instance_id = "as-operator";
  p.agent_name = agent;
  p.agent_groups = a.spec.groups;
  return p;
}

StatusOr<tools::Registry*> Kernel::Tools() const {
  if (deps_.tools == nullptr) {
    return absl::UnavailableError("tools are not enabled in this daemon");
  }
  return deps_.tools;
}

Status Kernel::AuthorizeStep(const Principal& principal, Syscall syscall,
                             const std::string& resource, const nlohmann::json& context,
                             const std::string& step) {
  const SyscallInfo& info = Describe(syscall);
  const int64_t now_ns = deps_.clock->RealtimeNs();
  AuthzRequest areq;
  areq.principal = &principal;
  areq.call = &info;
  areq.resource = ParseResourceString(resource);
  areq.context = &context;
  areq.node = info_.node;
  areq.time_ns = now_ns;
  areq.counts = rates_.Hit(principal.Id(), info.action, now_ns / 1'000'000'000);
  Decision d = deps_.authorizer->Decide(areq);
  Status status;
  if (d.allow && d.approval) {
    d.allow = false;
    d.reason = absl::StrCat(*d.approval, " (a step inside a call is never parked for approval)");
  }
  if (!d.allow) {
    status = absl::PermissionDeniedError(absl::StrCat("permission denied: ", step, ": ", d.reason));
  }
  audit::Record r;
  r.time_ns = now_ns;
  r.principal = principal.Id();
  r.action = std::string(info.action);
  r.resource = resource;
  r.decision = d.allow ? audit::Decision::kAllow : audit::Decision::kDeny;
  r.rule_ids = d.rule_ids;
  for (const std::string& id : d.error_ids) r.rule_ids.push_back("error:" + id);
  r.rule_ids.push_back("step:" + step);
  r.code = static_cast<int32_t>(status.code());
  if (StatusOr<uint64_t> seq = AppendEvent(std::move(r)); !seq.ok()) {
    return absl::UnavailableError(
        absl::StrCat("audit ledger cannot be written: ", seq.status().message()));
  }
  return status;
}

Status Kernel::AwaitApproval(audit::Record& record, const Decision& decision) {
  if (deps_.approvals == nullptr) {
    record.rule_ids.push_back("approval:unavailable");
    return absl::PermissionDeniedError(absl::StrCat(
        "permission denied: ", record.action, " needs an operator's approval (",
        *decision.approval, ") and this kernel has no approval queue"));
  }
  PendingApproval p;
  p.principal = record.principal;
  p.action = record.action;
  p.resource = record.resource;
  p.reason = *decision.approval;
  p.rule_ids = decision.rule_ids;
  const uint64_t id = deps_.approvals->Park(&p, deps_.clock->RealtimeNs());
  const std::string tag = absl::StrCat("approval:", id);
  // The wait itself is on the ledger before the operator can see it decided.
  audit::Record wait;
  wait.principal = record.principal;
  wait.action = "approval.request";
  wait.resource = absl::StrCat(tag, ":", record.action, ":", record.resource);
  wait.request_digest = record.request_digest;
  wait.decision = audit::Decision::kAllow;
  wait.rule_ids = decision.rule_ids;
  wait.rule_ids.push_back("awaiting:" + p.reason);
  if (StatusOr<uint64_t> seq = AppendEvent(std::move(wait)); !seq.ok()) {
    deps_.approvals->Decide(id, false, "kernel", "audit ledger cannot be written").IgnoreError();
  }
  spdlog::info("{} {} on {} waits for approval {} ({})", record.principal, record.action,
               record.resource, id, p.reason);
  ApprovalOutcome out = deps_.approvals->Wait(id);
  switch (out.kind) {
    case ApprovalOutcome::Kind::kApproved:
      record.rule_ids.push_back(absl::StrCat(tag, ":approved-by:", out.by));
      return absl::OkStatus();
    case ApprovalOutcome::Kind::kDenied:
      record.rule_ids.push_back(absl::StrCat(tag, ":denied-by:", out.by));
      return absl::PermissionDeniedError(absl::StrCat(
          "permission denied: approval ", id, " for ", record.action, " denied by ", out.by,
          out.reason.empty() ? "" : ": ", out.reason));
    case ApprovalOutcome::Kind::kTimedOut:
      record.rule_ids.push_back(tag + ":timed-out");
      return absl::PermissionDeniedError(absl::StrCat(
          "permission denied: approval ", id, " for ", record.action,
          " timed out with no operator decision (", p.reason, ")"));
    case ApprovalOutcome::Kind::kCancelled:
      record.rule_ids.push_back(tag + ":cancelled");
      return absl::UnavailableError(absl::StrCat(
          "approval ", id, " cancelled: aikerneld is shutting down; call not executed"));
  }
  return absl::InternalError("unreachable");
}

StatusOr<uint64_t> Kernel::AppendEvent(audit::Record record) {
  if (record.time_ns == 0) record.time_ns = deps_.clock->RealtimeNs();
  record.node = info_.node;
  return deps_.sink->Append(std::move(record));
}

bool Kernel::WaitForIdle(std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(idle_mu_);
  return idle_cv_.wait_for(lock, timeout, [&] { return in_flight_ == 0; });
}

CallCounters Kernel::counters() const {
  return {total_.load(), denied_.load(), failed_.load(),
          deps_.connections->accepted()};
}

StatusSnapshot Kernel::Snapshot() const {
  StatusSnapshot s;
  s.info = info_;
  s.started_at_ns = started_at_ns_;
  s.uptime_ns = deps_.clock->MonotonicNs() - started_mono_ns_;
  if (deps_.ledger != nullptr) s.head = deps_.ledger->head();
  s.key_id = deps_.key_id;
  s.calls = counters();
  if (deps_.agents != nullptr) {
    s.agents_enabled = true;
    s.confinement = deps_.agents->Confinement();
    AgentControl::Counts n = deps_.agents->CountAgents();
    s.agents_total = n.total;
    s.agents_running = n.running;
    s.agents_queued = n.queued;
  }
  return s;
}

namespace {
Status NoAgents() { return absl::UnavailableError("agents are not enabled in this daemon"); }
}  // namespace

StatusOr<agents::AgentInfo> Kernel::RunAgent(const agents::AgentSpec& spec, bool replace) {
  if (deps_.agents == nullptr) return NoAgents();
  return deps_.agents->Run(spec, replace);
}
StatusOr<std::vector<agents::AgentInfo>> Kernel::ListAgents() {
  if (deps_.agents == nullptr) return NoAgents();
  return deps_.agents->List();
}
StatusOr<agents::AgentInfo> Kernel::InspectAgent(const std::string& name) {
  if (deps_.agents == nullptr) return NoAgents();
  return deps_.agents->Inspect(name);
}
StatusOr<agents::AgentInfo> Kernel::StopAgent(const std::string& name,
                                              std::chrono::milliseconds grace) {
  if (deps_.agents == nullptr) return NoAgents();
  return deps_.agents->Stop(name, grace);
}
StatusOr<agents::AgentInfo> Kernel::KillAgent(const std::string& name, int signal) {
  if (deps_.agents == nullptr) return NoAgents();
  return deps_.agents->Kill(name, signal);
}
StatusOr<agents::AgentInfo> Kernel::RestartAgent(const std::string& name) {
  if (deps_.agents == nullptr) return NoAgents();
  return deps_.agents->Restart(name);
}
Status Kernel::RemoveAgent(const std::string& name, bool force) {
  if (deps_.agents == nullptr) return NoAgents();
  return deps_.agents->Remove(name, force);
}
Status Kernel::AgentLogs(const std::string& name, const AgentLogOptions& options,
                         const std::function<bool(const std::string&)>& emit,
                         const std::function<bool()>& cancelled) {
  if (deps_.agents == nullptr) return NoAgents();
  return deps_.agents->Logs(name, options,
                            emit, [&] { return cancelled() || stopping(); });
}

Status Kernel::QueryAudit(const audit::Filter& filter, bool follow,
                          const std::function<bool(const audit::Record&)>& emit,
                          const std::function<bool()>& cancelled) const {
  if (deps_.ledger == nullptr) {
    return absl::UnavailableError("no ledger attached");
  }
  AIK_ASSIGN_OR_RETURN(auto reader, audit::Reader::Open(info_.audit_path));
  bool open = true;
  uint64_t last_seen = filter.after_sequence;
  // Records written after the query began are left to the follow loop; the
  // head read here bounds the first pass.
  const uint64_t head_at_start = deps_.ledger->head().sequence;
  auto forward = [&](const audit::Record& r) {
    last_seen = std::max(last_seen, r.sequence);
    if (!emit(r)) {
      open = false;
      return false;
    }
    return true;
  };
  AIK_ASSIGN_OR_RETURN(uint64_t n, reader->Query(filter, forward));
  (void)n;
  last_seen = std::max(last_seen, head_at_start);
  if (!follow) return absl::OkStatus();

  audit::Filter next = filter;
  next.last = false;
  next.limit = 0;
  while (open && !stopping() && !cancelled()) {
    uint64_t head = deps_.ledger->WaitForSequenceAbove(
        last_seen, std::chrono::milliseconds(250));
    if (head <= last_seen) continue;
    next.after_sequence = last_seen;
    AIK_ASSIGN_OR_RETURN(uint64_t got, reader->Query(next, forward));
    (void)got;
    // Non-matching records also advance the cursor.
    last_seen = std::max(last_seen, head);
  }
  return absl::OkStatus();
}

StatusOr<Explanation> Kernel::ExplainDecision(uint64_t sequence) const {
  if (deps_.ledger == nullptr) return absl::UnavailableError("no ledger attached");
  AIK_ASSIGN_OR_RETURN(auto reader, audit::Reader::Open(info_.audit_path));
  std::shared_ptr<const policy::PolicyStore> current;
  if (deps_.policies != nullptr) current = deps_.policies->store();
  return ExplainRecord(*reader, sequence, current.get());
}

StatusOr<memory::Memory*> Kernel::Memory() const {
  if (deps_.memory == nullptr) {
    return absl::UnavailableError("memory is not enabled in this daemon");
  }
  return deps_.memory;
}

StatusOr<memory::Memory*> Kernel::MemoryForWrite(std::string_view ns) const {
  AIK_ASSIGN_OR_RETURN(memory::Memory * m, Memory());
  if (ns.starts_with("agent/")) {
    AIK_RETURN_IF_ERROR(m->EnsureNamespace({std::string(ns)}).status());
  }
  return m;
}

Status Kernel::CheckPresented(const Principal& principal, const std::string& authorization,
                              std::vector<std::string>* rule_ids) const {
  rule_ids->push_back("authn:bearer");
  if (deps_.identity == nullptr) {
    return absl::UnauthenticatedError(
        "authorization: bearer tokens are not accepted (identity is not enabled in this daemon)");
  }
  std::string subject;
  Status s = deps_.identity->CheckPresented(principal, authorization, &subject);
  if (!subject.empty()) rule_ids->push_back("bearer-sub:" + subject);
  if (!s.ok()) {
    spdlog::warn("authentication failed: {} presented a credential that is refused: {}",
                 principal.Id(), std::string(s.message()));
  }
  return s;
}

StatusOr<IdentityCalls*> Kernel::Identity() const {
  if (deps_.identity == nullptr) {
    return absl::UnavailableError("identity is not enabled in this daemon");
  }
  return deps_.identity;
}

void Kernel::SetReloadHandler(std::function<StatusOr<ReloadResult>()> fn) {
  std::lock_guard<std::mutex> lock(reload_mu_);
  reload_ = std::move(fn);
}

StatusOr<ReloadResult> Kernel::Reload() {
  std::lock_guard<std::mutex> lock(reload_mu_);
  if (!reload_) return absl::UnimplementedError("reload is not wired");
  return reload_();
}

}  // namespace aikernel::kernel

namespace aikernel::kernel {

void Kernel::SetPolicyReloadHandler(std::function<StatusOr<PolicyReloadResult>()> fn) {
  std::lock_guard<std::mutex> lock(reload_mu_);
  policy_reload_ = std::move(fn);
}

StatusOr<PolicyReloadResult> Kernel::ReloadPolicies() {
  std::function<StatusOr<PolicyReloadResult>()> fn;
  {
    std::lock_guard<std::mutex> lock(reload_mu_);
    fn = policy_reload_;
  }
  if (!fn) return absl::UnimplementedError("policy reload is not wired");
  return fn();
}

}  // namespace aikernel::kernel
