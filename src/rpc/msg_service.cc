#include "rpc/msg_service.h"

#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <string>

#include "aikernel/v1/msg.grpc.pb.h"
#include "rpc/service_util.h"

namespace aikernel::rpc {

std::string SenderOf(const kernel::Principal& p) {
  return p.kind == kernel::Principal::Kind::kAgent ? p.spiffe_id : p.Id();
}

namespace {

namespace pb = ::aikernel::v1;
using kernel::CallRequest;
using kernel::ContextAttrs;
using kernel::Principal;
using kernel::Syscall;

constexpr size_t kMaxResource = 300;
constexpr int64_t kMaxWaitNs = 60'000'000'000;
constexpr int64_t kDefaultVisibilityNs = 30'000'000'000;
constexpr uint32_t kMaxReceive = 1000;

std::string AgentResource(const std::string& id) {
  return "agent:" + (id.size() <= kMaxResource ? id : id.substr(0, kMaxResource) + "...");
}

void ToProto(const net::StoredMessage& m, pb::Message* out) {
  out->set_seq(static_cast<uint64_t>(m.seq));
  out->set_message_id(m.env.message_id);
  out->set_sender(m.env.sender);
  out->set_recipient(m.env.recipient);
  out->set_topic(m.env.topic);
  out->set_payload(m.env.payload);
  SetTimestamp(m.env.sent_ns, out->mutable_sent_at());
  if (m.env.expires_ns != 0) SetTimestamp(m.env.expires_ns, out->mutable_expires_at());
  out->set_deliveries(static_cast<uint32_t>(m.deliveries));
  out->set_correlation_id(m.env.correlation);
  out->set_sender_node(m.env.sender_node);
}

void ToProto(const net::OutboxRow& r, pb::OutboxEntry* out) {
  out->set_seq(static_cast<uint64_t>(r.seq));
  out->set_message_id(r.env.message_id);
  out->set_sender(r.env.sender);
  out->set_recipient(r.env.recipient);
  out->set_peer(r.peer);
  out->set_topic(r.env.topic);
  out->set_attempts(static_cast<uint32_t>(r.attempts));
  if (r.next_ns != 0) SetTimestamp(r.next_ns, out->mutable_next_attempt_at());
  out->set_last_error(r.last_error);
  out->set_delivered(r.delivered_ns != 0);
  out->set_correlation_id(r.env.correlation);
}

// Receive and Ack act on an inbox: the one named, or the calling agent's.
void BindInbox(const std::string& named, const Principal& p, std::string* resource) {
  if (named.empty() && p.kind == Principal::Kind::kAgent) *resource = AgentResource(p.spiffe_id);
}

StatusOr<std::string> InboxOf(const std::string& named, const Principal& p) {
  if (!named.empty()) return named;
  if (p.kind == Principal::Kind::kAgent) return p.spiffe_id;
  return absl::InvalidArgumentError("inbox: required unless the caller is an agent");
}

class MsgService final : public pb::Msg::Service {
 public:
  MsgService(kernel::Kernel* k, net::Messenger* m) : k_(k), m_(m) {}

  grpc::Status Send(grpc::ServerContext* ctx, const pb::MsgSendRequest* req,
                    pb::MsgSendResponse* resp) override {
    StatusOr<net::Route> route = m_->Resolve(req->to());
    CallRequest call{CallerOf(ctx), Syscall::kMsgSend, AgentResource(req->to()), req};
    call.correlation = net::Messenger::RandomId();
    call.bind = [&](const Principal& p, std::string*, ContextAttrs* c) {
      c->emplace_back("topic", req->topic());
      c->emplace_back("size", static_cast<int64_t>(req->payload().size()));
      c->emplace_back("remote", route.ok() && route->remote);
      c->emplace_back("peer", route.ok() ? route->peer : std::string());
      bool same = false;
      if (route.ok() && p.kind == Principal::Kind::kAgent) {
        for (const std::string& g : m_->GroupsOf(*route)) {
          same = same || std::find(p.agent_groups.begin(), p.agent_groups.end(), g) !=
                             p.agent_groups.end();
        }
      }
      c->emplace_back("same_group", same);
    };
    return Finish(ctx, k_->Dispatch(call, [&](const Principal& p) -> Status {
      AIK_RETURN_IF_ERROR(route.status());
      net::SendArgs a;
      a.sender = SenderOf(p);
      a.topic = req->topic();
      a.payload = req->payload();
      a.message_id = req->message_id();
      if (req->has_ttl()) {
        AIK_ASSIGN_OR_RETURN(int64_t ttl, NonNegativeNs("ttl", req->ttl()));
        a.ttl_ns = ttl;
      }
      a.correlation = call.correlation;
      AIK_ASSIGN_OR_RETURN(net::SendResult r, m_->Send(*route, a));
      resp->set_message_id(r.message_id);
      resp->set_duplicate(r.duplicate);
      resp->set_remote(r.remote);
      resp->set_correlation_id(r.correlation);
      return absl::OkStatus();
    }));
  }

