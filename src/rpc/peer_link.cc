#include "rpc/peer_link.h"

#include <grpcpp/grpcpp.h>
#include <grpcpp/security/tls_certificate_provider.h>
#include <grpcpp/security/tls_certificate_verifier.h>
#include <grpcpp/security/tls_credentials_options.h>

#include <map>
#include <mutex>

#include "aikernel/v1/federation.grpc.pb.h"
#include "rpc/service_util.h"

namespace aikernel::rpc {

namespace pb = ::aikernel::v1;
namespace gx = ::grpc::experimental;

class PeerServer::Impl {
 public:
  std::unique_ptr<grpc::Server> server;
  int port = 0;
};

PeerServer::PeerServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
PeerServer::~PeerServer() { Shutdown(std::chrono::milliseconds(0)); }

StatusOr<std::unique_ptr<PeerServer>> PeerServer::Start(const std::string& listen,
                                                        const net::NodeTls& tls,
                                                        grpc::Service* service,
                                                        size_t max_message_bytes) {
  auto provider = std::make_shared<gx::StaticDataCertificateProvider>(
      tls.bundle_pem, std::vector<gx::IdentityKeyCertPair>{{tls.key_pem, tls.cert_pem}});
  gx::TlsServerCredentialsOptions o(provider);
  o.watch_root_certs();
  o.watch_identity_key_cert_pairs();
  // Requested, not required, and verified by the Peer service against the
  // bundle of the client's own trust domain, so that every refusal,
  // including a client with no certificate at all, can be recorded
  // (docs/net.md). No call gets past the service without one.
  o.set_cert_request_type(GRPC_SSL_REQUEST_CLIENT_CERTIFICATE_BUT_DONT_VERIFY);
  auto impl = std::make_unique<Impl>();
  grpc::ServerBuilder b;
  b.AddListeningPort(listen, grpc::experimental::TlsServerCredentials(o), &impl->port);
  b.SetMaxReceiveMessageSize(static_cast<int>(max_message_bytes));
  b.SetMaxSendMessageSize(static_cast<int>(max_message_bytes));
  b.RegisterService(service);
  impl->server = b.BuildAndStart();
  if (!impl->server || impl->port == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("peer.listen: cannot listen on '", listen, "' with TLS"));
  }
  return std::unique_ptr<PeerServer>(new PeerServer(std::move(impl)));
}

int PeerServer::port() const { return impl_->port; }

void PeerServer::Shutdown(std::chrono::milliseconds drain) {
  if (impl_->server) {
    impl_->server->Shutdown(std::chrono::system_clock::now() + drain);
    impl_->server->Wait();
    impl_->server.reset();
  }
}

std::shared_ptr<grpc::ChannelCredentials> PeerChannelCredentials(
    const net::NodeTls& tls, const std::string& peer_bundle_pem) {
  auto provider = std::make_shared<gx::StaticDataCertificateProvider>(
      peer_bundle_pem, std::vector<gx::IdentityKeyCertPair>{{tls.key_pem, tls.cert_pem}});
  gx::TlsChannelCredentialsOptions o;
  o.set_certificate_provider(provider);
  o.watch_root_certs();
  o.watch_identity_key_cert_pairs();
  o.set_verify_server_certs(true);  // chains to this peer's bundle only
  o.set_check_call_host(false);     // URI SANs, no host names
  o.set_certificate_verifier(std::make_shared<gx::NoOpCertificateVerifier>());
  return grpc::experimental::TlsCredentials(o);
}

namespace {

class PeerLinks final : public PeerClient {
 public:
  PeerLinks(net::NodeTls tls, std::chrono::milliseconds deadline)
      : tls_(std::move(tls)), deadline_(deadline) {}

  StatusOr<std::vector<net::DeliveryOutcome>> Deliver(
      const net::Peer& peer, const std::vector<net::Envelope>& batch) override {
    pb::Peer::Stub* stub = StubFor(peer);
    pb::PeerDeliverRequest req;
    for (const net::Envelope& e : batch) {
      pb::PeerEnvelope* p = req.add_messages();
      p->set_message_id(e.message_id);
      p->set_sender(e.sender);
      p->set_recipient(e.recipient);
      p->set_topic(e.topic);
      p->set_payload(e.payload);
      p->set_sent_at_ns(e.sent_ns);
      p->set_expires_at_ns(e.expires_ns);
      p->set_correlation_id(e.correlation);
    }
    AIK_ASSIGN_OR_RETURN(std::string sig,
                         net::Sign(tls_.key_pem, net::AssertionBytes(tls_.trust_domain, batch)));
    req.set_assertion(sig);
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + deadline_);
    pb::PeerDeliverResponse resp;
    grpc::Status st = stub->Deliver(&ctx, req, &resp);
    AIK_RETURN_IF_ERROR(Answered(st, ctx, peer));
    std::vector<net::DeliveryOutcome> out;
    for (const pb::PeerDeliverResult& r : resp.results()) {
      net::DeliveryOutcome o;
      o.status = Status(static_cast<absl::StatusCode>(r.code()), r.error());
      o.duplicate = r.duplicate();
      out.push_back(std::move(o));
    }
    return out;
  }

