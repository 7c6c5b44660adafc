// rpc federation services (proto/aikernel/v1/federation.proto):
//
// - Federation (operators, on the Unix socket): Bundle, AddPeer, ListPeers,
//   RemovePeer, each through Kernel::Dispatch (node.bundle, node.peer.*).
//   AddPeer validates the name, trust domain, address and that the bundle
//   holds at least one CA certificate, then stores it (messages.db) and
//   kicks the forwarder.
// - Peer (peer nodes, on the mTLS listener only): Deliver. The caller is
//   authenticated from its TLS certificate: the certificate's trust domain
//   must be a federated peer's, the certificate must chain to that peer's
//   bundle and be valid now, and be the peer node's
//   (spiffe://<td>/aikernel/node); then the batch's signed assertion must
//   verify with that certificate's key. A refusal is a ledger record
//   (action "peer.refused", principal "peer:<spiffe id or ?>", rule_ids
//   {"authn", "<reason>"}) and UNAUTHENTICATED. Each message is then one
//   Dispatch of msg.receive with the remote agent as principal
//   ("agent:<sender>#peer:<name>", Cedar Agent::"<sender>"), resource
//   agent:<recipient>, context {topic, size, remote: true, peer, same_group:
//   false}, and the sender's correlation id.
// Both must outlive their servers; the kernel and messenger outlive them.
#pragma once

#include <functional>
#include <string>

#include "kernel/kernel.h"
#include "net/messenger.h"
#include "net/peer_auth.h"
#include "rpc/server.h"

namespace aikernel::rpc {

struct FederationInfo {
  const net::NodeTls* tls = nullptr;  // null: no node certificate (federation off)
  std::string listen_address;         // "" when the listener is off
  std::function<void()> on_peers_changed;
};

ServicePtr MakeFederationService(kernel::Kernel* kernel, net::Messenger* messenger,
                                 FederationInfo info);
ServicePtr MakePeerService(kernel::Kernel* kernel, net::Messenger* messenger);

}  // namespace aikernel::rpc
