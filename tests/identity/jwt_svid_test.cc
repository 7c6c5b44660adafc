#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <openssl/ec.h>
#include <openssl/evp.h>

#include <nlohmann/json.hpp>
#include <thread>

#include "identity/ca.h"
#include "identity/identity_test_util.h"
#include "identity/ossl.h"

namespace aikernel::identity {
namespace {

using ::aikernel::testing::TempDir;
using nlohmann::json;
using testing::CaOptions;
using testing::FakeClock;
using testing::kAgent;
using ::testing::HasSubstr;
using testing::RunCommand;
using ::testing::StartsWith;

const std::string kOther = "spiffe://node-a.example/agent/other";

struct Parts {
  std::string header, payload, sig;  // base64url
};

Parts Split(const std::string& token) {
  size_t a = token.find('.');
  size_t b = token.find('.', a + 1);
  return {token.substr(0, a), token.substr(a + 1, b - a - 1),
          token.substr(b + 1)};
}

std::string B64(const std::string& s) { return ossl::Base64UrlEncode(s); }
std::string UnB64(const std::string& s) {
  return ossl::Base64UrlDecode(s).value();
}

// Flips one bit in the middle character of a base64url segment, keeping it
// in the alphabet.
std::string Flip(std::string segment) {
  char& c = segment[segment.size() / 2];
  c = (c == 'A') ? 'B' : 'A';
  return segment;
}

class JwtSvidTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto ca = NodeCA::Open(CaOptions(dir_.file("keys"), clock_, &revoked_));
    ASSERT_TRUE(ca.ok()) << ca.status();
    ca_ = std::move(ca).value();
  }
  std::string Issue(const Subject& s = {kAgent, "inst-1"},
                    std::vector<std::string> aud = {"db"},
                    std::chrono::seconds ttl = std::chrono::minutes(5)) {
    auto t = ca_->IssueJWTSVID(s, aud, ttl);
    EXPECT_TRUE(t.ok()) << t.status();
    return t.ok() ? t->token : "";
  }
  // The rejection message for `token` (expects a rejection).
  std::string Rejection(const std::string& token,
                        const std::string& aud = "db") {
    auto r = ca_->ValidateJWTSVID(token, aud);
    EXPECT_FALSE(r.ok()) << token;
    if (r.ok()) return "";
    EXPECT_TRUE(absl::IsUnauthenticated(r.status())) << r.status();
    return std::string(r.status().message());
  }

  TempDir dir_;
  FakeClock clock_;
  RevocationList revoked_;
  std::unique_ptr<NodeCA> ca_;
};

TEST_F(JwtSvidTest, IssuesAndValidates) {
  auto t = ca_->IssueJWTSVID({kAgent, "inst-1"}, {"db", "cache"},
                             std::chrono::minutes(5));
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(t->kid, ca_->ActiveKid());
  EXPECT_EQ(t->expires_at_s - t->issued_at_s, 300);
  auto c = ca_->ValidateJWTSVID(t->token, "cache");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->spiffe_id, kAgent);
  EXPECT_EQ(c->instance, "inst-1");
  EXPECT_EQ(c->audiences, (std::vector<std::string>{"db", "cache"}));
  EXPECT_EQ(c->jti, t->jti);
  EXPECT_EQ(c->kid, t->kid);
  EXPECT_EQ(c->issued_at_s, clock_.NowS());
  EXPECT_EQ(c->expires_at_s, clock_.NowS() + 300);
}

