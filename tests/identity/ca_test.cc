#include "identity/ca.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <nlohmann/json.hpp>
#include <sstream>

#include "identity/identity_test_util.h"

namespace aikernel::identity {
namespace {

using ::aikernel::testing::TempDir;
using testing::CaOptions;
using testing::FakeClock;
using testing::kAgent;
using ::testing::HasSubstr;
using testing::RunCommand;

mode_t ModeOf(const std::string& path) {
  struct stat st;
  EXPECT_EQ(::stat(path.c_str(), &st), 0) << path;
  return st.st_mode & 07777;
}

bool Exists(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0;
}

TEST(NodeCaTest, FirstOpenMakesTheCaWithTightModes) {
  TempDir dir;
  FakeClock clock;
  const std::string keys = dir.file("keys");
  auto ca = NodeCA::Open(CaOptions(keys, clock));
  ASSERT_TRUE(ca.ok()) << ca.status();
  const std::string kid = (*ca)->ActiveKid();
  EXPECT_EQ(kid.size(), 43u);  // base64url SHA-256, no padding
  EXPECT_EQ(ModeOf(keys), 0700u);
  EXPECT_EQ(ModeOf(keys + "/ca-" + kid + ".key"), 0600u);
  EXPECT_EQ(ModeOf(keys + "/ca-" + kid + ".crt"), 0644u);
  EXPECT_EQ(ModeOf(keys + "/ca.json"), 0600u);
  EXPECT_THAT(testing::ReadFile(keys + "/ca-" + kid + ".key"),
              HasSubstr("BEGIN PRIVATE KEY"));  // PKCS#8
  TrustBundle b = (*ca)->Bundle();
  EXPECT_EQ(b.trust_domain, "node-a.example");
  ASSERT_EQ(b.cas.size(), 1u);
  EXPECT_TRUE(b.cas[0].active);
  EXPECT_EQ(b.pem, testing::ReadFile(keys + "/ca-" + kid + ".crt"));
}

TEST(NodeCaTest, CaCertificateHasSpiffeCaExtensions) {
  TempDir dir;
  FakeClock clock;
  auto ca = NodeCA::Open(CaOptions(dir.path(), clock));
  ASSERT_TRUE(ca.ok()) << ca.status();
  const std::string crt = dir.file("ca-" + (*ca)->ActiveKid() + ".crt");
  auto r = RunCommand("openssl x509 -in " + crt + " -noout -text");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_THAT(r.output, HasSubstr("X509v3 Basic Constraints: critical"));
  EXPECT_THAT(r.output, HasSubstr("CA:TRUE"));
  EXPECT_THAT(r.output, HasSubstr("X509v3 Key Usage: critical"));
  EXPECT_THAT(r.output, HasSubstr("Certificate Sign, CRL Sign"));
  EXPECT_THAT(r.output, HasSubstr("URI:spiffe://node-a.example"));
  EXPECT_THAT(r.output, HasSubstr("ecdsa-with-SHA256"));
  EXPECT_THAT(r.output, HasSubstr("prime256v1"));
  // Self-signed and acceptable as a trust anchor.
  auto v = RunCommand("openssl verify -CAfile " + crt + " " + crt);
  EXPECT_EQ(v.exit_code, 0) << v.output;
}

TEST(NodeCaTest, RestartKeepsTheSameCaAndBundle) {
  TempDir dir;
  FakeClock clock;
  std::string kid, pem, jwks;
  {
    auto ca = NodeCA::Open(CaOptions(dir.path(), clock));
    ASSERT_TRUE(ca.ok()) << ca.status();
    kid = (*ca)->ActiveKid();
    pem = (*ca)->TrustBundlePem();
    jwks = (*ca)->Jwks();
  }
  auto ca = NodeCA::Open(CaOptions(dir.path(), clock));
  ASSERT_TRUE(ca.ok()) << ca.status();
  EXPECT_EQ((*ca)->ActiveKid(), kid);
  EXPECT_EQ((*ca)->TrustBundlePem(), pem);
  EXPECT_EQ((*ca)->Jwks(), jwks);
}

class CaKeyModeTest : public ::testing::TestWithParam<mode_t> {};

TEST_P(CaKeyModeTest, RefusesGroupOrWorldAccessibleKeyFile) {
  TempDir dir;
  FakeClock clock;
  std::string kid;
  {
    auto ca = NodeCA::Open(CaOptions(dir.path(), clock));
    ASSERT_TRUE(ca.ok()) << ca.status();
    kid = (*ca)->ActiveKid();
  }
  const std::string key = dir.file("ca-" + kid + ".key");
  ASSERT_EQ(::chmod(key.c_str(), GetParam()), 0);
  auto ca = NodeCA::Open(CaOptions(dir.path(), clock));
  ASSERT_TRUE(absl::IsFailedPrecondition(ca.status())) << ca.status();
  EXPECT_THAT(ca.status().message(), HasSubstr(key));
  char mode[8];
  snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(GetParam()));
  EXPECT_THAT(ca.status().message(), HasSubstr(mode));
}

INSTANTIATE_TEST_SUITE_P(Modes, CaKeyModeTest,
                         ::testing::Values(0640, 0604, 0644, 0660, 0606));

TEST(NodeCaTest, RefusesAGroupWritableKeyDirectory) {
  TempDir dir;
  FakeClock clock;
  ASSERT_EQ(::chmod(dir.path().c_str(), 0770), 0);
  auto ca = NodeCA::Open(CaOptions(dir.path(), clock));
  ASSERT_TRUE(absl::IsFailedPrecondition(ca.status())) << ca.status();
  EXPECT_THAT(ca.status().message(), HasSubstr("0770"));
}

TEST(NodeCaTest, RefusesAnotherTrustDomainsFiles) {
  TempDir dir;
  FakeClock clock;
  ASSERT_TRUE(NodeCA::Open(CaOptions(dir.path(), clock)).ok());
  auto opts = CaOptions(dir.path(), clock);
  opts.trust_domain = "node-b.example";
  auto ca = NodeCA::Open(opts);
  ASSERT_TRUE(absl::IsFailedPrecondition(ca.status())) << ca.status();
  EXPECT_THAT(ca.status().message(), HasSubstr("node-a.example"));
  EXPECT_THAT(ca.status().message(), HasSubstr("node-b.example"));
}

TEST(NodeCaTest, RefusesInvalidOptions) {
  TempDir dir;
  FakeClock clock;
  auto opts = CaOptions(dir.path(), clock);
  opts.trust_domain = "Node-A.example";
  EXPECT_TRUE(absl::IsInvalidArgument(NodeCA::Open(opts).status()));
  opts = CaOptions(dir.path(), clock);
  opts.ca_ttl = std::chrono::hours(1);
  opts.max_svid_ttl = std::chrono::hours(1);
  EXPECT_TRUE(absl::IsInvalidArgument(NodeCA::Open(opts).status()));
}

TEST(NodeCaTest, DamagedStateIsDataLoss) {
  TempDir dir;
  FakeClock clock;
  ASSERT_TRUE(NodeCA::Open(CaOptions(dir.path(), clock)).ok());
  testing::WriteFile(dir.file("ca.json"), "{garbage");
  EXPECT_TRUE(
      absl::IsDataLoss(NodeCA::Open(CaOptions(dir.path(), clock)).status()));
}

TEST(NodeCaTest, JwksListsTheSigningKeysWithTheirKids) {
  TempDir dir;
  FakeClock clock;
  auto ca = NodeCA::Open(CaOptions(dir.path(), clock));
  ASSERT_TRUE(ca.ok());
  auto jwks = nlohmann::json::parse((*ca)->Jwks());
  ASSERT_EQ(jwks["keys"].size(), 1u);
  const auto& k = jwks["keys"][0];
  EXPECT_EQ(k["kty"], "EC");
  EXPECT_EQ(k["crv"], "P-256");
  EXPECT_EQ(k["alg"], "ES256");
  EXPECT_EQ(k["use"], "sig");
  EXPECT_EQ(k["kid"], (*ca)->ActiveKid());
  EXPECT_EQ(k["x"].get<std::string>().size(), 43u);
  EXPECT_EQ(k["y"].get<std::string>().size(), 43u);
}

TEST(NodeCaTest, SpiffeBundleHasX509AndJwtKeys) {
  TempDir dir;
  FakeClock clock;
  auto ca = NodeCA::Open(CaOptions(dir.path(), clock));
  ASSERT_TRUE(ca.ok());
  TrustBundle b = (*ca)->Bundle();
  auto doc = nlohmann::json::parse(b.spiffe_bundle_json);
  ASSERT_EQ(doc["keys"].size(), 2u);
  EXPECT_EQ(doc["keys"][0]["use"], "x509-svid");
  EXPECT_EQ(doc["keys"][1]["use"], "jwt-svid");
  EXPECT_EQ(doc["keys"][1]["kid"], (*ca)->ActiveKid());
  EXPECT_GT(doc["spiffe_sequence"].get<int64_t>(), 0);
  // x5c is the CA certificate's DER: PEM body without line breaks.
  std::string body;
  std::istringstream lines(b.pem);
  for (std::string line; std::getline(lines, line);) {
    if (!line.empty() && line[0] != '-') body += line;
  }
  EXPECT_EQ(doc["keys"][0]["x5c"][0], body);
  const int64_t seq = doc["spiffe_sequence"].get<int64_t>();
  clock.Advance(10);
  ASSERT_TRUE((*ca)->RotateCA().ok());
  auto after = nlohmann::json::parse((*ca)->Bundle().spiffe_bundle_json);
  EXPECT_GT(after["spiffe_sequence"].get<int64_t>(), seq);
}

TEST(NodeCaTest, RotationKeepsTheOldCaUntilItsLastSvidExpires) {
  TempDir dir;
  FakeClock clock;
  auto ca = NodeCA::Open(CaOptions(dir.path(), clock));
  ASSERT_TRUE(ca.ok());
  const std::string old_kid = (*ca)->ActiveKid();
  auto svid = (*ca)->IssueX509SVID(kAgent, std::chrono::hours(1));
  ASSERT_TRUE(svid.ok()) << svid.status();
  clock.Advance(60);
  auto jwt = (*ca)->IssueJWTSVID(kAgent, {"db"}, std::chrono::minutes(30));
  ASSERT_TRUE(jwt.ok());

  auto new_kid = (*ca)->RotateCA();
  ASSERT_TRUE(new_kid.ok()) << new_kid.status();
  EXPECT_NE(*new_kid, old_kid);
  EXPECT_EQ((*ca)->ActiveKid(), *new_kid);
  TrustBundle overlap = (*ca)->Bundle();
  ASSERT_EQ(overlap.cas.size(), 2u);
  EXPECT_EQ(overlap.cas[0].kid, *new_kid);  // active first
  EXPECT_TRUE(overlap.cas[0].active);
  EXPECT_EQ(overlap.cas[1].kid, old_kid);
  EXPECT_EQ(overlap.cas[1].issued_until_s, svid->expires_at_s);
  EXPECT_TRUE((*ca)->ValidateJWTSVID(jwt->token, "db").ok());
  EXPECT_TRUE((*ca)->ValidateX509SVID(svid->cert_pem).ok());

  // New issuance uses the new CA.
  auto fresh = (*ca)->IssueX509SVID(kAgent, std::chrono::hours(2));
  ASSERT_TRUE(fresh.ok());
  EXPECT_EQ(fresh->ca_kid, *new_kid);

  // openssl: the old SVID verifies against the overlap bundle.
  testing::WriteFile(dir.file("overlap.pem"), overlap.pem);
  testing::WriteFile(dir.file("old.pem"), svid->cert_pem);
  testing::WriteFile(dir.file("new.pem"), fresh->cert_pem);
  auto v = RunCommand("openssl verify -CAfile " + dir.file("overlap.pem") +
                      " " + dir.file("old.pem"));
  EXPECT_EQ(v.exit_code, 0) << v.output;

  // Past the old CA's last expiry it drops out of the bundle.
  clock.Advance(3600);
  TrustBundle after = (*ca)->Bundle();
  ASSERT_EQ(after.cas.size(), 1u);
  EXPECT_EQ(after.cas[0].kid, *new_kid);
  testing::WriteFile(dir.file("after.pem"), after.pem);
  v = RunCommand("openssl verify -CAfile " + dir.file("after.pem") + " " +
                 dir.file("old.pem"));
  EXPECT_NE(v.exit_code, 0) << v.output;
  EXPECT_THAT(v.output, HasSubstr("unable to get local issuer certificate"));
  v = RunCommand("openssl verify -attime " + std::to_string(clock.NowS()) +
                 " -CAfile " + dir.file("after.pem") + " " +
                 dir.file("new.pem"));
  EXPECT_EQ(v.exit_code, 0) << v.output;
  Status old_jwt = (*ca)->ValidateJWTSVID(jwt->token, "db").status();
  EXPECT_TRUE(absl::IsUnauthenticated(old_jwt));
  EXPECT_THAT((*ca)->ValidateX509SVID(svid->cert_pem).status().message(),
              HasSubstr("untrusted"));
}

TEST(NodeCaTest, RotationDropsAnOldCaThatIssuedNothing) {
  TempDir dir;
  FakeClock clock;
  auto ca = NodeCA::Open(CaOptions(dir.path(), clock));
  ASSERT_TRUE(ca.ok());
  const std::string old_kid = (*ca)->ActiveKid();
  ASSERT_TRUE((*ca)->RotateCA().ok());
  EXPECT_EQ((*ca)->Bundle().cas.size(), 1u);
  EXPECT_FALSE(Exists(dir.file("ca-" + old_kid + ".key")));
  EXPECT_FALSE(Exists(dir.file("ca-" + old_kid + ".crt")));
}

TEST(NodeCaTest, RotationOverlapSurvivesRestartAndExpiredCasAreDeleted) {
  TempDir dir;
  FakeClock clock;
  std::string old_kid, new_kid;
  int64_t expires = 0;
  {
    auto ca = NodeCA::Open(CaOptions(dir.path(), clock));
    ASSERT_TRUE(ca.ok());
    old_kid = (*ca)->ActiveKid();
    auto svid = (*ca)->IssueX509SVID(kAgent, std::chrono::hours(2));
    ASSERT_TRUE(svid.ok());
    expires = svid->expires_at_s;
    auto kid = (*ca)->RotateCA();
    ASSERT_TRUE(kid.ok());
    new_kid = *kid;
  }
  {
    auto ca = NodeCA::Open(CaOptions(dir.path(), clock));
    ASSERT_TRUE(ca.ok()) << ca.status();
    EXPECT_EQ((*ca)->ActiveKid(), new_kid);
    TrustBundle b = (*ca)->Bundle();
    ASSERT_EQ(b.cas.size(), 2u);
    EXPECT_EQ(b.cas[1].kid, old_kid);
    EXPECT_EQ(b.cas[1].issued_until_s, expires);
  }
  clock.Advance(2 * 3600 + 1);
  auto ca = NodeCA::Open(CaOptions(dir.path(), clock));
  ASSERT_TRUE(ca.ok()) << ca.status();
  EXPECT_EQ((*ca)->Bundle().cas.size(), 1u);
  EXPECT_FALSE(Exists(dir.file("ca-" + old_kid + ".key")));
  EXPECT_TRUE(Exists(dir.file("ca-" + new_kid + ".key")));
}

TEST(NodeCaTest, CrashBeforeRotationKeepsTheActiveCaAtLeastAsLongAsItsSvids) {
  TempDir dir;
  FakeClock clock;
  int64_t expires = 0;
  {
    auto ca = NodeCA::Open(CaOptions(dir.path(), clock));
    ASSERT_TRUE(ca.ok());
    auto svid = (*ca)->IssueX509SVID(kAgent, std::chrono::hours(3));
    ASSERT_TRUE(svid.ok());
    expires = svid->expires_at_s;
  }  // "crash": only the persisted upper bound survives
  auto ca = NodeCA::Open(CaOptions(dir.path(), clock));
  ASSERT_TRUE(ca.ok());
  ASSERT_TRUE((*ca)->RotateCA().ok());
  TrustBundle b = (*ca)->Bundle();
  ASSERT_EQ(b.cas.size(), 2u);
  EXPECT_GE(b.cas[1].issued_until_s, expires);
  EXPECT_LE(b.cas[1].issued_until_s, expires + 600);  // expiry_step
}

TEST(NodeCaTest, RotatesItselfBeforeTheCaWouldOutliveNoSvid) {
  TempDir dir;
  FakeClock clock;
  auto opts = CaOptions(dir.path(), clock);
  opts.ca_ttl = std::chrono::hours(4);
  opts.max_svid_ttl = std::chrono::hours(1);
  auto ca = NodeCA::Open(opts);
  ASSERT_TRUE(ca.ok());
  const std::string first = (*ca)->ActiveKid();
  clock.Advance(3 * 3600 + 60);  // less than max_svid_ttl left
  auto svid = (*ca)->IssueX509SVID(kAgent, std::chrono::hours(1));
  ASSERT_TRUE(svid.ok()) << svid.status();
  EXPECT_NE(svid->ca_kid, first);
  EXPECT_EQ(svid->expires_at_s - svid->issued_at_s, 3600);
}

}  // namespace
}  // namespace aikernel::identity
