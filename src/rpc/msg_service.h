// rpc msg service: the Msg gRPC service (proto/aikernel/v1/msg.proto) as a
// thin adapter over Kernel::Dispatch and net::Messenger.
//
// Each handler names its syscall and resource, lets Dispatch authenticate
// and authorize (msg.send with context {topic, size, remote, peer,
// same_group}; msg.receive on the inbox, which defaults to the calling
// agent's own), and inside the `execute` closure calls the Messenger. Every
// Send carries a fresh correlation id, recorded as "corr:<id>" in this
// node's ledger and, for a remote recipient, in the receiving node's.
// Register it through rpc::ServerOptions::services; the kernel and the
// messenger must outlive it. Thread-safe.
#pragma once

#include "kernel/kernel.h"
#include "net/messenger.h"
#include "rpc/server.h"  // ServicePtr

namespace aikernel::rpc {

ServicePtr MakeMsgService(kernel::Kernel* kernel, net::Messenger* messenger);

// The sender a principal's messages carry: an agent's SPIFFE ID, else its
// principal id ("operator:0").
std::string SenderOf(const kernel::Principal& p);

}  // namespace aikernel::rpc
