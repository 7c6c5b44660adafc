#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include <set>

#include "identity/ca.h"
#include "identity/identity_test_util.h"
#include "identity/ossl.h"

namespace aikernel::identity {
namespace {

using ::aikernel::testing::TempDir;
using testing::CaOptions;
using testing::FakeClock;
using testing::kAgent;
using ::testing::HasSubstr;
using testing::RunCommand;

class X509SvidTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto ca = NodeCA::Open(CaOptions(dir_.file("keys"), clock_, &revoked_));
    ASSERT_TRUE(ca.ok()) << ca.status();
    ca_ = std::move(ca).value();
  }
  // openssl verify -CAfile bundle.pem cert.pem [at the fake clock's time]
  testing::CommandResult OpensslVerify(const std::string& bundle_pem,
                                       const std::string& cert_pem,
                                       bool at_fake_time = false) {
    testing::WriteFile(dir_.file("bundle.pem"), bundle_pem);
    testing::WriteFile(dir_.file("cert.pem"), cert_pem);
    std::string cmd = "openssl verify ";
    if (at_fake_time) cmd += "-attime " + std::to_string(clock_.NowS()) + " ";
    return RunCommand(cmd + "-CAfile " + dir_.file("bundle.pem") + " " +
                      dir_.file("cert.pem"));
  }

  TempDir dir_;
  FakeClock clock_;
  RevocationList revoked_;
  std::unique_ptr<NodeCA> ca_;
};

TEST_F(X509SvidTest, OpensslVerifyAcceptsAnIssuedSvid) {
  auto svid = ca_->IssueX509SVID({kAgent, "inst-1"}, std::chrono::hours(1));
  ASSERT_TRUE(svid.ok()) << svid.status();
  auto r = OpensslVerify(svid->bundle_pem, svid->cert_pem);
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_THAT(r.output, HasSubstr("cert.pem: OK"));
  // The TLS purposes named by extendedKeyUsage are accepted too.
  for (const char* purpose : {"sslclient", "sslserver"}) {
    auto p = RunCommand("openssl verify -purpose " + std::string(purpose) +
                        " -CAfile " + dir_.file("bundle.pem") + " " +
                        dir_.file("cert.pem"));
    EXPECT_EQ(p.exit_code, 0) << purpose << ": " << p.output;
  }
}

TEST_F(X509SvidTest, CertificateFollowsTheX509SvidProfile) {
  auto svid = ca_->IssueX509SVID({kAgent, "inst-1"}, std::chrono::minutes(30));
  ASSERT_TRUE(svid.ok()) << svid.status();
  auto cert = ossl::ParseCertPem(svid->cert_pem);
  ASSERT_TRUE(cert.ok());
  X509* x = cert->get();
  EXPECT_EQ(X509_check_ca(x), 0);
  int crit = -1;
  BASIC_CONSTRAINTS* bc = static_cast<BASIC_CONSTRAINTS*>(
      X509_get_ext_d2i(x, NID_basic_constraints, &crit, nullptr));
  ASSERT_NE(bc, nullptr);
  EXPECT_FALSE(bc->ca);
  EXPECT_EQ(crit, 1);
  BASIC_CONSTRAINTS_free(bc);
  EXPECT_EQ(X509_get_key_usage(x), static_cast<uint32_t>(KU_DIGITAL_SIGNATURE));
  EXPECT_EQ(X509_get_extended_key_usage(x),
            static_cast<uint32_t>(XKU_SSL_SERVER | XKU_SSL_CLIENT));
  GENERAL_NAMES* sans = static_cast<GENERAL_NAMES*>(
      X509_get_ext_d2i(x, NID_subject_alt_name, nullptr, nullptr));
  ASSERT_NE(sans, nullptr);
  ASSERT_EQ(sk_GENERAL_NAME_num(sans), 1);
  const GENERAL_NAME* gn = sk_GENERAL_NAME_value(sans, 0);
  ASSERT_EQ(gn->type, GEN_URI);
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(
                ASN1_STRING_get0_data(gn->d.uniformResourceIdentifier))),
            kAgent);
  GENERAL_NAMES_free(sans);
  EXPECT_EQ(svid->expires_at_s - svid->issued_at_s, 1800);
  EXPECT_EQ(svid->issued_at_s, clock_.NowS());
  EXPECT_EQ(svid->ca_kid, ca_->ActiveKid());
  EXPECT_EQ(svid->bundle_pem, ca_->TrustBundlePem());
  // The key is the certificate's, EC P-256, PKCS#8.
  EXPECT_THAT(svid->key_pem, HasSubstr("BEGIN PRIVATE KEY"));
  auto key = ossl::ParsePrivateKeyPem(svid->key_pem);
  ASSERT_TRUE(key.ok());
  EXPECT_TRUE(ossl::IsP256(key->get()));
  EXPECT_EQ(X509_check_private_key(x, key->get()), 1);
  // The openssl CLI agrees.
  testing::WriteFile(dir_.file("leaf.pem"), svid->cert_pem);
  auto text =
      RunCommand("openssl x509 -noout -text -in " + dir_.file("leaf.pem"));
  EXPECT_THAT(text.output, HasSubstr("CA:FALSE"));
  EXPECT_THAT(text.output, HasSubstr("Digital Signature"));
  EXPECT_THAT(
      text.output,
      HasSubstr(
          "TLS Web Server Authentication, TLS Web Client Authentication"));
  EXPECT_THAT(text.output, HasSubstr("URI:" + kAgent));
  EXPECT_THAT(text.output, HasSubstr("CN = inst-1"));
}

