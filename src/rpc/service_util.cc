#include "rpc/service_util.h"

#include <limits>
#include <string>

#include "rpc/status_map.h"

namespace aikernel::rpc {

kernel::Caller CallerOf(const grpc::ServerContext* ctx) {
  kernel::Caller c{ctx->peer(), {}};
  const auto& md = ctx->client_metadata();
  for (auto [it, end] = md.equal_range("authorization"); it != end; ++it) {
    if (!c.authorization.empty()) c.authorization += ", ";
    c.authorization.append(it->second.data(), it->second.size());
  }
  return c;
}

void SetTimestamp(int64_t ns, google::protobuf::Timestamp* ts) {
  ts->set_seconds(ns / 1'000'000'000);
  ts->set_nanos(static_cast<int32_t>(ns % 1'000'000'000));
}

void SetDuration(int64_t ns, google::protobuf::Duration* d) {
  d->set_seconds(ns / 1'000'000'000);
  d->set_nanos(static_cast<int32_t>(ns % 1'000'000'000));
}

int64_t ToNs(const google::protobuf::Timestamp& ts) {
  constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
  constexpr int64_t kMin = std::numeric_limits<int64_t>::min();
  if (ts.seconds() >= kMax / 1'000'000'000) return kMax;
  if (ts.seconds() <= kMin / 1'000'000'000) return kMin;
  return ts.seconds() * 1'000'000'000 + ts.nanos();
}

Status CheckTimestamp(const char* field, const google::protobuf::Timestamp& ts) {
  if (ts.nanos() < 0 || ts.nanos() > 999'999'999) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ": nanos must be in [0, 999999999], got ", ts.nanos()));
  }
  return absl::OkStatus();
}

StatusOr<int64_t> NonNegativeNs(const char* field, const google::protobuf::Duration& d) {
  if (d.seconds() < 0 || d.nanos() < 0 || d.nanos() > 999'999'999) {
    return absl::InvalidArgumentError(absl::StrCat(
        field, ": must be a non-negative duration (seconds ", d.seconds(), ", nanos ",
        d.nanos(), ")"));
  }
  constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
  if (d.seconds() >= kMax / 1'000'000'000) return kMax;
  return d.seconds() * 1'000'000'000 + d.nanos();
}

grpc::Status Finish(grpc::ServerContext* ctx, const kernel::CallResult& result) {
  if (result.audit_sequence != 0) {
    ctx->AddTrailingMetadata(kAuditSeqKey, std::to_string(result.audit_sequence));
  }
  return ToGrpcStatus(result.status);
}

void ToProto(const audit::Record& r, v1::AuditRecord* out) {
  out->set_sequence(r.sequence);
  SetTimestamp(r.time_ns, out->mutable_time());
  out->set_node(r.node);
  out->set_principal(r.principal);
  out->set_action(r.action);
  out->set_resource(r.resource);
  out->set_request_digest(r.request_digest.data(), r.request_digest.size());
  out->set_decision(r.decision == audit::Decision::kAllow ? v1::DECISION_ALLOW
                                                          : v1::DECISION_DENY);
  for (const auto& id : r.rule_ids) out->add_rule_ids(id);
  out->set_code(r.code);
  SetDuration(r.latency_ns, out->mutable_latency());
  out->set_prev_hash(r.prev_hash.data(), r.prev_hash.size());
  out->set_hash(r.hash.data(), r.hash.size());
}

}  // namespace aikernel::rpc
