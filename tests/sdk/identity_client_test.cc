// The SDK's Identity calls and X509SvidSource against an in-test Identity
// service (no aikerneld): fields are carried, a refused token is a result,
// and the source re-fetches at half the lifetime and keeps the cached SVID
// through a failed re-fetch until it expires.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/socket.h>

#include <atomic>

#include <grpcpp/grpcpp.h>
#include <grpcpp/server_posix.h>

#include "aikernel/client.h"
#include "aikernel/v1/identity.grpc.pb.h"

namespace aikernel {
namespace {

namespace pb = ::aikernel::v1;

class FakeIdentity final : public pb::Identity::Service {
 public:
  std::atomic<int> fetches{0};
  std::atomic<bool> fail{false};
  int64_t issued_at_s = 1'000'000;

  grpc::Status FetchX509SVID(grpc::ServerContext* ctx, const pb::FetchX509SVIDRequest*,
                             pb::FetchX509SVIDResponse* resp) override {
    ctx->AddTrailingMetadata("aikernel-audit-seq", "42");
    if (fail) return grpc::Status(grpc::StatusCode::UNAVAILABLE, "ledger down");
    int n = ++fetches;
    auto* s = resp->mutable_svid();
    s->set_spiffe_id("spiffe://td/agent/a");
    s->set_instance_id("i-1");
    s->set_serial_hex("0" + std::to_string(n));
    s->mutable_issued_at()->set_seconds(issued_at_s);
    s->mutable_expires_at()->set_seconds(issued_at_s + 3600);
    return grpc::Status::OK;
  }
  grpc::Status ValidateJWTSVID(grpc::ServerContext*, const pb::ValidateJWTSVIDRequest* req,
                               pb::ValidateJWTSVIDResponse* resp) override {
    if (req->audience() != "svc") {
      resp->set_valid(false);
      resp->set_reason("wrong audience: token is for svc");
    } else {
      resp->set_valid(true);
      resp->set_spiffe_id("spiffe://td/agent/a");
      resp->add_audiences("svc");
    }
    return grpc::Status::OK;
  }
  grpc::Status TrustBundle(grpc::ServerContext*, const pb::TrustBundleRequest*,
                           pb::TrustBundleResponse* resp) override {
    resp->set_trust_domain("td");
    resp->set_pem("PEM");
    auto* ca = resp->add_cas();
    ca->set_kid("k1");
    ca->set_active(true);
    ca->mutable_not_after()->set_seconds(5);
    auto* old = resp->add_cas();
    old->set_kid("k0");
    old->mutable_retired_at()->set_seconds(3);
    old->mutable_issued_until()->set_seconds(4);
    return grpc::Status::OK;
  }
};

class IdentityClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    grpc::ServerBuilder b;
    b.RegisterService(&fake);
    server = b.BuildAndStart();
    ASSERT_NE(server, nullptr);
    int sv[2];
    ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    ::fcntl(sv[0], F_SETFL, ::fcntl(sv[0], F_GETFL) | O_NONBLOCK);
    grpc::AddInsecureChannelFromFd(server.get(), sv[0]);
    ClientOptions o;
    o.fd = sv[1];
    o.default_timeout = std::chrono::milliseconds(10000);
    auto c = Client::Connect(o);
    ASSERT_TRUE(c.ok()) << c.status().ToString();
    client = std::move(*c);
  }
  void TearDown() override {
    client.reset();
    server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(1));
  }
  FakeIdentity fake;
  std::unique_ptr<grpc::Server> server;
  std::unique_ptr<Client> client;
};

Timestamp At(int64_t s) { return Timestamp(std::chrono::seconds(s)); }

TEST_F(IdentityClientTest, FieldsAndAuditSequenceAreCarried) {
  auto s = client->FetchX509SVID();
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ(s->spiffe_id, "spiffe://td/agent/a");
  EXPECT_EQ(s->audit_sequence, 42u);
  EXPECT_EQ(s->expires_at - s->issued_at, std::chrono::seconds(3600));
  EXPECT_EQ(s->RefreshAt(), At(fake.issued_at_s + 1800));

  auto b = client->FetchTrustBundle();
  ASSERT_TRUE(b.ok());
  ASSERT_EQ(b->cas.size(), 2u);
  EXPECT_TRUE(b->cas[0].active);
  EXPECT_FALSE(b->cas[0].retired_at.has_value());
  ASSERT_TRUE(b->cas[1].issued_until.has_value());
  EXPECT_EQ(*b->cas[1].issued_until, At(4));
}

TEST_F(IdentityClientTest, ARefusedTokenIsAResult) {
  auto v = client->ValidateJWTSVID("t", "other");
  ASSERT_TRUE(v.ok()) << v.status().ToString();
  EXPECT_FALSE(v->valid);
  EXPECT_EQ(v->reason.rfind("wrong audience:", 0), 0u);
  v = client->ValidateJWTSVID("t", "svc");
  ASSERT_TRUE(v.ok());
  EXPECT_TRUE(v->valid);
  EXPECT_EQ(v->audiences, std::vector<std::string>{"svc"});
}

TEST_F(IdentityClientTest, SourceRefetchesAtHalfLife) {
  int64_t now_s = fake.issued_at_s;
  X509SvidSource source(client.get(), [&] { return At(now_s); });
  auto a = source.Get();
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(fake.fetches.load(), 1);
  now_s += 1799;
  ASSERT_TRUE(source.Get().ok());
  EXPECT_EQ(fake.fetches.load(), 1) << "cached before half-life";
  now_s += 1;
  fake.issued_at_s = now_s;
  auto b = source.Get();
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(fake.fetches.load(), 2) << "re-fetched at half-life";
  EXPECT_NE(b->serial_hex, a->serial_hex);

  // A failed re-fetch keeps the cached SVID while it is unexpired...
  fake.fail = true;
  now_s += 2000;  // past the cached one's half-life (issued_at + 1800), before its expiry
  auto c = source.Get();
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->serial_hex, b->serial_hex);
  // ...and returns the error once it has expired.
  now_s += 2000;
  auto d = source.Get();
  ASSERT_FALSE(d.ok());
  EXPECT_EQ(d.status().code(), StatusCode::kUnavailable);
  EXPECT_EQ(source.fetches(), 2u);
}

}  // namespace
}  // namespace aikernel
