#include "rpc/federation_service.h"

#include <grpcpp/grpcpp.h>

#include <condition_variable>
#include <cstdlib>
#include <functional>
#include <mutex>
#include <thread>

#include <spdlog/spdlog.h>

#include "aikernel/v1/federation.grpc.pb.h"
#include "identity/spiffe_id.h"
#include "rpc/tools_service.h"
#include "rpc/service_util.h"

namespace aikernel::rpc {
namespace {

namespace pb = ::aikernel::v1;
using kernel::CallRequest;
using kernel::ContextAttrs;
using kernel::Principal;
using kernel::Syscall;

int64_t NowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

Status ValidatePeerName(const std::string& name) {
  if (name.empty() || name.size() > 64 ||
      name.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-") !=
          std::string::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat("name: '", name, "' must be 1..64 of [A-Za-z0-9._-]"));
  }
  return absl::OkStatus();
}

Status ValidateAddress(const std::string& address) {
  size_t colon = address.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == address.size() ||
      address.find_first_not_of("0123456789", colon + 1) != std::string::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat("address: '", address, "' is not HOST:PORT"));
  }
  return absl::OkStatus();
}

void ToProto(const net::Peer& p, pb::PeerInfo* out) {
  out->set_name(p.name);
  out->set_trust_domain(p.trust_domain);
  out->set_address(p.address);
  out->set_bundle_pem(p.bundle_pem);
  out->set_source(p.source);
  SetTimestamp(p.added_ns, out->mutable_added_at());
}

class FederationService final : public pb::Federation::Service {
 public:
  FederationService(kernel::Kernel* k, net::Messenger* m, FederationInfo info)
      : k_(k), m_(m), info_(std::move(info)) {}

  grpc::Status Bundle(grpc::ServerContext* ctx, const pb::FederationBundleRequest* req,
                      pb::FederationBundleResponse* resp) override {
    CallRequest call{CallerOf(ctx), Syscall::kNodeBundle, "node:" + m_->trust_domain(), req};
    return Finish(ctx, k_->Dispatch(call, [&](const Principal&) -> Status {
      if (info_.tls == nullptr) {
        return absl::FailedPreconditionError("this node has no node certificate");
      }
      resp->set_trust_domain(info_.tls->trust_domain);
      resp->set_bundle_pem(info_.tls->bundle_pem);
      resp->set_node_spiffe_id(info_.tls->spiffe_id);
      resp->set_listen_address(info_.listen_address);
      return absl::OkStatus();
    }));
  }

  grpc::Status AddPeer(grpc::ServerContext* ctx, const pb::AddPeerRequest* req,
                       pb::AddPeerResponse* resp) override {
    const pb::PeerInfo& in = req->peer();
    CallRequest call{CallerOf(ctx), Syscall::kPeerAdd, "peer:" + in.name().substr(0, 64), req};
    return Finish(ctx, k_->Dispatch(call, [&](const Principal&) -> Status {
      AIK_RETURN_IF_ERROR(ValidatePeerName(in.name()));
      std::string td = in.trust_domain();
      if (td.empty()) {
        // A node CA certificate names its trust domain in its URI SAN.
        StatusOr<std::string> ca = net::SpiffeIdOf(in.bundle_pem());
        StatusOr<identity::SpiffeId> id =
            ca.ok() ? identity::ParseSpiffeId(*ca) : StatusOr<identity::SpiffeId>(ca.status());
        if (!id.ok()) {
          return absl::InvalidArgumentError(absl::StrCat(
              "trust_domain: not given and the bundle's first certificate names none (",
              id.status().message(), ")"));
        }
        td = id->trust_domain;
      }
      if (Status s = identity::ValidateTrustDomain(td); !s.ok()) {
        return absl::InvalidArgumentError(absl::StrCat("trust_domain: ", s.message()));
      }
      AIK_RETURN_IF_ERROR(ValidateAddress(in.address()));
      if (in.bundle_pem().find("-----BEGIN CERTIFICATE-----") == std::string::npos) {
        return absl::InvalidArgumentError("bundle_pem: holds no PEM certificate");
      }
      net::Peer p{in.name(), td, in.address(), in.bundle_pem(),
                  in.source().empty() ? "aictl" : in.source(), NowNs()};
      AIK_RETURN_IF_ERROR(m_->AddPeer(p));
      if (info_.on_peers_changed) info_.on_peers_changed();
      ToProto(p, resp->mutable_peer());
      return absl::OkStatus();
    }));
  }