  grpc::Status Receive(grpc::ServerContext* ctx, const pb::MsgReceiveRequest* req,
                       pb::MsgReceiveResponse* resp) override {
    CallRequest call{CallerOf(ctx), Syscall::kMsgReceive, AgentResource(req->inbox()), req};
    call.bind = [&](const Principal& p, std::string* resource, ContextAttrs*) {
      BindInbox(req->inbox(), p, resource);
    };
    return Finish(ctx, k_->Dispatch(call, [&](const Principal& p) -> Status {
      AIK_ASSIGN_OR_RETURN(std::string inbox, InboxOf(req->inbox(), p));
      int64_t wait = 0, visibility = kDefaultVisibilityNs;
      if (req->has_wait()) {
        AIK_ASSIGN_OR_RETURN(wait, NonNegativeNs("wait", req->wait()));
        wait = std::min(wait, kMaxWaitNs);
      }
      if (req->has_visibility()) {
        AIK_ASSIGN_OR_RETURN(int64_t v, NonNegativeNs("visibility", req->visibility()));
        if (v > 0) visibility = v;
      }
      uint32_t max = req->max_messages() == 0 ? 100 : std::min(req->max_messages(), kMaxReceive);
      AIK_ASSIGN_OR_RETURN(
          std::vector<net::StoredMessage> got,
          m_->mailbox()->Receive(inbox, max, std::chrono::nanoseconds(visibility),
                                 std::chrono::nanoseconds(wait),
                                 [&] { return ctx->IsCancelled() || k_->stopping(); }));
      for (const net::StoredMessage& m : got) ToProto(m, resp->add_messages());
      return absl::OkStatus();
    }));
  }

  grpc::Status Ack(grpc::ServerContext* ctx, const pb::MsgAckRequest* req,
                   pb::MsgAckResponse* resp) override {
    CallRequest call{CallerOf(ctx), Syscall::kMsgAck, AgentResource(req->inbox()), req};
    call.bind = [&](const Principal& p, std::string* resource, ContextAttrs*) {
      BindInbox(req->inbox(), p, resource);
    };
    return Finish(ctx, k_->Dispatch(call, [&](const Principal& p) -> Status {
      AIK_ASSIGN_OR_RETURN(std::string inbox, InboxOf(req->inbox(), p));
      if (req->seqs_size() == 0) return absl::InvalidArgumentError("seqs: empty");
      std::vector<int64_t> seqs;
      for (uint64_t s : req->seqs()) {
        if (s == 0 || s > static_cast<uint64_t>(INT64_MAX)) {
          return absl::InvalidArgumentError(absl::StrCat("seqs: ", s, " is not a message seq"));
        }
        seqs.push_back(static_cast<int64_t>(s));
      }
      AIK_ASSIGN_OR_RETURN(int64_t n, m_->mailbox()->Ack(inbox, seqs));
      resp->set_acked(static_cast<uint32_t>(n));
      return absl::OkStatus();
    }));
  }

  grpc::Status List(grpc::ServerContext* ctx, const pb::MsgListRequest* req,
                    pb::MsgListResponse* resp) override {
    const bool outbox = req->box() == pb::MsgListRequest::BOX_OUTBOX;
    CallRequest call{CallerOf(ctx), Syscall::kMsgList,
                     outbox ? "messages:outbox" : "messages:inbox", req};
    return Finish(ctx, k_->Dispatch(call, [&](const Principal&) -> Status {
      size_t limit = req->limit() == 0 ? 100 : std::min<size_t>(req->limit(), 10000);
      if (outbox) {
        AIK_ASSIGN_OR_RETURN(auto rows,
                             m_->mailbox()->ListOutbox(req->agent(), req->include_acked(), limit));
        for (const auto& r : rows) ToProto(r, resp->add_outbox());
      } else {
        AIK_ASSIGN_OR_RETURN(auto rows,
                             m_->mailbox()->ListInbox(req->agent(), req->include_acked(), limit));
        for (const auto& m : rows) ToProto(m, resp->add_inbox());
      }
      return absl::OkStatus();
    }));
  }

 private:
  kernel::Kernel* k_;
  net::Messenger* m_;
};

}  // namespace

ServicePtr MakeMsgService(kernel::Kernel* kernel, net::Messenger* messenger) {
  return ServicePtr(new MsgService(kernel, messenger), [](grpc::Service* s) { delete s; });
}

}  // namespace aikernel::rpc
