// Helpers shared by the daemon's gRPC services (server.cc, memory_service.cc):
// the caller of a call, protobuf Timestamp/Duration <-> nanoseconds, and
// finishing a call with its audit sequence. Pure functions; thread-safe.
#pragma once

#include <grpcpp/server_context.h>
#include <grpcpp/support/status.h>

#include <cstdint>

#include <google/protobuf/duration.pb.h>
#include <google/protobuf/timestamp.pb.h>

#include "aikernel/v1/common.pb.h"
#include "common/status.h"
#include "kernel/kernel.h"

namespace aikernel::rpc {

// Trailing metadata key carrying a call's audit sequence.
inline constexpr char kAuditSeqKey[] = "aikernel-audit-seq";

// The caller of an incoming call as the kernel sees it: the connection
// (ctx->peer()) and the credential the call presented in its
// "authorization" metadata (several values are joined with ", ", which the
// kernel refuses). Every service builds its CallRequest from this, so a
// token presented on any call is checked (Kernel::Dispatch step 1).
kernel::Caller CallerOf(const grpc::ServerContext* ctx);

void SetTimestamp(int64_t ns, google::protobuf::Timestamp* ts);
void SetDuration(int64_t ns, google::protobuf::Duration* d);
// Saturates instead of wrapping: int64 nanoseconds end in 2262, and a time
// past that must not become a time in the past.
int64_t ToNs(const google::protobuf::Timestamp& ts);
// INVALID_ARGUMENT naming `field` unless nanos is in [0, 999999999].
Status CheckTimestamp(const char* field, const google::protobuf::Timestamp& ts);
// A non-negative duration in ns (saturating); INVALID_ARGUMENT naming
// `field` if it is negative or its nanos are out of range.
StatusOr<int64_t> NonNegativeNs(const char* field, const google::protobuf::Duration& d);

// A ledger record as the wire has it (QueryAudit, ExplainDecision).
void ToProto(const audit::Record& r, v1::AuditRecord* out);

// Finishes an RPC: trailer with the audit sequence, status mapped at the edge.
grpc::Status Finish(grpc::ServerContext* ctx, const kernel::CallResult& result);

}  // namespace aikernel::rpc