  grpc::Status ListPeers(grpc::ServerContext* ctx, const pb::ListPeersRequest* req,
                         pb::ListPeersResponse* resp) override {
    CallRequest call{CallerOf(ctx), Syscall::kPeerList, "peer:*", req};
    return Finish(ctx, k_->Dispatch(call, [&](const Principal&) -> Status {
      AIK_ASSIGN_OR_RETURN(std::vector<net::OutboxRow> pending,
                           m_->mailbox()->ListOutbox("", false, 1'000'000));
      for (const net::Peer& p : m_->Peers()) {
        pb::PeerInfo* out = resp->add_peers();
        ToProto(p, out);
        uint64_t n = 0;
        for (const net::OutboxRow& r : pending) n += r.peer == p.name ? 1 : 0;
        out->set_pending(n);
      }
      return absl::OkStatus();
    }));
  }

  grpc::Status RemovePeer(grpc::ServerContext* ctx, const pb::RemovePeerRequest* req,
                          pb::RemovePeerResponse* resp) override {
    CallRequest call{CallerOf(ctx), Syscall::kPeerRemove, "peer:" + req->name().substr(0, 64), req};
    return Finish(ctx, k_->Dispatch(call, [&](const Principal&) -> Status {
      AIK_ASSIGN_OR_RETURN(bool removed, m_->RemovePeer(req->name()));
      if (!removed) return absl::NotFoundError(absl::StrCat("no peer named '", req->name(), "'"));
      if (info_.on_peers_changed) info_.on_peers_changed();
      resp->set_removed(true);
      return absl::OkStatus();
    }));
  }

 private:
  kernel::Kernel* k_;
  net::Messenger* m_;
  FederationInfo info_;
};

std::string Property(const grpc::ServerContext* ctx, const char* name) {
  std::shared_ptr<const grpc::AuthContext> auth = ctx->auth_context();
  if (!auth) return "";
  std::vector<grpc::string_ref> v = auth->FindPropertyValues(name);
  return v.empty() ? "" : std::string(v[0].data(), v[0].size());
}

// An agent of peer `peer` as this node's kernel sees it: its SPIFFE ID
// (vouched for by the peer's signed assertion), instance "peer:<name>", in
// Group::"remote:<trust domain>" only (its node's groups mean nothing here).
// No agent name: a name is a local agent's (principal.name, and with it
// principal.memory, Memory::"agent/<name>", would be a local agent's).
Principal RemoteAgent(const net::Peer& peer, const std::string& spiffe_id) {
  Principal p;
  p.kind = Principal::Kind::kAgent;
  p.spiffe_id = spiffe_id;
  p.instance_id = "peer:" + peer.name;
  p.agent_groups = {"remote:" + peer.trust_domain};
  return p;
}

// How far a remote call's issue time may be from this node's clock.
constexpr int64_t kMaxClockSkewNs = 300'000'000'000;

class PeerService final : public pb::Peer::Service {
 public:
  PeerService(kernel::Kernel* k, net::Messenger* m) : k_(k), m_(m) {}

  grpc::Status Deliver(grpc::ServerContext* ctx, const pb::PeerDeliverRequest* req,
                       pb::PeerDeliverResponse* resp) override {
    std::vector<net::Envelope> envs;
    for (const pb::PeerEnvelope& p : req->messages()) {
      net::Envelope e;
      e.message_id = p.message_id();
      e.sender = p.sender();
      e.recipient = p.recipient();
      e.topic = p.topic();
      e.payload = p.payload();
      e.sent_ns = p.sent_at_ns();
      e.expires_ns = p.expires_at_ns();
      e.correlation = p.correlation_id();
      envs.push_back(std::move(e));
    }
    std::string claimed = "?";
    StatusOr<net::Peer> peer = AuthenticateSigned(
        ctx, [&](const net::Peer& p) { return net::AssertionBytes(p.trust_domain, envs); },
        req->assertion(), &claimed);
    if (!peer.ok()) return Refuse(ctx, claimed, peer.status());
    DeliverBatch(ctx, *peer, *req, envs, resp);
    return grpc::Status::OK;
  }