  StatusOr<net::RemoteToolResult> CallTool(const net::Peer& peer,
                                           const net::RemoteToolCall& c) override {
    pb::Peer::Stub* stub = StubFor(peer);
    pb::PeerToolCallRequest req;
    req.set_caller(c.caller);
    req.mutable_call()->set_name(c.tool);
    req.mutable_call()->set_args_json(c.args_json);
    if (c.timeout.count() > 0) SetDuration(c.timeout.count(), req.mutable_call()->mutable_timeout());
    req.set_correlation_id(c.correlation);
    const int64_t issued = std::chrono::duration_cast<std::chrono::nanoseconds>(
                               std::chrono::system_clock::now().time_since_epoch())
                               .count();
    req.set_issued_at_ns(issued);
    net::ToolCallClaim claim{c.caller,      peer.trust_domain, c.tool, c.args_json,
                             c.timeout.count(), c.correlation,  issued};
    AIK_ASSIGN_OR_RETURN(std::string sig, net::Sign(tls_.key_pem, net::ToolCallAssertionBytes(
                                                                      tls_.trust_domain, claim)));
    req.set_assertion(sig);
    grpc::ClientContext ctx;
    ctx.set_deadline(c.deadline);
    pb::PeerToolCallResponse resp;
    grpc::Status st = stub->CallTool(&ctx, req, &resp);
    AIK_RETURN_IF_ERROR(Answered(st, ctx, peer));
    net::RemoteToolResult out;
    out.status = Status(static_cast<absl::StatusCode>(resp.code()), resp.error());
    out.result_json = resp.result().result_json();
    out.is_error = resp.result().is_error();
    out.provider = resp.result().provider();
    out.result_bytes = resp.result().result_bytes();
    out.audit_sequence = resp.audit_sequence();
    return out;
  }

 private:
  // A call's outcome on the link: its error naming the peer, or OK once the
  // server proved to be the peer node. The chain was checked against the
  // peer's bundle in the handshake; the certificate must also be the peer
  // node's, not some other workload's.
  static Status Answered(const grpc::Status& st, const grpc::ClientContext& ctx,
                         const net::Peer& peer) {
    if (!st.ok()) {
      return Status(static_cast<absl::StatusCode>(st.error_code()),
                    absl::StrCat("peer ", peer.name, " (", peer.address,
                                 "): ", st.error_message()));
    }
    std::string want = net::NodeSpiffeId(peer.trust_domain);
    std::shared_ptr<const grpc::AuthContext> auth = ctx.auth_context();
    std::vector<grpc::string_ref> certs =
        auth ? auth->FindPropertyValues(GRPC_X509_PEM_CERT_PROPERTY_NAME)
             : std::vector<grpc::string_ref>{};
    StatusOr<std::string> got =
        certs.empty() ? StatusOr<std::string>(absl::UnauthenticatedError("no server certificate"))
                      : net::SpiffeIdOf(std::string(certs[0].data(), certs[0].size()));
    if (!got.ok() || *got != want) {
      return absl::UnauthenticatedError(absl::StrCat(
          "peer ", peer.name, ": server is '", got.ok() ? *got : got.status().ToString(),
          "', want '", want, "'"));
    }
    return absl::OkStatus();
  }

  struct Link {
    std::string address, bundle;
    std::shared_ptr<grpc::Channel> channel;
    std::unique_ptr<pb::Peer::Stub> stub;
  };

  pb::Peer::Stub* StubFor(const net::Peer& peer) {
    std::lock_guard<std::mutex> l(mu_);
    Link& link = links_[peer.name];
    if (!link.stub || link.address != peer.address || link.bundle != peer.bundle_pem) {
      grpc::ChannelArguments args;
      args.SetMaxReceiveMessageSize(64 << 20);
      args.SetMaxSendMessageSize(64 << 20);
      link.address = peer.address;
      link.bundle = peer.bundle_pem;
      link.channel = grpc::CreateCustomChannel(
          peer.address, PeerChannelCredentials(tls_, peer.bundle_pem), args);
      link.stub = pb::Peer::NewStub(link.channel);
    }
    return link.stub.get();
  }

  net::NodeTls tls_;
  std::chrono::milliseconds deadline_;
  std::mutex mu_;
  std::map<std::string, Link> links_;  // GUARDED_BY(mu_)
};

}  // namespace

std::unique_ptr<PeerClient> MakePeerClient(const net::NodeTls& tls,
                                           std::chrono::milliseconds deadline) {
  return std::make_unique<PeerLinks>(tls, deadline);
}

}  // namespace aikernel::rpc
