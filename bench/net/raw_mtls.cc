// The raw baseline of bench_net: Peer.Deliver answered by a bare service
// (no kernel, no storage) over the same mTLS setup the daemons use
// (rpc::PeerServer, rpc::PeerChannelCredentials, node certificates from
// identity::NodeCA). Kept apart from bench_net.cc, which uses the SDK: the
// SDK's aikernel::Status and the daemon's are different types.
#include "bench/net/raw_mtls.h"

#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <thread>
#include <vector>

#include "aikernel/v1/federation.grpc.pb.h"
#include "identity/ca.h"
#include "net/peer_auth.h"
#include "rpc/peer_link.h"

namespace aikernel::bench {
namespace {

namespace pb = ::aikernel::v1;

[[noreturn]] void Die(const std::string& what) {
  std::fprintf(stderr, "bench: %s\n", what.c_str());
  std::exit(1);
}

int64_t NowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// The raw baseline: Peer.Deliver answered without the kernel.
class RawPeer final : public pb::Peer::Service {
  grpc::Status Deliver(grpc::ServerContext*, const pb::PeerDeliverRequest* req,
                       pb::PeerDeliverResponse* resp) override {
    for (int i = 0; i < req->messages_size(); ++i) resp->add_results();
    return grpc::Status::OK;
  }
};

aikernel::net::NodeTls Tls(const std::string& dir, const std::string& td) {
  aikernel::identity::NodeCA::Options o;
  o.keys_dir = dir;
  o.trust_domain = td;
  auto ca = aikernel::identity::NodeCA::Open(o);
  if (!ca.ok()) Die("node CA: " + ca.status().ToString());
  auto svid = (*ca)->IssueX509SVID(aikernel::net::NodeSpiffeId(td), std::chrono::hours(1));
  if (!svid.ok()) Die("svid: " + svid.status().ToString());
  return {td, svid->spiffe_id, svid->cert_pem, svid->key_pem, (*ca)->TrustBundlePem(),
          svid->expires_at_s};
}

}  // namespace

double RawUnaryOverMtls(int calls, int threads, const std::string& dir, double* p50,
                        double* p99) {
  auto server_tls = Tls(dir + "/raw-a", "ra");
  auto client_tls = Tls(dir + "/raw-b", "rb");
  RawPeer svc;
  auto server = aikernel::rpc::PeerServer::Start("127.0.0.1:0", server_tls, &svc, 4 << 20);
  if (!server.ok()) Die("raw server: " + server.status().ToString());
  auto creds = aikernel::rpc::PeerChannelCredentials(client_tls, server_tls.bundle_pem);
  auto channel = grpc::CreateChannel("127.0.0.1:" + std::to_string((*server)->port()), creds);
  auto stub = pb::Peer::NewStub(channel);
  pb::PeerDeliverRequest req;
  pb::PeerEnvelope* e = req.add_messages();
  e->set_message_id("b1");
  e->set_sender("spiffe://ra/agent/alice");
  e->set_recipient("spiffe://rb/agent/bob");
  e->set_topic("bench");
  e->set_payload(std::string(64, 'x'));
  {
    grpc::ClientContext ctx;
    pb::PeerDeliverResponse resp;
    grpc::Status st = stub->Deliver(&ctx, req, &resp);
    if (!st.ok()) Die("raw call: " + st.error_message());
  }
  std::atomic<int> next{0};
  std::vector<std::vector<int64_t>> lat(static_cast<size_t>(threads));
  const int64_t t0 = NowNs();
  std::vector<std::thread> ts;
  for (int t = 0; t < threads; ++t) {
    ts.emplace_back([&, t] {
      while (next.fetch_add(1) < calls) {
        grpc::ClientContext ctx;
        pb::PeerDeliverResponse resp;
        const int64_t s = NowNs();
        grpc::Status st = stub->Deliver(&ctx, req, &resp);
        lat[static_cast<size_t>(t)].push_back(NowNs() - s);
        if (!st.ok()) Die("raw call: " + st.error_message());
      }
    });
  }
  for (auto& t : ts) t.join();
  const double secs = static_cast<double>(NowNs() - t0) / 1e9;
  std::vector<int64_t> all;
  for (auto& v : lat) all.insert(all.end(), v.begin(), v.end());
  std::sort(all.begin(), all.end());
  auto pct = [&](double p) {
    return static_cast<double>(all[std::min(all.size() - 1, static_cast<size_t>(p * all.size()))]) /
           1000.0;
  };
  *p50 = pct(0.5);
  *p99 = pct(0.99);
  (*server)->Shutdown(std::chrono::milliseconds(0));
  return calls / secs;
}


}  // namespace aikernel::bench