  // A remote agent's call to a tool of this node: authenticated as
  // Deliver is, then the claim must verify, be recent, and name an agent of
  // the peer; then it is this node's tool.call, decided under its policy.
  grpc::Status CallTool(grpc::ServerContext* ctx, const pb::PeerToolCallRequest* req,
                        pb::PeerToolCallResponse* resp) override {
    net::ToolCallClaim claim;
    claim.caller = req->caller();
    claim.target = m_->trust_domain();
    claim.tool = req->call().name();
    claim.args_json = req->call().args_json();
    if (req->call().has_timeout()) {
      StatusOr<int64_t> ns = NonNegativeNs("call.timeout", req->call().timeout());
      claim.timeout_ns = ns.ok() ? *ns : -1;
    }
    claim.correlation = req->correlation_id();
    claim.issued_ns = req->issued_at_ns();
    std::string claimed = "?";
    StatusOr<net::Peer> peer = AuthenticateSigned(
        ctx, [&](const net::Peer& p) { return net::ToolCallAssertionBytes(p.trust_domain, claim); },
        req->assertion(), &claimed);
    if (peer.ok()) {
      Status ok = net::Messenger::CheckAgentOf(*peer, req->caller(), "caller");
      if (ok.ok() && std::llabs(NowNs() - claim.issued_ns) > kMaxClockSkewNs) {
        ok = absl::UnauthenticatedError(
            absl::StrCat("stale: the call was issued ", (NowNs() - claim.issued_ns) / 1'000'000'000,
                         " s from this node's clock"));
      }
      if (!ok.ok()) peer = ok;
    }
    if (!peer.ok()) return Refuse(ctx, claimed, peer.status());
    const Principal p = RemoteAgent(*peer, req->caller());
    ToolCallOrigin origin;
    origin.syscall = Syscall::kPeerToolCall;
    origin.authenticated = &p;
    origin.correlation = req->correlation_id().substr(0, 64);
    origin.extra_context = {{"remote", true}, {"peer", peer->name}};
    pb::CallToolResponse result;
    kernel::CallResult r = DispatchToolCall(k_, ctx, req->call(), &result, origin);
    resp->set_code(static_cast<int32_t>(r.status.code()));
    resp->set_error(std::string(r.status.message()));
    if (r.status.ok()) *resp->mutable_result() = std::move(result);
    resp->set_audit_sequence(r.audit_sequence);
    return grpc::Status::OK;
  }

 private:
  // The calling peer node, from its TLS certificate (Authenticate), whose
  // key must have signed `signed_bytes(peer)` as `signature`.
  StatusOr<net::Peer> AuthenticateSigned(
      grpc::ServerContext* ctx, const std::function<std::string(const net::Peer&)>& signed_bytes,
      const std::string& signature, std::string* claimed) {
    const std::string leaf = Property(ctx, GRPC_X509_PEM_CERT_PROPERTY_NAME);
    const std::string chain = Property(ctx, GRPC_X509_PEM_CERT_CHAIN_PROPERTY_NAME);
    AIK_ASSIGN_OR_RETURN(net::Peer peer, Authenticate(leaf, chain, claimed));
    AIK_RETURN_IF_ERROR(net::Verify(leaf, signed_bytes(peer), signature));
    return peer;
  }

