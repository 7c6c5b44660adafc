#include "rpc/policy_service.h"

#include <grpcpp/grpcpp.h>

#include "aikernel/v1/policy.grpc.pb.h"
#include "rpc/service_util.h"

namespace aikernel::rpc {
namespace {

namespace pb = ::aikernel::v1;
using kernel::CallRequest;
using kernel::Principal;
using kernel::Syscall;

class PolicyService final : public pb::Policy::Service {
 public:
  explicit PolicyService(kernel::Kernel* k) : k_(k), node_(k->Snapshot().info.node) {}

  grpc::Status ReloadPolicy(grpc::ServerContext* ctx, const pb::ReloadPolicyRequest* req,
                            pb::ReloadPolicyResponse* resp) override {
    CallRequest call{CallerOf(ctx), Syscall::kPolicyReload, "node:" + node_, req};
    return Finish(ctx, k_->Dispatch(call, [&](const Principal&) -> absl::Status {
      AIK_ASSIGN_OR_RETURN(kernel::PolicyReloadResult r, k_->ReloadPolicies());
      resp->set_digest(r.digest);
      resp->set_policies(static_cast<uint32_t>(r.policies));
      for (const auto& f : r.files) resp->add_files(f);
      resp->set_changed(r.changed);
      return absl::OkStatus();
    }));
  }

  grpc::Status ListApprovals(grpc::ServerContext* ctx, const pb::ListApprovalsRequest* req,
                             pb::ListApprovalsResponse* resp) override {
    CallRequest call{CallerOf(ctx), Syscall::kApprovalList, "node:" + node_, req};
    return Finish(ctx, k_->Dispatch(call, [&](const Principal&) -> absl::Status {
      if (k_->approvals() == nullptr) return absl::UnavailableError("no approval queue");
      for (const kernel::PendingApproval& p : k_->approvals()->List()) {
        pb::Approval* a = resp->add_approvals();
        a->set_id(p.id);
        a->set_principal(p.principal);
        a->set_action(p.action);
        a->set_resource(p.resource);
        a->set_reason(p.reason);
        for (const auto& id : p.rule_ids) a->add_rule_ids(id);
        SetTimestamp(p.requested_ns, a->mutable_requested_at());
        SetTimestamp(p.deadline_ns, a->mutable_deadline());
      }
      return absl::OkStatus();
    }));
  }

  grpc::Status ExplainDecision(grpc::ServerContext* ctx, const pb::ExplainDecisionRequest* req,
                               pb::ExplainDecisionResponse* resp) override {
    CallRequest call{CallerOf(ctx), Syscall::kPolicyExplain, "ledger:audit", req};
    return Finish(ctx, k_->Dispatch(call, [&](const Principal&) -> absl::Status {
      AIK_ASSIGN_OR_RETURN(kernel::Explanation e, k_->ExplainDecision(req->sequence()));
      ToProto(e.record, resp->mutable_record());
      resp->set_decided_by(e.decided_by);
      for (const auto& id : e.determining) resp->add_determining_policies(id);
      for (const auto& id : e.errored) resp->add_errored_policies(id);
      for (const auto& n : e.notes) resp->add_notes(n);
      resp->set_policy_set_digest(e.set_digest);
      resp->set_policy_load_sequence(e.set_load_sequence);
      resp->set_current_policy_set_digest(e.current_digest);
      resp->set_policy_set_changed(e.set_changed);
      for (const kernel::ExplainedPolicy& p : e.policies) {
        pb::ExplainedPolicy* out = resp->add_policies();
        out->set_id(p.id);
        out->set_role(p.role);
        out->set_file(p.file);
        out->set_line(static_cast<uint32_t>(p.line));
        out->set_text(p.text);
      }
      return absl::OkStatus();
    }));
  }

  grpc::Status DecideApproval(grpc::ServerContext* ctx, const pb::DecideApprovalRequest* req,
                              pb::DecideApprovalResponse*) override {
    CallRequest call{CallerOf(ctx), Syscall::kApprovalDecide,
                     "approval:" + std::to_string(req->id()), req};
    return Finish(ctx, k_->Dispatch(call, [&](const Principal& p) -> absl::Status {
      if (k_->approvals() == nullptr) return absl::UnavailableError("no approval queue");
      if (req->id() == 0) return absl::InvalidArgumentError("id: must be set");
      return k_->approvals()->Decide(req->id(), req->approve(), p.Id(), req->reason());
    }));
  }

 private:
  kernel::Kernel* k_;
  std::string node_;
};

}  // namespace

ServicePtr MakePolicyService(kernel::Kernel* kernel) {
  return ServicePtr(new PolicyService(kernel), [](grpc::Service* s) { delete s; });
}

}  // namespace aikernel::rpc
