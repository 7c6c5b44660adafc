// Refusals on the peer listener, through the real daemon: the test plays a
// node of trust domain "na" (its own identity::NodeCA, federated on the
// daemon "nb" with `aictl node peer add`) and calls Peer.Deliver over TLS
// with what a bad peer would present: no client certificate, a certificate
// from a CA that is not the federated one, an expired one, a federated
// node's CA certificate for an agent instead of the node, a trust domain
// nobody federated, and a good certificate with a bad assertion. Each is
// UNAUTHENTICATED and one peer.refused record naming the reason. (The
// three-daemon cases, foreign and misregistered nodes, are in
// federation_test.cc.)
#include <grpcpp/grpcpp.h>
#include <grpcpp/security/tls_certificate_provider.h>
#include <grpcpp/security/tls_certificate_verifier.h>
#include <grpcpp/security/tls_credentials_options.h>

#include <chrono>
#include <fstream>

#include <nlohmann/json.hpp>

#include "aikernel/v1/federation.grpc.pb.h"
#include "identity/ca.h"
#include "integration/daemon_process.h"
#include "net/peer_auth.h"
#include "rpc/peer_link.h"

namespace aikernel::testing {
namespace {

namespace pb = ::aikernel::v1;
namespace gx = ::grpc::experimental;

int64_t SystemNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// A node CA under `dir` for `td`, its clock `ago` in the past.
std::unique_ptr<identity::NodeCA> Ca(const std::string& dir, const std::string& td,
                                     std::chrono::hours ago = std::chrono::hours(0)) {
  identity::NodeCA::Options o;
  o.keys_dir = dir;
  o.trust_domain = td;
  const int64_t shift = std::chrono::duration_cast<std::chrono::nanoseconds>(ago).count();
  o.now_ns = [shift] { return SystemNs() - shift; };
  auto ca = identity::NodeCA::Open(o);
  EXPECT_TRUE(ca.ok()) << ca.status();
  return ca.ok() ? std::move(*ca) : nullptr;
}

net::NodeTls TlsFor(identity::NodeCA& ca, const std::string& spiffe_id) {
  auto svid = ca.IssueX509SVID(spiffe_id, std::chrono::hours(1));
  EXPECT_TRUE(svid.ok()) << svid.status();
  if (!svid.ok()) return {};
  return {ca.trust_domain(), svid->spiffe_id, svid->cert_pem, svid->key_pem, ca.TrustBundlePem(),
          svid->expires_at_s};
}

class PeerRefusalTest : public ::testing::Test {
 protected:
  void SetUp() override {
    d_ = std::make_unique<DaemonProcess>(tmp_.path());
    d_->WriteConfigText("[node]\nname = \"nb\"\n\n[peer]\nlisten = \"127.0.0.1:0\"\n");
    ASSERT_TRUE(d_->Start());
    CmdResult b = Aictl({"node", "bundle"});
    ASSERT_EQ(b.exit_code, 0) << b.Describe();
    nlohmann::json j = nlohmann::json::parse(b.out);
    bundle_ = j["bundle_pem"];
    address_ = j["listen_address"];
    ASSERT_FALSE(address_.empty()) << b.out;
    // "na": created two days ago (valid for a year), so it can also issue
    // a certificate that has already expired.
    past_na_ = Ca(tmp_.path() + "/na", "na", std::chrono::hours(48));
    na_ = Ca(tmp_.path() + "/na", "na");
    ASSERT_TRUE(na_ && past_na_);
    std::ofstream(tmp_.path() + "/na.pem") << na_->TrustBundlePem();
    CmdResult add = Aictl({"node", "peer", "add", "a", "--address", "127.0.0.1:1", "--bundle",
                           tmp_.path() + "/na.pem"});
    ASSERT_EQ(add.exit_code, 0) << add.Describe();
  }

  CmdResult Aictl(std::vector<std::string> args) {
    args.insert(args.begin(), {"--socket", d_->socket(), "--json"});
    return RunAictl(args);
  }