  // The peer node behind `leaf`: its trust domain is a federated peer's, it
  // chains to that peer's bundle, is valid now, and is the node's own
  // certificate.
  StatusOr<net::Peer> Authenticate(const std::string& leaf, const std::string& chain,
                                   std::string* claimed) {
    if (leaf.empty()) return absl::UnauthenticatedError("malformed: no client certificate");
    AIK_ASSIGN_OR_RETURN(std::string id, net::SpiffeIdOf(leaf));
    *claimed = id;
    StatusOr<identity::SpiffeId> parsed = identity::ParseSpiffeId(id);
    if (!parsed.ok()) return absl::UnauthenticatedError("malformed: " + id);
    std::optional<net::Peer> peer = m_->PeerByTrustDomain(parsed->trust_domain);
    if (!peer) {
      return absl::UnauthenticatedError(absl::StrCat(
          "foreign trust domain: '", parsed->trust_domain, "' is not federated with this node"));
    }
    AIK_RETURN_IF_ERROR(net::VerifyPeerCertificate(leaf, chain, peer->bundle_pem,
                                                   peer->trust_domain, NowNs() / 1'000'000'000)
                            .status());
    if (id != net::NodeSpiffeId(peer->trust_domain)) {
      return absl::UnauthenticatedError(absl::StrCat(
          "not a node: '", id, "' is not ", net::NodeSpiffeId(peer->trust_domain)));
    }
    return *peer;
  }

  grpc::Status Refuse(grpc::ServerContext* ctx, const std::string& claimed, const Status& why) {
    audit::Record r;
    r.principal = "peer:" + claimed;
    r.action = "peer.refused";
    r.resource = "peer:" + ctx->peer();
    r.decision = audit::Decision::kDeny;
    std::string reason(why.message());
    r.rule_ids = {"authn", reason.substr(0, 200)};
    r.code = static_cast<int32_t>(absl::StatusCode::kUnauthenticated);
    StatusOr<uint64_t> seq = k_->AppendEvent(std::move(r));
    spdlog::warn("peer {} ({}) refused: {}", claimed, ctx->peer(), reason);
    if (seq.ok()) ctx->AddTrailingMetadata(kAuditSeqKey, std::to_string(*seq));
    return grpc::Status(grpc::StatusCode::UNAUTHENTICATED, "peer refused: " + reason);
  }

  // Each message is its own Dispatch (its own decision and ledger record),
  // all of them concurrently so that their ledger appends share group
  // commits; the allowed ones are stored in one messages.db transaction, in
  // the batch's order, once every message of the batch is decided: the
  // execute step of each waits for that commit and returns its own
  // outcome, so every record still carries what happened.
  struct Stage {
    std::mutex mu;
    std::condition_variable cv;
    size_t decided = 0;
    bool stored = false;
    std::vector<int> state;  // 0 undecided, 1 to store, 2 not stored
    std::vector<net::Envelope> checked;
    std::vector<StatusOr<net::PutResult>> results;
  };

  // mu held: the last message decided stores the batch and wakes the rest.
  void DecidedLocked(Stage& st, std::unique_lock<std::mutex>& l) {
    if (++st.decided < st.state.size()) return;
    std::vector<net::Envelope> keep;
    std::vector<size_t> where;
    for (size_t i = 0; i < st.state.size(); ++i) {
      if (st.state[i] == 1) {
        keep.push_back(st.checked[i]);
        where.push_back(i);
      }
    }
    l.unlock();
    StatusOr<std::vector<net::PutResult>> put =
        keep.empty() ? std::vector<net::PutResult>{} : m_->mailbox()->DeliverMany(keep);
    l.lock();
    for (size_t k = 0; k < where.size(); ++k) {
      st.results[where[k]] = put.ok() ? StatusOr<net::PutResult>((*put)[k])
                                      : StatusOr<net::PutResult>(put.status());
    }
    st.stored = true;
    st.cv.notify_all();
  }

  void DeliverBatch(grpc::ServerContext* ctx, const net::Peer& peer,
                    const pb::PeerDeliverRequest& req, const std::vector<net::Envelope>& envs,
                    pb::PeerDeliverResponse* resp) {
    const size_t n = envs.size();
    Stage st;
    st.state.assign(n, 0);
    st.checked.resize(n);
    st.results.assign(n, StatusOr<net::PutResult>(absl::InternalError("not stored")));
    std::vector<kernel::CallResult> out(n);
    std::vector<char> duplicate(n, 0);
    auto one = [&](size_t i) {
      const net::Envelope& env = envs[i];
      const Principal p = RemoteAgent(peer, env.sender);
      CallRequest call{CallerOf(ctx), Syscall::kPeerDeliver,
                       "agent:" + env.recipient.substr(0, 300), &req.messages(static_cast<int>(i))};
      call.authenticated = &p;
      call.correlation = env.correlation.substr(0, 64);
      call.bind = [&](const Principal&, std::string*, ContextAttrs* c) {
        c->emplace_back("topic", env.topic);
        c->emplace_back("size", static_cast<int64_t>(env.payload.size()));
        c->emplace_back("remote", true);
        c->emplace_back("peer", peer.name);
        c->emplace_back("same_group", false);
      };
      out[i] = k_->Dispatch(call, [&](const Principal&) -> Status {
        StatusOr<net::Envelope> checked = m_->Check(peer, env);
        std::unique_lock<std::mutex> l(st.mu);
        if (!checked.ok()) {
          st.state[i] = 2;
          DecidedLocked(st, l);
          return checked.status();
        }
        st.checked[i] = *std::move(checked);
        st.state[i] = 1;
        DecidedLocked(st, l);
        st.cv.wait(l, [&] { return st.stored; });
        if (!st.results[i].ok()) return st.results[i].status();
        duplicate[i] = st.results[i]->duplicate ? 1 : 0;
        if (st.results[i]->expired) return absl::FailedPreconditionError("expired before it arrived");
        return absl::OkStatus();
      });
      std::unique_lock<std::mutex> l(st.mu);
      if (st.state[i] == 0) {  // denied or refused before execution
        st.state[i] = 2;
        DecidedLocked(st, l);
      }
    };
    std::vector<std::thread> threads;
    threads.reserve(n > 0 ? n - 1 : 0);
    for (size_t i = 1; i < n; ++i) threads.emplace_back(one, i);
    if (n > 0) one(0);
    for (std::thread& t : threads) t.join();
    for (size_t i = 0; i < n; ++i) {
      pb::PeerDeliverResult* r = resp->add_results();
      r->set_code(static_cast<int32_t>(out[i].status.code()));
      r->set_error(std::string(out[i].status.message()));
      r->set_duplicate(duplicate[i] != 0);
    }
  }

  kernel::Kernel* k_;
  net::Messenger* m_;
};

}  // namespace

ServicePtr MakeFederationService(kernel::Kernel* kernel, net::Messenger* messenger,
                                 FederationInfo info) {
  return ServicePtr(new FederationService(kernel, messenger, std::move(info)),
                    [](grpc::Service* s) { delete s; });
}

ServicePtr MakePeerService(kernel::Kernel* kernel, net::Messenger* messenger) {
  return ServicePtr(new PeerService(kernel, messenger), [](grpc::Service* s) { delete s; });
}

}  // namespace aikernel::rpc
