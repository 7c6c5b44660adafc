// rpc::ToGrpcStatus: the one place an internal Status becomes a wire status.
// absl and gRPC share code numbers, so the mapping is by number; the message
// passes through unchanged (it already names the cause).
#pragma once

#include <grpcpp/support/status.h>

#include "common/status.h"

namespace aikernel::rpc {

inline grpc::Status ToGrpcStatus(const Status& s) {
  if (s.ok()) return grpc::Status::OK;
  return grpc::Status(static_cast<grpc::StatusCode>(s.code()),
                      std::string(s.message()));
}

}  // namespace aikernel::rpc
