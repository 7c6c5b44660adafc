// kernel::Kernel: the one dispatch path every call takes.
//
// Contract
// - Dispatch() runs, in this order and never otherwise:
//     1 authenticate  the call's connection -> Principal (ConnectionTable);
//                     failure is UNAUTHENTICATED, audited (rule id "authn",
//                     principal "unauthenticated"; "revoked:<id>" after it
//                     for a connection of an ended agent instance), not
//                     executed. A credential the call presented
//                     (CallRequest::authorization) must be the connection's
//                     own (IdentityCalls::CheckPresented); if not, the call
//                     is UNAUTHENTICATED, audited under the connection's
//                     principal with rule ids "authn", "authn:bearer" (and
//                     "bearer-sub:<sub>" when the token's signature held),
//                     not executed. A matching one changes nothing;
//                     then CallRequest::act_as (operators trying a call as
//                     an agent) and CallRequest::prepare (checks made
//                     before policy); a failure is the outcome, audited
//                     (rule id "as:refused" / "precheck"), not executed;
//     2 admit         the caller's counters for this action (calls in the
//                     last minute and hour, RateCounters) are counted; an
//                     agent's hard quotas (its spec's [quotas], quota.h) are
//                     checked: one exceeded is RESOURCE_EXHAUSTED naming it,
//                     audited as a deny with rule_ids ["quota:<name>"], the
//                     call neither counted, authorized nor executed;
//     3 authorize     Authorizer::Decide with principal, action, typed
//                     resource and context {args, node, time, counters}; a
//                     deny is PERMISSION_DENIED whose message names the
//                     deciding policy ids, audited, not executed;
//     4 approve       an allow decided by an @approval permit parks the call
//                     (ApprovalQueue) until an operator approves (continue),
//                     denies or the timeout passes (PERMISSION_DENIED); the
//                     wait is its own ledger record ("approval.request");
//     5 execute       only if allowed and the audit sink is accepting
//                     (otherwise UNAVAILABLE, nothing executed);
//     6 audit         exactly one ledger record per call (allowed, denied or
//                     failed), durable before Dispatch() returns. If it
//                     cannot be written the caller gets UNAVAILABLE, even if
//                     execution succeeded (and an error is logged). Its
//                     rule_ids are the deciding policy ids, then
//                     "error:<id>" per policy that errored, then the
//                     approval outcome ("approval:<id>:approved-by:<op>"),
//                     then "corr:<id>" for a call with a correlation id,
//                     then, only if the deciding policy set is not the one
//                     the last policy.load record before it names,
//                     "policyset:<first 16 hex of its digest>".
// - The RPC layer is a thin adapter: it converts protobuf <-> the kernel's
//   types and calls Dispatch() with an `execute` closure; it holds no policy.
// - Thread-safe: Dispatch() is called concurrently from gRPC's threads.
// - The kernel does not own the table, authorizer, sink or clock; they must
//   outlive it.
#pragma once

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <shared_mutex>
#include <chrono>
#include <cstdint>
#include <functional>
#include <string>

#include "audit/ledger.h"
#include "audit/reader.h"
#include "audit/sink.h"
#include "common/status.h"
#include "kernel/agent_control.h"
#include "kernel/approvals.h"
#include "kernel/authorizer.h"
#include "kernel/explain.h"
#include "kernel/clock.h"
#include "kernel/connection_table.h"
#include "kernel/identity_calls.h"
#include "kernel/principal.h"
#include "kernel/rate_counters.h"
#include "kernel/request_digest.h"
#include "kernel/syscalls.h"
#include "memory/memory.h"
#include "tools/registry.h"