TEST_F(X509SvidTest, EachSvidHasAFreshKeyAndARandomSerial) {
  std::set<std::string> serials, keys;
  for (int i = 0; i < 20; ++i) {
    auto svid = ca_->IssueX509SVID(kAgent, std::chrono::hours(1));
    ASSERT_TRUE(svid.ok());
    EXPECT_GE(svid->serial_hex.size(), 30u);  // ~128 bits
    serials.insert(svid->serial_hex);
    keys.insert(svid->key_pem);
  }
  EXPECT_EQ(serials.size(), 20u);
  EXPECT_EQ(keys.size(), 20u);
}

TEST_F(X509SvidTest, TtlIsCappedAndMustBePositive) {
  auto svid = ca_->IssueX509SVID(kAgent, std::chrono::hours(100));
  ASSERT_TRUE(svid.ok());
  EXPECT_EQ(svid->expires_at_s - svid->issued_at_s, 24 * 3600);
  EXPECT_TRUE(absl::IsInvalidArgument(
      ca_->IssueX509SVID(kAgent, std::chrono::seconds(0)).status()));
}

TEST_F(X509SvidTest, RefusesIdsOutsideTheTrustDomainOrInvalid) {
  for (const char* id :
       {"spiffe://node-b.example/agent/x", "spiffe://node-a.example",
        "spiffe://node-a.example/a/", "not-an-id"}) {
    EXPECT_TRUE(absl::IsInvalidArgument(
        ca_->IssueX509SVID(id, std::chrono::hours(1)).status()))
        << id;
  }
  EXPECT_TRUE(absl::IsInvalidArgument(
      ca_->IssueX509SVID({kAgent, "bad instance"}, std::chrono::hours(1))
          .status()));
}

TEST_F(X509SvidTest, ValidateAcceptsOursAndReportsTheIdentity) {
  auto svid = ca_->IssueX509SVID({kAgent, "inst-1"}, std::chrono::hours(1));
  ASSERT_TRUE(svid.ok());
  auto info = ca_->ValidateX509SVID(svid->cert_pem);
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_EQ(info->spiffe_id, kAgent);
  EXPECT_EQ(info->instance, "inst-1");
  EXPECT_EQ(info->serial_hex, svid->serial_hex);
  EXPECT_EQ(info->ca_kid, svid->ca_kid);
  EXPECT_EQ(info->expires_at_s, svid->expires_at_s);
}

TEST_F(X509SvidTest, ValidateRefusesExpiredForeignGarbageAndRevoked) {
  auto svid = ca_->IssueX509SVID({kAgent, "inst-1"}, std::chrono::hours(1));
  ASSERT_TRUE(svid.ok());
  // Another node's CA (same trust domain name, different key).
  TempDir other_dir;
  auto other = NodeCA::Open(CaOptions(other_dir.path(), clock_));
  ASSERT_TRUE(other.ok());
  auto foreign = (*other)->IssueX509SVID(kAgent, std::chrono::hours(1));
  ASSERT_TRUE(foreign.ok());
  Status s = ca_->ValidateX509SVID(foreign->cert_pem).status();
  EXPECT_TRUE(absl::IsUnauthenticated(s));
  EXPECT_THAT(s.message(), HasSubstr("untrusted"));
  auto r = OpensslVerify(ca_->TrustBundlePem(), foreign->cert_pem);
  EXPECT_NE(r.exit_code, 0) << r.output;

  s = ca_->ValidateX509SVID("garbage").status();
  EXPECT_THAT(s.message(), HasSubstr("malformed"));
  // The CA certificate itself is not an SVID.
  s = ca_->ValidateX509SVID(ca_->TrustBundlePem()).status();
  EXPECT_THAT(s.message(), HasSubstr("not an SVID"));

  ASSERT_TRUE(revoked_.RevokeInstance(kAgent, "inst-1", clock_.NowS()).ok());
  s = ca_->ValidateX509SVID(svid->cert_pem).status();
  EXPECT_TRUE(absl::IsUnauthenticated(s));
  EXPECT_THAT(s.message(), HasSubstr("revoked"));
  EXPECT_TRUE(absl::IsPermissionDenied(
      ca_->IssueX509SVID({kAgent, "inst-1"}, std::chrono::hours(1)).status()));

  auto other_inst =
      ca_->IssueX509SVID({kAgent, "inst-2"}, std::chrono::hours(1));
  ASSERT_TRUE(other_inst.ok());
  clock_.Advance(3601);
  s = ca_->ValidateX509SVID(other_inst->cert_pem).status();
  EXPECT_THAT(s.message(), HasSubstr("untrusted: certificate has expired"));
  r = OpensslVerify(ca_->TrustBundlePem(), other_inst->cert_pem,
                    /*at_fake_time=*/true);
  EXPECT_NE(r.exit_code, 0) << r.output;
  EXPECT_THAT(r.output, HasSubstr("certificate has expired"));
}

TEST_F(X509SvidTest, SubjectCutoffRefusesOlderSvidsAndTheSameSecond) {
  auto before = ca_->IssueX509SVID({kAgent, "inst-1"}, std::chrono::hours(1));
  ASSERT_TRUE(before.ok());
  ASSERT_TRUE(revoked_.RevokeSubjectBefore(kAgent, clock_.NowS()).ok());
  EXPECT_THAT(ca_->ValidateX509SVID(before->cert_pem).status().message(),
              HasSubstr("revoked"));
  EXPECT_TRUE(absl::IsPermissionDenied(
      ca_->IssueX509SVID({kAgent, "inst-2"}, std::chrono::hours(1)).status()));
  clock_.Advance(1);
  auto after = ca_->IssueX509SVID({kAgent, "inst-2"}, std::chrono::hours(1));
  ASSERT_TRUE(after.ok()) << after.status();
  EXPECT_TRUE(ca_->ValidateX509SVID(after->cert_pem).ok());
}

}  // namespace
}  // namespace aikernel::identity