TEST_F(JwtSvidTest, HeaderAndClaimsAreTheDocumentedOnes) {
  auto t =
      ca_->IssueJWTSVID({kAgent, "inst-1"}, {"db"}, std::chrono::minutes(5));
  ASSERT_TRUE(t.ok());
  Parts p = Split(t->token);
  json header = json::parse(UnB64(p.header));
  EXPECT_EQ(
      header,
      (json{{"alg", "ES256"}, {"kid", ca_->ActiveKid()}, {"typ", "JWT"}}));
  json claims = json::parse(UnB64(p.payload));
  EXPECT_EQ(claims["sub"], kAgent);
  EXPECT_EQ(claims["aud"], json::array({"db"}));
  EXPECT_EQ(claims["iat"], clock_.NowS());
  EXPECT_EQ(claims["exp"], clock_.NowS() + 300);
  EXPECT_EQ(claims["jti"], t->jti);
  EXPECT_EQ(UnB64(t->jti).size(), 16u);
  EXPECT_EQ(claims["aik_instance"], "inst-1");
  EXPECT_EQ(claims.size(), 6u);
  EXPECT_EQ(UnB64(p.sig).size(), 64u);  // raw r||s
  // Without an instance there is no aik_instance claim.
  Parts q = Split(Issue({kAgent, ""}));
  EXPECT_FALSE(json::parse(UnB64(q.payload)).contains("aik_instance"));
  // jti is random.
  EXPECT_NE(json::parse(UnB64(Split(Issue()).payload))["jti"], claims["jti"]);
}

TEST_F(JwtSvidTest, RefusesBadIssueRequests) {
  EXPECT_TRUE(absl::IsInvalidArgument(
      ca_->IssueJWTSVID(kAgent, {}, std::chrono::minutes(1)).status()));
  EXPECT_TRUE(absl::IsInvalidArgument(
      ca_->IssueJWTSVID(kAgent, {""}, std::chrono::minutes(1)).status()));
  EXPECT_TRUE(absl::IsInvalidArgument(
      ca_->IssueJWTSVID(kAgent, {"a\nb"}, std::chrono::minutes(1)).status()));
  EXPECT_TRUE(absl::IsInvalidArgument(
      ca_->IssueJWTSVID("spiffe://node-b.example/agent/x", {"db"},
                        std::chrono::minutes(1))
          .status()));
  EXPECT_TRUE(absl::IsInvalidArgument(
      ca_->IssueJWTSVID(kAgent, {"db"}, std::chrono::seconds(-1)).status()));
}

TEST_F(JwtSvidTest, RefusesExpired) {
  std::string token = Issue({kAgent, "i"}, {"db"}, std::chrono::seconds(60));
  clock_.Advance(59);
  EXPECT_TRUE(ca_->ValidateJWTSVID(token, "db").ok());
  clock_.Advance(1);
  EXPECT_THAT(Rejection(token), StartsWith("expired:"));
}

TEST_F(JwtSvidTest, LeewayToleratesSmallSkew) {
  auto opts = CaOptions(dir_.file("keys"), clock_, &revoked_);
  opts.leeway = std::chrono::seconds(30);
  auto ca = NodeCA::Open(opts);
  ASSERT_TRUE(ca.ok());
  auto t = (*ca)->IssueJWTSVID(kAgent, {"db"}, std::chrono::seconds(60));
  ASSERT_TRUE(t.ok());
  clock_.Advance(80);
  EXPECT_TRUE((*ca)->ValidateJWTSVID(t->token, "db").ok());
  clock_.Advance(10);
  EXPECT_FALSE((*ca)->ValidateJWTSVID(t->token, "db").ok());
}

TEST_F(JwtSvidTest, RefusesNotYetValid) {
  std::string token = Issue();
  clock_.Advance(-10);  // the validator's clock is behind the issuer's
  EXPECT_THAT(Rejection(token), StartsWith("not yet valid:"));
}

TEST_F(JwtSvidTest, RefusesWrongAudience) {
  std::string token = Issue({kAgent, "i"}, {"db", "cache"});
  EXPECT_THAT(Rejection(token, "queue"), StartsWith("wrong audience:"));
  EXPECT_THAT(Rejection(token, "DB"), StartsWith("wrong audience:"));
  EXPECT_TRUE(
      absl::IsInvalidArgument(ca_->ValidateJWTSVID(token, "").status()));
}