namespace aikernel::kernel {

class CedarAuthorizer;

// The rule_ids entry naming the deciding policy set when it is not the last
// recorded one (see Dispatch step 6).
inline constexpr char kPolicySetTag[] = "policyset:";

struct KernelInfo {
  std::string node;
  std::string version;
  std::string socket_path;
  std::string state_dir;
  std::string audit_path;         // for readers (QueryAudit)
  std::string audit_synchronous;  // "full" / "normal"
};

// Where a call came from, as the RPC layer saw it (rpc::CallerOf): the
// connection, and the credential the call presented, if any.
struct Caller {
  std::string peer;           // grpc::ServerContext::peer(), e.g. "fd:12"
  std::string authorization;  // the "authorization" metadata; "" if none
};

// `resource` is "<kind>:<id>" as the ledger shows it; Cedar sees it as
// Kind::"id" with the kind capitalized (ParseResourceString: "tool:fs.read"
// -> Tool::"fs.read").
struct CallRequest {
  CallRequest() = default;
  CallRequest(std::string peer_, Syscall syscall_, std::string resource_,
              const google::protobuf::Message* request_ = nullptr)
      : peer(std::move(peer_)), syscall(syscall_), resource(std::move(resource_)),
        request(request_) {}
  CallRequest(Caller caller, Syscall syscall_, std::string resource_,
              const google::protobuf::Message* request_ = nullptr)
      : peer(std::move(caller.peer)), syscall(syscall_), resource(std::move(resource_)),
        request(request_), authorization(std::move(caller.authorization)) {}

  std::string peer;  // grpc::ServerContext::peer(), e.g. "fd:12"
  Syscall syscall = Syscall::kWhoami;
  std::string resource;
  const google::protobuf::Message* request = nullptr;  // digested; context.args
  // Optional: called once the caller is authenticated, before authorization,
  // for what depends on who is calling: it may replace the resource (an
  // agent's own inbox) and add context attributes (msg.send).
  std::function<void(const Principal&, std::string* resource, ContextAttrs* context)> bind;
  // Optional: ties this call's ledger record to records elsewhere (a
  // message's record on the sending and the receiving node); appended to
  // rule_ids as "corr:<id>".
  std::string correlation;
  // Optional: a principal established by the caller of Dispatch instead of
  // the ConnectionTable. Only rpc/peer_service.cc sets it, for a remote
  // agent whose node authenticated over mTLS and signed an assertion naming
  // it; `peer` is then ignored.
  const Principal* authenticated = nullptr;
  // If set, the execute closure may store here a refusal that is part of a
  // successful reply (identity.validate_jwt: a rejected token is an OK
  // reply with valid = false). The audit record then carries that code
  // instead of OK, so the ledger shows every failed validation. Not owned.
  const Status* audited_outcome = nullptr;
  // Optional checks run after authentication and before authorization (a
  // tool's arguments against its schema, so a malformed call is refused
  // before any policy sees it). An error is the call's outcome: audited
  // with decision deny and rule id "precheck", not executed. It may fill
  // *context.
  std::function<Status(const Principal&)> prepare = {};
  // Extra policy context (AuthzRequest::context), read after `prepare`.
  const nlohmann::json* context = nullptr;
  // Operators only: authorize the call as the agent of this name (its
  // SPIFFE id and spec groups, instance "as-operator"); `execute` gets that
  // principal. The record keeps the operator as principal and adds
  // "as:<agent principal id>" to rule_ids. Anyone else: PERMISSION_DENIED.
  std::string act_as = {};
  // `execute` may append here; Dispatch adds them to the record's rule_ids
  // after the decision's (tool calls: "tool.provider:<p>",
  // "tool.result_bytes:<n>"; docs/ledger-format.md).
  std::vector<std::string>* annotations = nullptr;
  // A credential the call presented ("Bearer <JWT-SVID>"). It never makes
  // the caller anyone: the connection's principal is who calls. It is
  // checked in step 1 (IdentityCalls::CheckPresented): a token that is not
  // the connection's own is UNAUTHENTICATED, audited, not executed.
  std::string authorization = {};
};

struct CallResult {
  Status status;
  uint64_t audit_sequence = 0;  // 0 if no record could be written
};

struct CallCounters {
  uint64_t total = 0, denied = 0, failed = 0, connections = 0;
};

struct StatusSnapshot {
  KernelInfo info;
  int64_t started_at_ns = 0;
  int64_t uptime_ns = 0;
  audit::Head head;
  std::string key_id;
  CallCounters calls;
  bool agents_enabled = false;  // an AgentControl is attached
  agents::ConfinementInfo confinement;
  uint32_t agents_total = 0, agents_running = 0, agents_queued = 0;
};

struct ReloadResult {
  std::vector<std::string> applied;
  std::vector<std::string> needs_restart;
};

struct PolicyReloadResult {
  std::string digest;  // hex SHA-256 of the set in force
  size_t policies = 0;
  std::vector<std::string> files;
  bool changed = false;  // the digest differs from the previous set's
};

struct KernelDeps {
  ConnectionTable* connections = nullptr;
  const Authorizer* authorizer = nullptr;
  audit::Sink* sink = nullptr;
  audit::Ledger* ledger = nullptr;  // may be null in tests: no head, no query
  AgentControl* agents = nullptr;   // null: agent syscalls are UNAVAILABLE
  memory::Memory* memory = nullptr;  // null: memory.* syscalls are UNAVAILABLE
  // The node CA, SVIDs and revocation (identity_calls.h); null: identity.*
  // syscalls are UNAVAILABLE. Also how other subsystems reach the node's
  // own credentials (Kernel::Identity()).
  IdentityCalls* identity = nullptr;
  tools::Registry* tools = nullptr;  // null: tool.* syscalls are UNAVAILABLE
  const Clock* clock = &SystemClock::Get();
  std::string key_id;
  // Parks calls that need an operator's approval; null: such calls are
  // denied ("no approval queue").
  ApprovalQueue* approvals = nullptr;
  // The policy set in force, for explaining decisions; null: explanations
  // carry ids only.
  const CedarAuthorizer* policies = nullptr;
};

class Kernel {
 public:
  using Execute = std::function<Status(const Principal&)>;

