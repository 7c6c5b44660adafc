// rpc agent conversions: aikernel.v1 agent messages <-> agents:: values.
// Protobuf only (no gRPC). Pure functions; thread-safe.
//
// FromProto applies the proto's "unset means default" rules (agent.proto)
// and returns INVALID_ARGUMENT naming the field for what cannot be
// represented (e.g. a negative duration); the full validation is
// agents::Validate, which the Supervisor runs.
#pragma once

#include "agents/spec.h"
#include "agents/types.h"
#include "aikernel/v1/agent.pb.h"
#include "common/status.h"

namespace aikernel::rpc {

StatusOr<agents::AgentSpec> FromProto(const ::aikernel::v1::AgentSpec& in);
void ToProto(const agents::AgentSpec& in, ::aikernel::v1::AgentSpec* out);
void ToProto(const agents::AgentInfo& in, ::aikernel::v1::AgentStatus* out);

}  // namespace aikernel::rpc