TEST_F(JwtSvidTest, RefusesTamperedPayloadSignatureAndHeader) {
  std::string token = Issue();
  Parts p = Split(token);
  EXPECT_THAT(Rejection(p.header + "." + Flip(p.payload) + "." + p.sig),
              StartsWith("bad signature:"));
  EXPECT_THAT(Rejection(p.header + "." + p.payload + "." + Flip(p.sig)),
              StartsWith("bad signature:"));
  // A claim changed and re-encoded (sub swapped to another agent).
  json claims = json::parse(UnB64(p.payload));
  claims["sub"] = kOther;
  EXPECT_THAT(Rejection(p.header + "." + B64(claims.dump()) + "." + p.sig),
              StartsWith("bad signature:"));
  // Truncated signature.
  EXPECT_THAT(Rejection(p.header + "." + p.payload + "." +
                        p.sig.substr(0, p.sig.size() - 4)),
              StartsWith("bad signature:"));
  // Header with typ changed: the signature covers the header too.
  json header = json::parse(UnB64(p.header));
  header["typ"] = "JOSE";
  EXPECT_THAT(Rejection(B64(header.dump()) + "." + p.payload + "." + p.sig),
              StartsWith("bad signature:"));
}

TEST_F(JwtSvidTest, RefusesMalformed) {
  std::string token = Issue();
  Parts p = Split(token);
  for (const std::string& bad :
       {std::string(""), std::string("abc"), p.header + "." + p.payload,
        token + ".x", "." + p.payload + "." + p.sig, p.header + ".." + p.sig,
        p.header + "." + p.payload + ".",
        std::string("!!!.") + p.payload + "." + p.sig,
        B64("not json") + "." + p.payload + "." + p.sig,
        B64("[1]") + "." + p.payload + "." + p.sig, std::string(9000, 'a')}) {
    EXPECT_THAT(Rejection(bad), StartsWith("malformed:")) << bad;
  }
}

TEST_F(JwtSvidTest, RefusesUnknownKid) {
  Parts p = Split(Issue());
  json header = json::parse(UnB64(p.header));
  header["kid"] = "no-such-key";
  EXPECT_THAT(Rejection(B64(header.dump()) + "." + p.payload + "." + p.sig),
              StartsWith("unknown kid:"));
  header.erase("kid");
  EXPECT_THAT(Rejection(B64(header.dump()) + "." + p.payload + "." + p.sig),
              StartsWith("unknown kid:"));
  // A well-formed token from another node's CA.
  TempDir other_dir;
  auto other = NodeCA::Open(CaOptions(other_dir.path(), clock_));
  ASSERT_TRUE(other.ok());
  auto foreign =
      (*other)->IssueJWTSVID(kAgent, {"db"}, std::chrono::minutes(1));
  ASSERT_TRUE(foreign.ok());
  EXPECT_THAT(Rejection(foreign->token), StartsWith("unknown kid:"));
  // Its payload and signature under our kid: bad signature.
  Parts f = Split(foreign->token);
  EXPECT_THAT(Rejection(p.header + "." + f.payload + "." + f.sig),
              StartsWith("bad signature:"));
}

TEST_F(JwtSvidTest, RefusesAlgNone) {
  Parts p = Split(Issue());
  for (const char* alg : {"none", "None", "NONE"}) {
    json header = {{"alg", alg}, {"kid", ca_->ActiveKid()}, {"typ", "JWT"}};
    const std::string h = B64(header.dump());
    EXPECT_THAT(Rejection(h + "." + p.payload + "."), StartsWith("malformed:"));
    EXPECT_THAT(Rejection(h + "." + p.payload + "." + p.sig),
                StartsWith("unsupported alg:"))
        << alg;
  }
  json header = {{"typ", "JWT"}, {"kid", ca_->ActiveKid()}};
  EXPECT_THAT(Rejection(B64(header.dump()) + "." + p.payload + "." + p.sig),
              StartsWith("malformed:"));
}