  Kernel(KernelInfo info, KernelDeps deps);

  CallResult Dispatch(const CallRequest& call, const Execute& execute);

  // --- syscall implementations, called from `execute` closures ---
  StatusSnapshot Snapshot() const;
  // Streams matching records to `emit` (stop when it returns false). With
  // `follow`, waits for new records until `emit` returns false, `cancelled`
  // returns true, or the kernel is shutting down.
  Status QueryAudit(const audit::Filter& filter, bool follow,
                    const std::function<bool(const audit::Record&)>& emit,
                    const std::function<bool()>& cancelled) const;
  StatusOr<ReloadResult> Reload();
  // policy.explain: why audit record `sequence` was decided as it was
  // (kernel/explain.h). UNAVAILABLE without a ledger.
  StatusOr<Explanation> ExplainDecision(uint64_t sequence) const;
  // memory.* syscalls (rpc/memory_service.cc) call the memory subsystem
  // through these, inside their `execute` closures (so only once Dispatch
  // has authorized the call). UNAVAILABLE when no memory is attached.
  StatusOr<memory::Memory*> Memory() const;
  // As Memory(), for a write into `ns`: an agent's namespace agent/<name>
  // exists implicitly and is created on its first write, with the default
  // quotas; shared/<name> namespaces are created by operators
  // (memory.admin), so a write to a missing one is NOT_FOUND.
  StatusOr<memory::Memory*> MemoryForWrite(std::string_view ns) const;
  // identity.* syscalls (rpc/identity_service.cc) work through this inside
  // their `execute` closures; other parts of the daemon use it for the
  // node's own SVID and trust bundle (identity_calls.h). UNAVAILABLE when
  // none is attached.
  StatusOr<IdentityCalls*> Identity() const;

  // tool.* syscalls (rpc/tools_service.cc) reach the registry through
  // this; UNAVAILABLE when none is attached.
  StatusOr<tools::Registry*> Tools() const;
  // A further decision inside an executing call (http.fetch: each redirect
  // hop), by `principal` on the same action and `resource` with `context`:
  // one Cedar request, recorded as its own ledger record (rule ids the
  // decision's, then "step:<step>"). OK or PERMISSION_DENIED naming the
  // rules; a permit needing approval is refused (steps are not parked).
  Status AuthorizeStep(const Principal& principal, Syscall syscall, const std::string& resource,
                       const nlohmann::json& context, const std::string& step);

  // agent.* syscalls: forwarded to the AgentControl (kernel/agent_control.h
  // has their contract); UNAVAILABLE when none is attached.
  StatusOr<agents::AgentInfo> RunAgent(const agents::AgentSpec& spec, bool replace);
  StatusOr<std::vector<agents::AgentInfo>> ListAgents();
  StatusOr<agents::AgentInfo> InspectAgent(const std::string& name);
  StatusOr<agents::AgentInfo> StopAgent(const std::string& name, std::chrono::milliseconds grace);
  StatusOr<agents::AgentInfo> KillAgent(const std::string& name, int signal);
  StatusOr<agents::AgentInfo> RestartAgent(const std::string& name);
  Status RemoveAgent(const std::string& name, bool force);
  Status AgentLogs(const std::string& name, const AgentLogOptions& options,
                   const std::function<bool(const std::string&)>& emit,
                   const std::function<bool()>& cancelled);

