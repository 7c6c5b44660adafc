// rpc::RpcServer: the gRPC services Kernel and Admin, as thin adapters.
//
// Each handler converts its protobuf request to a kernel::CallRequest, calls
// Kernel::Dispatch with a closure that does the work through the kernel, and
// converts the result back; it holds no policy. Every reply carries the
// call's audit sequence in trailing metadata "aikernel-audit-seq".
//
// The server has no listening port of its own: Adopt() takes a connection
// the daemon accepted, reads its peer credentials into the ConnectionTable,
// and hands the fd to gRPC. Only src/rpc/ includes gRPC headers (with the
// generated code); each further service has its own translation unit there
// (memory_service.cc). Adopt() and Shutdown() are thread-safe.
#pragma once

#include <chrono>
#include <memory>
#include <vector>

#include "common/status.h"
#include "common/unique_fd.h"
#include "kernel/connection_table.h"
#include "kernel/kernel.h"

namespace grpc {
class Service;
}

namespace aikernel::rpc {

// Owns a service without the owner needing gRPC's headers.
using ServicePtr = std::unique_ptr<grpc::Service, void (*)(grpc::Service*)>;

struct ServerOptions {
  size_t max_message_bytes = 4 << 20;
  // Further services (one per subsystem, each in its own translation unit,
  // e.g. rpc/memory_service.cc), registered beside Kernel and Admin. Not
  // owned; they must outlive the server. Each must dispatch through the
  // kernel like the built-in handlers.
  std::vector<grpc::Service*> services;
};

class RpcServer {
 public:
  static StatusOr<std::unique_ptr<RpcServer>> Start(
      kernel::Kernel* kernel, kernel::ConnectionTable* connections,
      const ServerOptions& options);
  ~RpcServer();

  // Registers `fd`'s credentials and serves it. A connection whose
  // credentials cannot be read is closed, logged, and is a failed
  // authentication on the ledger (action "connection.accept", principal
  // "unauthenticated", resource "connection:fd:N" or "connection:pid:P",
  // rule id "authn", code UNAUTHENTICATED).
  void Adopt(UniqueFd fd);

  // Serves the daemon end of an agent's socketpair (O_NONBLOCK) as that
  // agent instance: registered with ConnectionTable::RegisterAgent, so its
  // principal is the agent, fixed here and never taken from a request.
  void AdoptAgent(UniqueFd fd, const kernel::AgentIdentity& identity);

  // Stops taking calls; waits up to `drain` for in-flight calls, then
  // cancels what is left. Idempotent.
  void Shutdown(std::chrono::milliseconds drain);

  class Impl;

 private:
  explicit RpcServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace aikernel::rpc