TEST_F(JwtSvidTest, RefusesHs256KeyConfusion) {
  // The classic attack: HMAC-SHA256 keyed with the published public key.
  Parts p = Split(Issue());
  json jwks = json::parse(ca_->Jwks());
  std::vector<std::string> secrets = {ca_->TrustBundlePem(), jwks.dump(),
                                      jwks["keys"][0].dump()};
  for (const std::string& secret : secrets) {
    json header = {{"alg", "HS256"}, {"kid", ca_->ActiveKid()}, {"typ", "JWT"}};
    const std::string input = B64(header.dump()) + "." + p.payload;
    unsigned char mac[32];
    size_t len = 0;
    ASSERT_NE(EVP_Q_mac(nullptr, "HMAC", nullptr, "SHA256", nullptr,
                        secret.data(), secret.size(),
                        reinterpret_cast<const unsigned char*>(input.data()),
                        input.size(), mac, sizeof mac, &len),
              nullptr);
    const std::string token =
        input + "." + B64(std::string(reinterpret_cast<char*>(mac), len));
    EXPECT_THAT(Rejection(token), StartsWith("unsupported alg:"));
  }
  // Other algorithms are refused too.
  for (const char* alg : {"ES384", "RS256", "EdDSA", "PS256", "es256"}) {
    json header = {{"alg", alg}, {"kid", ca_->ActiveKid()}, {"typ", "JWT"}};
    EXPECT_THAT(Rejection(B64(header.dump()) + "." + p.payload + "." + p.sig),
                StartsWith("unsupported alg:"))
        << alg;
  }
}

TEST_F(JwtSvidTest, RefusesRevokedInstanceAndSubject) {
  std::string a1 = Issue({kAgent, "inst-1"});
  std::string a2 = Issue({kAgent, "inst-2"});
  std::string b1 = Issue({kOther, "inst-1"});
  ASSERT_TRUE(revoked_.RevokeInstance(kAgent, "inst-1", clock_.NowS()).ok());
  EXPECT_THAT(Rejection(a1), StartsWith("revoked:"));
  EXPECT_TRUE(ca_->ValidateJWTSVID(a2, "db").ok());
  EXPECT_TRUE(ca_->ValidateJWTSVID(b1, "db").ok());
  // No new credentials for the revoked instance.
  EXPECT_TRUE(absl::IsPermissionDenied(
      ca_->IssueJWTSVID({kAgent, "inst-1"}, {"db"}, std::chrono::minutes(1))
          .status()));

  ASSERT_TRUE(revoked_.RevokeSubjectBefore(kOther, clock_.NowS()).ok());
  EXPECT_THAT(Rejection(b1), StartsWith("revoked:"));
  clock_.Advance(1);
  std::string b2 = Issue({kOther, "inst-3"});
  EXPECT_TRUE(ca_->ValidateJWTSVID(b2, "db").ok());
  EXPECT_THAT(Rejection(b1), StartsWith("revoked:"));
}

TEST_F(JwtSvidTest, AgentAPresentingAgentBsTokenIsRefused) {
  std::string b = Issue({kOther, "inst-9"});
  auto c = ca_->ValidateJWTSVIDFrom(b, "db", {kOther, "inst-9"});
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->spiffe_id, kOther);
  // A presents B's token as its own.
  Status wrong = ca_->ValidateJWTSVIDFrom(b, "db", {kAgent, "inst-1"}).status();
  EXPECT_TRUE(absl::IsUnauthenticated(wrong));
  EXPECT_THAT(std::string(wrong.message()), StartsWith("not the presenter's:"));
  // B's next instance presenting the previous instance's token.
  EXPECT_FALSE(ca_->ValidateJWTSVIDFrom(b, "db", {kOther, "inst-10"}).ok());
  // Validation failures come first.
  EXPECT_THAT(
      std::string(ca_->ValidateJWTSVIDFrom(b, "queue", {kOther, "inst-9"})
                      .status()
                      .message()),
      StartsWith("wrong audience:"));
}

