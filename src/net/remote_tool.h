// net::RemoteToolTransport: how a tool call reaches the peer node that hosts
// the tool (rpc/peer_link.cc: Peer.CallTool over the mutual-TLS link, with
// the calling node's signed assertion naming the agent).
//
// Contract
// - CallTool() returns an error only when the call did not get an answer
//   from the peer's kernel (peer down, TLS refused, no answer before the
//   deadline, the peer refused this node: UNAUTHENTICATED); the message
//   names the peer. Otherwise it returns the peer's outcome of the call
//   (RemoteToolResult::status: OK, PERMISSION_DENIED from its policy,
//   NOT_FOUND for a tool it does not have, ...), with the result when OK.
// - Thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include "common/status.h"
#include "net/mailbox.h"  // Peer

namespace aikernel::net {

struct RemoteToolCall {
  std::string caller;  // this node's agent: spiffe://<this trust domain>/agent/<name>
  std::string tool;    // as the peer names it (without "<node>/")
  std::string args_json;
  std::chrono::nanoseconds timeout{0};  // 0: the peer's default
  std::string correlation;
  std::chrono::system_clock::time_point deadline;  // of the whole call
};

struct RemoteToolResult {
  Status status;  // the call's outcome on the peer
  std::string result_json;
  bool is_error = false;
  std::string provider;  // the peer's provider of the tool
  uint64_t result_bytes = 0;
  int64_t latency_ns = 0;
  uint64_t audit_sequence = 0;  // the peer's ledger record
};

class RemoteToolTransport {
 public:
  virtual ~RemoteToolTransport() = default;
  virtual StatusOr<RemoteToolResult> CallTool(const Peer& peer, const RemoteToolCall& call) = 0;
};

}  // namespace aikernel::net
