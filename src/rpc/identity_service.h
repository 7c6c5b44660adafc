// rpc::IdentityService: the aikernel.v1.Identity gRPC service
// (proto/aikernel/v1/identity.proto) as a thin adapter over the kernel.
//
// Each handler names its syscall (kernel/syscalls.h) and resource, calls
// Kernel::Dispatch, and inside the `execute` closure calls
// kernel::IdentityCalls through Kernel::Identity() and converts the result.
// Resources: "spiffe-id:<the caller's own SPIFFE ID>" for the fetches
// (computed from the authenticated principal, never from the request),
// "jwt-audience:<audience>" for ValidateJWTSVID, "trust-domain:<td>" for
// TrustBundle and RotateCA. A refused token is a result (valid = false),
// not a call error; its ledger record carries code UNAUTHENTICATED. It holds
// no policy. Register it through rpc::ServerOptions::services; it must
// outlive the RpcServer, the kernel must outlive it. Thread-safe.
#pragma once

#include "kernel/kernel.h"
#include "rpc/server.h"  // ServicePtr

namespace aikernel::rpc {

ServicePtr MakeIdentityService(kernel::Kernel* kernel);

}  // namespace aikernel::rpc
