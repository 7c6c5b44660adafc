// rpc peer link: the node-to-node gRPC plumbing over mutual TLS.
//
// - PeerServer: a second gRPC server on TCP ([peer] listen), serving only the
//   Peer service, with this node's peer certificate. It requests a client
//   certificate and leaves verifying it to the Peer service
//   (rpc/federation_service.cc), which checks it against the bundle
//   federated for the certificate's trust domain and records every refusal,
//   a client with no certificate included ("malformed: no client
//   certificate").
// - MakePeerClient: the net::PeerTransport the forwarder uses: one channel
//   per peer, trusting only that peer's bundle (no host name check: SPIFFE
//   certificates carry URI SANs), presenting this node's certificate, and
//   requiring the server's SPIFFE ID to be the peer node's
//   (spiffe://<its trust domain>/aikernel/node). Each batch carries the
//   signed assertion (net/peer_auth.h). The same links carry remote tool
//   calls (net::RemoteToolTransport, Peer.CallTool), each with its signed
//   claim naming the calling agent.
// Thread-safe.
#pragma once

#include <memory>
#include <string>

#include "common/status.h"
#include "net/forwarder.h"
#include "net/remote_tool.h"
#include "net/peer_auth.h"
#include "rpc/server.h"

namespace grpc {
class ChannelCredentials;
}

namespace aikernel::rpc {

class PeerServer {
 public:
  // `service` must outlive the server. `listen` is host:port ("0" port:
  // any; port() tells which).
  static StatusOr<std::unique_ptr<PeerServer>> Start(const std::string& listen,
                                                     const net::NodeTls& tls,
                                                     grpc::Service* service,
                                                     size_t max_message_bytes);
  ~PeerServer();
  int port() const;
  void Shutdown(std::chrono::milliseconds drain);

  class Impl;

 private:
  explicit PeerServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Client credentials towards a peer: present `tls`'s certificate, trust
// only `peer_bundle_pem`, no host name check.
std::shared_ptr<grpc::ChannelCredentials> PeerChannelCredentials(const net::NodeTls& tls,
                                                                 const std::string& peer_bundle_pem);

// Both ways of reaching a peer node, over one channel per peer.
class PeerClient : public net::PeerTransport, public net::RemoteToolTransport {};

// `deadline` bounds a delivery; a tool call carries its own.
std::unique_ptr<PeerClient> MakePeerClient(const net::NodeTls& tls,
                                           std::chrono::milliseconds deadline);

}  // namespace aikernel::rpc