  // One Peer.Deliver of an empty batch, presenting `tls` (none if null),
  // signed with `tls`'s key unless `assertion` is given.
  grpc::Status Deliver(const net::NodeTls* tls, const std::string* assertion = nullptr) {
    std::shared_ptr<grpc::ChannelCredentials> creds;
    if (tls != nullptr) {
      creds = rpc::PeerChannelCredentials(*tls, bundle_);
    } else {
      auto provider = std::make_shared<gx::StaticDataCertificateProvider>(bundle_);
      gx::TlsChannelCredentialsOptions o;
      o.set_certificate_provider(provider);
      o.watch_root_certs();
      o.set_check_call_host(false);
      o.set_certificate_verifier(std::make_shared<gx::NoOpCertificateVerifier>());
      creds = gx::TlsCredentials(o);
    }
    auto stub = pb::Peer::NewStub(grpc::CreateChannel(address_, creds));
    pb::PeerDeliverRequest req;
    if (assertion != nullptr) {
      req.set_assertion(*assertion);
    } else if (tls != nullptr) {
      auto sig = net::Sign(tls->key_pem, net::AssertionBytes(tls->trust_domain, {}));
      EXPECT_TRUE(sig.ok()) << sig.status();
      if (sig.ok()) req.set_assertion(*sig);
    }
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
    pb::PeerDeliverResponse resp;
    return stub->Deliver(&ctx, req, &resp);
  }

  // The peer.refused records: {principal, reason}.
  std::vector<std::pair<std::string, std::string>> Refusals() {
    CmdResult r = Aictl({"audit", "query", "--action", "peer.refused"});
    EXPECT_EQ(r.exit_code, 0) << r.Describe();
    std::vector<std::pair<std::string, std::string>> out;
    nlohmann::json all = nlohmann::json::parse(r.out, nullptr, false);
    EXPECT_TRUE(all.is_array()) << r.out;
    if (!all.is_array()) return out;
    for (const nlohmann::json& j : all) {
      EXPECT_EQ(j["decision"], "deny") << j.dump();
      if (j["rule_ids"].size() == 2 && j["rule_ids"][0] == "authn") {
        out.emplace_back(j["principal"], j["rule_ids"][1]);
      }
    }
    return out;
  }

  // Refused with `reason...`, recorded once more than before, under `who`.
  ::testing::AssertionResult RefusedAndRecorded(const grpc::Status& st, const std::string& who,
                                                const std::string& reason) {
    if (st.error_code() != grpc::StatusCode::UNAUTHENTICATED) {
      return ::testing::AssertionFailure() << "code " << st.error_code() << ": "
                                           << st.error_message();
    }
    if (st.error_message().find(reason) == std::string::npos) {
      return ::testing::AssertionFailure() << "message: " << st.error_message();
    }
    int n = 0;
    std::string all;
    for (const auto& [principal, why] : Refusals()) {
      all += principal + " " + why + "\n";
      if (principal == who && why.rfind(reason, 0) == 0) ++n;
    }
    if (n != 1) {
      return ::testing::AssertionFailure()
             << n << " records of '" << reason << "' by " << who << ":\n" << all;
    }
    return ::testing::AssertionSuccess();
  }

  TempDir tmp_;
  std::unique_ptr<DaemonProcess> d_;
  std::string bundle_, address_;
  std::unique_ptr<identity::NodeCA> past_na_, na_;
};

TEST_F(PeerRefusalTest, EachBadPeerIsRefusedAndEachRefusalIsALedgerRecord) {
  const std::string node = net::NodeSpiffeId("na");

  // The good node passes (an empty batch, nothing to decide).
  net::NodeTls good = TlsFor(*na_, node);
  grpc::Status ok = Deliver(&good);
  ASSERT_TRUE(ok.ok()) << ok.error_message() << "\n" << d_->Log();

  EXPECT_TRUE(RefusedAndRecorded(Deliver(nullptr), "peer:?", "malformed: no client certificate"));

  auto other = Ca(tmp_.path() + "/other", "na");
  ASSERT_NE(other, nullptr);
  net::NodeTls forged = TlsFor(*other, node);
  EXPECT_TRUE(RefusedAndRecorded(Deliver(&forged), "peer:" + node, "untrusted"));

  net::NodeTls expired = TlsFor(*past_na_, node);
  EXPECT_TRUE(RefusedAndRecorded(Deliver(&expired), "peer:" + node, "expired"));

  net::NodeTls agent = TlsFor(*na_, "spiffe://na/agent/mallory");
  EXPECT_TRUE(RefusedAndRecorded(Deliver(&agent), "peer:spiffe://na/agent/mallory", "not a node"));

  auto nz = Ca(tmp_.path() + "/nz", "nz");
  ASSERT_NE(nz, nullptr);
  net::NodeTls foreign = TlsFor(*nz, net::NodeSpiffeId("nz"));
  EXPECT_TRUE(RefusedAndRecorded(Deliver(&foreign), "peer:" + net::NodeSpiffeId("nz"),
                                 "foreign trust domain"));

  const std::string garbage = "not a signature";
  EXPECT_TRUE(RefusedAndRecorded(Deliver(&good, &garbage), "peer:" + node, "bad signature"));
}

}  // namespace
}  // namespace aikernel::testing
