// net/peer_auth: a peer node's certificate against the bundle federated for
// its trust domain (real CAs from identity::NodeCA, time moved by the
// test), and the delivery assertion's signature.
#include "net/peer_auth.h"

#include <gtest/gtest.h>

#include <atomic>

#include "identity/ca.h"
#include "net/mailbox.h"
#include "store/test_temp_dir.h"

namespace aikernel::net {
namespace {

constexpr int64_t kT0 = 1'800'000'000;  // seconds

class PeerAuthTest : public ::testing::Test {
 protected:
  std::unique_ptr<identity::NodeCA> Ca(const std::string& td) {
    identity::NodeCA::Options o;
    o.keys_dir = tmp_.file(td);
    o.trust_domain = td;
    o.now_ns = [this] { return now_s_.load() * 1'000'000'000; };
    auto ca = identity::NodeCA::Open(o);
    EXPECT_TRUE(ca.ok()) << ca.status();
    return ca.ok() ? std::move(*ca) : nullptr;
  }

  testing::TempDir tmp_;
  std::atomic<int64_t> now_s_{kT0};
};

TEST_F(PeerAuthTest, ANodeCertificateChainsToItsOwnBundleOnlyAndOnlyWhileValid) {
  auto a = Ca("na");
  auto b = Ca("nb");
  auto svid = a->IssueX509SVID(NodeSpiffeId("na"), std::chrono::hours(1));
  ASSERT_TRUE(svid.ok()) << svid.status();
  auto id = VerifyPeerCertificate(svid->cert_pem, "", a->TrustBundlePem(), "na", kT0 + 10);
  ASSERT_TRUE(id.ok()) << id.status();
  EXPECT_EQ(*id, "spiffe://na/aikernel/node");
  EXPECT_EQ(*SpiffeIdOf(svid->cert_pem), "spiffe://na/aikernel/node");

  auto wrong_bundle = VerifyPeerCertificate(svid->cert_pem, "", b->TrustBundlePem(), "na", kT0);
  ASSERT_FALSE(wrong_bundle.ok());
  EXPECT_EQ(wrong_bundle.status().message().rfind("untrusted:", 0), 0u) << wrong_bundle.status();

  auto wrong_domain = VerifyPeerCertificate(svid->cert_pem, "", a->TrustBundlePem(), "nb", kT0);
  ASSERT_FALSE(wrong_domain.ok());
  EXPECT_EQ(wrong_domain.status().message().rfind("wrong trust domain:", 0), 0u);

  auto expired =
      VerifyPeerCertificate(svid->cert_pem, "", a->TrustBundlePem(), "na", kT0 + 2 * 3600);
  ASSERT_FALSE(expired.ok());
  EXPECT_EQ(expired.status().message().rfind("expired:", 0), 0u) << expired.status();
  EXPECT_TRUE(absl::IsUnauthenticated(expired.status()));

  auto garbage = VerifyPeerCertificate("not a pem", "", a->TrustBundlePem(), "na", kT0);
  EXPECT_EQ(garbage.status().message().rfind("malformed:", 0), 0u);
}

TEST_F(PeerAuthTest, TheAssertionVerifiesOnlyWithTheSignersKeyAndOnlyForTheSameMessages) {
  auto a = Ca("na");
  auto b = Ca("nb");
  auto sa = a->IssueX509SVID(NodeSpiffeId("na"), std::chrono::hours(1));
  auto sb = b->IssueX509SVID(NodeSpiffeId("nb"), std::chrono::hours(1));
  ASSERT_TRUE(sa.ok() && sb.ok());
  Envelope e;
  e.message_id = "m1";
  e.sender = "spiffe://na/agent/alice";
  e.recipient = "spiffe://nb/agent/bob";
  e.topic = "t";
  e.payload = "hello";
  std::vector<Envelope> batch{e};
  auto sig = Sign(sa->key_pem, AssertionBytes("na", batch));
  ASSERT_TRUE(sig.ok()) << sig.status();
  EXPECT_TRUE(Verify(sa->cert_pem, AssertionBytes("na", batch), *sig).ok());
  EXPECT_FALSE(Verify(sb->cert_pem, AssertionBytes("na", batch), *sig).ok());
  batch[0].sender = "spiffe://na/agent/mallory";
  Status changed = Verify(sa->cert_pem, AssertionBytes("na", batch), *sig);
  EXPECT_TRUE(absl::IsUnauthenticated(changed)) << changed;
  EXPECT_NE(AssertionBytes("na", batch), AssertionBytes("nb", batch));
}

}  // namespace
}  // namespace aikernel::net