  // Appends a record the kernel writes on its own behalf (policy reloads):
  // time and node are filled in. Returns its sequence.
  StatusOr<uint64_t> AppendEvent(audit::Record record);
  // Appends the policy.load record of the set with `digest` (hex SHA-256)
  // before that set is installed: from then on, calls decided by another set
  // are tagged (Dispatch step 6). Returns its sequence.
  StatusOr<uint64_t> NotePolicyLoad(const std::string& digest, audit::Record record);
  ApprovalQueue* approvals() const { return deps_.approvals; }
  // daemon.admin_group in force (-1: none), for Whoami.
  gid_t AdminGroup() const { return deps_.connections->admin_group(); }
  RateCounters& rates() { return rates_; }

  void SetReloadHandler(std::function<StatusOr<ReloadResult>()> fn);
  // policy.reload: re-reads the policy store (the daemon installs it).
  void SetPolicyReloadHandler(std::function<StatusOr<PolicyReloadResult>()> fn);
  StatusOr<PolicyReloadResult> ReloadPolicies();
  void SetRedactedFields(const std::vector<std::string>& names) {
    digester_.SetRedactedFields(names);
  }
  std::vector<std::string> RedactedFields() const { return digester_.Fields(); }
  const std::string& node() const { return info_.node; }
  // Ends follow streams so a drain can finish.
  // From now on calls are refused UNAVAILABLE (and audited), follow
  // streams end, and WaitForIdle() can tell when the drain is done.
  void BeginShutdown() {
    stopping_.store(true);
    if (deps_.approvals != nullptr) deps_.approvals->CancelAll();
  }
  // Blocks until no Dispatch() is in progress or `timeout` passes; returns
  // true if idle.
  bool WaitForIdle(std::chrono::milliseconds timeout);
  bool stopping() const { return stopping_.load(); }
  CallCounters counters() const;

 private:
  // Step 1 for a call that presented a credential: OK if it is the
  // connection's own (IdentityCalls::CheckPresented); else UNAUTHENTICATED,
  // with the record's rule ids for the refusal in *rule_ids.
  Status CheckPresented(const Principal& principal, const std::string& authorization,
                        std::vector<std::string>* rule_ids) const;
  // The principal an operator's act_as names (CallRequest::act_as).
  StatusOr<Principal> ActAs(const Principal& caller, const std::string& agent) const;
  // Step 4: parks the call; OK when approved, else the refusal (the
  // outcome is added to record.rule_ids).
  Status AwaitApproval(audit::Record& record, const Decision& decision);
  // Step 2: fills areq->counts (and budgets); on an exceeded quota fills
  // the record's decision and rule_ids and returns the refusal.
  Status Admit(const CallRequest& call, AuthzRequest* areq, audit::Record* record);
  // Step 6, with the policy-set tag when it is needed.
  StatusOr<uint64_t> AppendDecided(audit::Record record, const std::string& policy_set);

  KernelInfo info_;
  KernelDeps deps_;
  RequestDigester digester_;
  RateCounters rates_;
  int64_t started_at_ns_;
  int64_t started_mono_ns_;
  std::atomic<bool> stopping_{false};
  std::mutex idle_mu_;
  std::condition_variable idle_cv_;
  int64_t in_flight_ = 0;  // GUARDED_BY(idle_mu_)
  std::atomic<uint64_t> total_{0}, denied_{0}, failed_{0};
  std::shared_mutex policy_record_mu_;
  std::string recorded_policy_set_;  // GUARDED_BY(policy_record_mu_)
  std::mutex reload_mu_;
  std::function<StatusOr<ReloadResult>()> reload_;  // GUARDED_BY(reload_mu_)
  std::function<StatusOr<PolicyReloadResult>()> policy_reload_;  // GUARDED_BY(reload_mu_)
};

}  // namespace aikernel::kernel