TEST_F(JwtSvidTest, ConcurrentIssueAndValidate) {
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 50; ++i) {
        auto tok = ca_->IssueJWTSVID({kAgent, "t" + std::to_string(t)}, {"db"},
                                     std::chrono::minutes(1));
        if (!tok.ok() || !ca_->ValidateJWTSVID(tok->token, "db").ok()) {
          ++failures;
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
}

// ------------------------------------------------------ interoperability --

TEST_F(JwtSvidTest, NodeCryptoVerifiesWithTheJwksAndRecomputesTheKid) {
  if (RunCommand("node --version").exit_code != 0) GTEST_SKIP() << "no node";
  const std::string token = Issue();
  testing::WriteFile(dir_.file("jwks.json"), ca_->Jwks());
  testing::WriteFile(dir_.file("token.txt"), token);
  testing::WriteFile(dir_.file("verify.js"), R"JS(
const crypto = require('crypto'), fs = require('fs');
const jwks = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
const token = fs.readFileSync(process.argv[3], 'utf8').trim();
const [h, p, s] = token.split('.');
const header = JSON.parse(Buffer.from(h, 'base64url').toString());
if (header.alg !== 'ES256') { console.log('alg ' + header.alg); process.exit(4); }
const jwk = jwks.keys.find(k => k.kid === header.kid);
if (!jwk) { console.log('unknown kid'); process.exit(2); }
// RFC 7638 thumbprint
const canon = JSON.stringify({crv: jwk.crv, kty: jwk.kty, x: jwk.x, y: jwk.y});
const tp = crypto.createHash('sha256').update(canon).digest('base64url');
if (tp !== header.kid) { console.log('kid mismatch ' + tp); process.exit(3); }
const key = crypto.createPublicKey({key: jwk, format: 'jwk'});
const ok = crypto.verify('sha256', Buffer.from(h + '.' + p),
    {key, dsaEncoding: 'ieee-p1363'}, Buffer.from(s, 'base64url'));
const claims = JSON.parse(Buffer.from(p, 'base64url').toString());
console.log(ok ? 'VALID ' + claims.sub : 'INVALID');
process.exit(ok ? 0 : 1);
)JS");
  const std::string cmd = "node " + dir_.file("verify.js") + " " +
                          dir_.file("jwks.json") + " " + dir_.file("token.txt");
  auto r = RunCommand(cmd);
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_THAT(r.output, HasSubstr("VALID " + kAgent));
  // And node rejects a tampered one.
  Parts p = Split(token);
  testing::WriteFile(dir_.file("token.txt"),
                     p.header + "." + Flip(p.payload) + "." + p.sig);
  r = RunCommand(cmd);
  EXPECT_EQ(r.exit_code, 1) << r.output;
}

// JWS raw r||s -> DER, with OpenSSL's ECDSA_SIG API (independent of the
// library's own conversion).
std::string RawToDer(const std::string& raw) {
  const auto* p = reinterpret_cast<const unsigned char*>(raw.data());
  ECDSA_SIG* sig = ECDSA_SIG_new();
  ECDSA_SIG_set0(sig, BN_bin2bn(p, 32, nullptr),
                 BN_bin2bn(p + 32, 32, nullptr));
  unsigned char* der = nullptr;
  int len = i2d_ECDSA_SIG(sig, &der);
  std::string out(reinterpret_cast<char*>(der), static_cast<size_t>(len));
  OPENSSL_free(der);
  ECDSA_SIG_free(sig);
  return out;
}

TEST_F(JwtSvidTest, OpensslDgstVerifiesTheSignature) {
  const std::string token = Issue();
  Parts p = Split(token);
  testing::WriteFile(dir_.file("ca.pem"), ca_->TrustBundlePem());
  auto pub = RunCommand("openssl x509 -in " + dir_.file("ca.pem") +
                        " -noout -pubkey > " + dir_.file("pub.pem"));
  ASSERT_EQ(pub.exit_code, 0) << pub.output;
  testing::WriteFile(dir_.file("input.txt"), p.header + "." + p.payload);
  testing::WriteFile(dir_.file("sig.der"), RawToDer(UnB64(p.sig)));
  const std::string cmd = "openssl dgst -sha256 -verify " +
                          dir_.file("pub.pem") + " -signature " +
                          dir_.file("sig.der") + " " + dir_.file("input.txt");
  auto r = RunCommand(cmd);
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_THAT(r.output, HasSubstr("Verified OK"));
  testing::WriteFile(dir_.file("input.txt"), p.header + "." + Flip(p.payload));
  r = RunCommand(cmd);
  EXPECT_NE(r.exit_code, 0) << r.output;
  EXPECT_THAT(r.output, HasSubstr("Verification failure"));
}

}  // namespace
}  // namespace aikernel::identity
