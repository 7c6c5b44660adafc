// The SDK's Msg calls (proto/aikernel/v1/msg.proto): protobuf <-> the plain
// types of aikernel/msg.h.

#include "aikernel/client.h"
#include "sdk/client_impl.h"

namespace aikernel {
inline namespace sdk {

namespace pb = ::aikernel::v1;

namespace {

using internal::FromProto;
using internal::ToProto;

Message FromProto(const pb::Message& m) {
  Message out;
  out.seq = m.seq();
  out.message_id = m.message_id();
  out.sender = m.sender();
  out.recipient = m.recipient();
  out.topic = m.topic();
  out.payload = m.payload();
  out.sent_at = FromProto(m.sent_at());
  if (m.has_expires_at()) out.expires_at = FromProto(m.expires_at());
  out.deliveries = m.deliveries();
  out.correlation_id = m.correlation_id();
  out.sender_node = m.sender_node();
  return out;
}

MsgOutboxEntry FromProto(const pb::OutboxEntry& e) {
  MsgOutboxEntry out;
  out.seq = e.seq();
  out.message_id = e.message_id();
  out.sender = e.sender();
  out.recipient = e.recipient();
  out.peer = e.peer();
  out.topic = e.topic();
  out.attempts = e.attempts();
  if (e.has_next_attempt_at()) out.next_attempt_at = FromProto(e.next_attempt_at());
  out.last_error = e.last_error();
  out.delivered = e.delivered();
  out.correlation_id = e.correlation_id();
  return out;
}

}  // namespace

#define AIK_MSG_CALL(Method, Out, req, fill) AIK_SDK_UNARY(msg, Msg, Method, Out, req, fill)

Result<MsgSendResult> Client::MsgSend(std::string_view to, std::string_view topic,
                                      std::string_view payload, const MsgSendOptions& options,
                                      const CallOptions& call) {
  pb::MsgSendRequest req;
  req.set_to(std::string(to));
  req.set_topic(std::string(topic));
  req.set_payload(std::string(payload));
  req.set_message_id(options.message_id);
  if (options.ttl.count() != 0) ToProto(options.ttl, req.mutable_ttl());
  return AIK_MSG_CALL(Send, MsgSendResult, req,
                      [](const pb::MsgSendResponse& r, MsgSendResult& out) {
                        out.message_id = r.message_id();
                        out.duplicate = r.duplicate();
                        out.remote = r.remote();
                        out.correlation_id = r.correlation_id();
                      });
}

Result<MsgBatch> Client::MsgReceive(const MsgReceiveOptions& options, const CallOptions& call) {
  pb::MsgReceiveRequest req;
  req.set_inbox(options.inbox);
  req.set_max_messages(options.max_messages);
  if (options.wait.count() != 0) ToProto(options.wait, req.mutable_wait());
  if (options.visibility.count() != 0) ToProto(options.visibility, req.mutable_visibility());
  return AIK_MSG_CALL(Receive, MsgBatch, req,
                      [](const pb::MsgReceiveResponse& r, MsgBatch& out) {
                        for (const auto& m : r.messages()) out.messages.push_back(FromProto(m));
                      });
}

Result<MsgAckResult> Client::MsgAck(const std::vector<uint64_t>& seqs, std::string_view inbox,
                                    const CallOptions& call) {
  pb::MsgAckRequest req;
  req.set_inbox(std::string(inbox));
  req.mutable_seqs()->Assign(seqs.begin(), seqs.end());
  return AIK_MSG_CALL(Ack, MsgAckResult, req, [](const pb::MsgAckResponse& r, MsgAckResult& out) {
    out.acked = r.acked();
  });
}

Result<MsgListResult> Client::MsgList(const MsgListOptions& options, const CallOptions& call) {
  pb::MsgListRequest req;
  req.set_box(options.outbox ? pb::MsgListRequest::BOX_OUTBOX : pb::MsgListRequest::BOX_INBOX);
  req.set_agent(options.agent);
  req.set_include_acked(options.include_done);
  req.set_limit(options.limit);
  return AIK_MSG_CALL(List, MsgListResult, req,
                      [](const pb::MsgListResponse& r, MsgListResult& out) {
                        for (const auto& m : r.inbox()) out.inbox.push_back(FromProto(m));
                        for (const auto& e : r.outbox()) out.outbox.push_back(FromProto(e));
                      });
}

namespace {

PeerInfo FromProto(const pb::PeerInfo& p) {
  PeerInfo out;
  out.name = p.name();
  out.trust_domain = p.trust_domain();
  out.address = p.address();
  out.bundle_pem = p.bundle_pem();
  out.source = p.source();
  out.added_at = internal::FromProto(p.added_at());
  out.pending = p.pending();
  return out;
}

}  // namespace

#define AIK_FED_CALL(Method, ReqT, RespT, Out, req, fill) \
  AIK_SDK_UNARY(federation, Federation, Method, Out, req, fill)

Result<NodeBundle> Client::FederationBundle(const CallOptions& call) {
  pb::FederationBundleRequest req;
  return AIK_FED_CALL(Bundle, FederationBundleRequest, FederationBundleResponse, NodeBundle, req,
                      [](const pb::FederationBundleResponse& r, NodeBundle& out) {
                        out.trust_domain = r.trust_domain();
                        out.bundle_pem = r.bundle_pem();
                        out.node_spiffe_id = r.node_spiffe_id();
                        out.listen_address = r.listen_address();
                      });
}

Result<PeerResult> Client::AddPeer(const PeerInfo& peer, const CallOptions& call) {
  pb::AddPeerRequest req;
  req.mutable_peer()->set_name(peer.name);
  req.mutable_peer()->set_trust_domain(peer.trust_domain);
  req.mutable_peer()->set_address(peer.address);
  req.mutable_peer()->set_bundle_pem(peer.bundle_pem);
  return AIK_FED_CALL(AddPeer, AddPeerRequest, AddPeerResponse, PeerResult, req,
                      [](const pb::AddPeerResponse& r, PeerResult& out) {
                        out.peer = FromProto(r.peer());
                      });
}

Result<PeerList> Client::ListPeers(const CallOptions& call) {
  pb::ListPeersRequest req;
  return AIK_FED_CALL(ListPeers, ListPeersRequest, ListPeersResponse, PeerList, req,
                      [](const pb::ListPeersResponse& r, PeerList& out) {
                        for (const auto& p : r.peers()) out.peers.push_back(FromProto(p));
                      });
}

Result<PeerRemoved> Client::RemovePeer(std::string_view name, const CallOptions& call) {
  pb::RemovePeerRequest req;
  req.set_name(std::string(name));
  return AIK_FED_CALL(RemovePeer, RemovePeerRequest, RemovePeerResponse, PeerRemoved, req,
                      [](const pb::RemovePeerResponse& r, PeerRemoved& out) {
                        out.removed = r.removed();
                      });
}

}  // namespace sdk
}  // namespace aikernel
