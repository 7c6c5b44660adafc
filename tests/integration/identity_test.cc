// Identity through the real aikerneld: the trust bundle (aictl identity
// bundle, usable as openssl's CA file), CA rotation (operators only, audited),
// SVIDs refused to every process the daemon did not spawn, JWT-SVID
// validation as a result (expired, wrong audience, tampered, unknown
// signer), and the [identity] configuration.
//
// Tokens and certificates for the validation tests are minted by a NodeCA
// opened on a *copy* of the daemon's keys directory: the same CA key, so
// the daemon's bundle trusts them, while the daemon's own files are left
// alone. (Issuing through the daemon needs an agent the daemon spawned; the
// kernel-level test tests/kernel/identity_calls_test.cc does that through
// ConnectionTable::RegisterAgent.)
#include <unistd.h>

#include <filesystem>

#include "identity/ca.h"
#include "integration/helpers.h"

namespace aikernel::testing {
namespace {

using nlohmann::json;

// A NodeCA over a copy of `d`'s keys at time `now_s`.
std::unique_ptr<identity::NodeCA> CopyOfDaemonCa(const DaemonProcess& d, const TempDir& tmp,
                                                 const std::string& td, int64_t now_s) {
  namespace fs = std::filesystem;
  const std::string copy = tmp.path() + "/keys-copy-" + std::to_string(now_s);
  fs::create_directory(copy);
  fs::permissions(copy, fs::perms::owner_all);
  for (const auto& e : fs::directory_iterator(d.state_dir() + "/keys")) {
    fs::copy_file(e.path(), copy + "/" + e.path().filename().string());
  }
  identity::NodeCA::Options o;
  o.keys_dir = copy;
  o.trust_domain = td;
  o.now_ns = [now_s] { return now_s * 1'000'000'000; };
  auto ca = identity::NodeCA::Open(o);
  if (!ca.ok()) {
    ADD_FAILURE() << "NodeCA on a copy of the daemon's keys: " << ca.status();
    return nullptr;
  }
  return std::move(*ca);
}

int64_t NowS() { return static_cast<int64_t>(time(nullptr)); }

// A daemon with the default configuration whose socket uid 65534 may open
// too (NobodyCanConnect), started for each test.
class IdentityDaemon : public ::testing::Test {
 protected:
  void SetUp() override {
    REQUIRE_ROOT();
    d.WriteConfig(NobodyCanConnect());
    ASSERT_TRUE(d.Start());
  }
  TempDir tmp;
  DaemonProcess d{tmp.path()};
};

TEST_F(IdentityDaemon, BundleIsForOperatorsAndVerifiesSvidsWithOpenssl) {

  CmdResult pem = RunAictl({"--socket", d.socket(), "identity", "bundle"});
  ASSERT_EQ(pem.exit_code, 0) << pem.Describe();
  EXPECT_EQ(pem.out.rfind("-----BEGIN CERTIFICATE-----", 0), 0u) << pem.out;
  CmdResult as_nobody =
      RunAictl({"--socket", d.socket(), "identity", "bundle"}, {.as_nobody = true});
  EXPECT_EQ(as_nobody.exit_code, 3) << "the shipped policy gives the bundle to operators\n"
                                    << as_nobody.Describe();
  EXPECT_NE(as_nobody.err.find("default-deny"), std::string::npos) << as_nobody.Describe();

  CmdResult jwks = RunAictl({"--socket", d.socket(), "identity", "bundle", "--jwks"});
  ASSERT_EQ(jwks.exit_code, 0) << jwks.Describe();
  json keys = ParseJson(jwks.out);
  ASSERT_EQ(keys["keys"].size(), 1u) << jwks.out;
  EXPECT_EQ(keys["keys"][0]["alg"], "ES256");
  EXPECT_EQ(keys["keys"][0]["kty"], "EC");

  CmdResult full = AictlJson(d, {"identity", "bundle"});
  ASSERT_EQ(full.exit_code, 0) << full.Describe();
  json b = ParseJson(full.out);
  EXPECT_EQ(b["trust_domain"], "it-node") << "default: the node name";
  ASSERT_EQ(b["cas"].size(), 1u);
  EXPECT_EQ(b["cas"][0]["kid"], keys["keys"][0]["kid"]);
  EXPECT_TRUE(b["cas"][0]["active"].get<bool>());

  // An SVID from this CA (minted on a copy of its keys) verifies against
  // `aictl identity bundle` with the openssl CLI, exactly as documented.
  auto ca = CopyOfDaemonCa(d, tmp, "it-node", NowS());
  ASSERT_NE(ca, nullptr);
  auto svid = ca->IssueX509SVID(identity::Subject{"spiffe://it-node/agent/alpha", "i-1"},
                                std::chrono::minutes(10));
  ASSERT_TRUE(svid.ok()) << svid.status();
  const std::string cert = tmp.path() + "/svid.pem", bundle = tmp.path() + "/bundle.pem";
  WriteFile(cert, svid->cert_pem);
  WriteFile(bundle, pem.out);
  CmdResult v = RunCommand({"/usr/bin/openssl", "verify", "-CAfile", bundle, cert});
  EXPECT_EQ(v.exit_code, 0) << v.Describe();
  v = RunCommand({"/bin/bash", "-c",
                  "openssl verify -CAfile <(" AIK_AICTL_PATH " --socket '" + d.socket() +
                      "' identity bundle) '" + cert + "'"});
  EXPECT_EQ(v.exit_code, 0) << v.Describe();

  // The bundle reads are in the ledger.
  auto c = ConnectTo(d);
  ASSERT_NE(c, nullptr);
  AuditFilter f;
  f.action = "identity.bundle";
  std::vector<AuditRecord> recs = Query(*c, f);
  ASSERT_GE(recs.size(), 4u);
  EXPECT_EQ(recs[0].principal, "operator:0");
  EXPECT_EQ(recs[0].decision, Decision::kAllow);
  EXPECT_EQ(recs[0].resource, "trust-domain:it-node");
  EXPECT_EQ(recs[0].rule_ids, std::vector<std::string>{"default.operators-administer"});
  EXPECT_EQ(recs[1].principal, "user:65534");
  EXPECT_EQ(recs[1].decision, Decision::kDeny);
  EXPECT_EQ(recs[1].rule_ids, std::vector<std::string>{"default-deny"});
}

// docs/identity.md's JWT recipe, run as written: scripts/verify-jwt-svid
// (python3 standard library + the openssl CLI) with `aictl identity bundle
// --jwks` accepts a JWT-SVID of this node and refuses a tampered one and
// one for another audience.
TEST_F(IdentityDaemon, AJwtSvidVerifiesWithTheJwksPythonAndOpenssl) {
  CmdResult jwks = RunAictl({"--socket", d.socket(), "identity", "bundle", "--jwks"});
  ASSERT_EQ(jwks.exit_code, 0) << jwks.Describe();
  const std::string jwks_file = tmp.path() + "/jwks.json";
  WriteFile(jwks_file, jwks.out);
  auto ca = CopyOfDaemonCa(d, tmp, "it-node", NowS());
  ASSERT_NE(ca, nullptr);
  auto jwt = ca->IssueJWTSVID(identity::Subject{"spiffe://it-node/agent/alpha", "i-1"}, {"svc"},
                              std::chrono::minutes(5));
  ASSERT_TRUE(jwt.ok()) << jwt.status();
  auto verify = [&](const std::string& token, const std::string& aud) {
    return RunCommand({"/bin/bash", "-c",
                       "printf %s '" + token + "' | " AIK_SOURCE_DIR "/scripts/verify-jwt-svid '" +
                           jwks_file + "' '" + aud + "'"});
  };
  CmdResult ok = verify(jwt->token, "svc");
  EXPECT_EQ(ok.exit_code, 0) << ok.Describe();
  EXPECT_EQ(ok.out, "spiffe://it-node/agent/alpha\n") << ok.Describe();
  // The signature's first byte changed (its first base64url character
  // carries 6 bits of it; the last one would be partly padding).
  std::string tampered = jwt->token;
  char& c = tampered[tampered.rfind('.') + 1];
  c = c == 'A' ? 'B' : 'A';
  CmdResult bad = verify(tampered, "svc");
  EXPECT_EQ(bad.exit_code, 1) << bad.Describe();
  EXPECT_EQ(bad.out.rfind("refused: bad signature", 0), 0u) << bad.Describe();
  CmdResult other = verify(jwt->token, "elsewhere");
  EXPECT_EQ(other.exit_code, 1) << other.Describe();
  EXPECT_EQ(other.out.rfind("refused: wrong audience", 0), 0u) << other.Describe();
}

TEST_F(IdentityDaemon, ProcessesTheDaemonDidNotSpawnAreNeverAgentsAndGetNoSvid) {

  // This test process (root): an operator, never an agent.
  auto c = ConnectTo(d);
  ASSERT_NE(c, nullptr);
  auto me = c->Whoami();
  ASSERT_TRUE(me.ok()) << me.status().ToString();
  EXPECT_EQ(me->principal.kind, PrincipalKind::kOperator);
  EXPECT_TRUE(me->principal.spiffe_id.empty());
  auto x = c->FetchX509SVID();
  ASSERT_FALSE(x.ok());
  EXPECT_EQ(x.status().code(), StatusCode::kPermissionDenied) << x.status().ToString();
  EXPECT_NE(x.status().message().find("default.svids-only-for-self"), std::string::npos)
      << x.status().ToString();
  auto j = c->FetchJWTSVID({"svc"});
  ASSERT_FALSE(j.ok());
  EXPECT_EQ(j.status().code(), StatusCode::kPermissionDenied);

  // uid 65534: a user, never an agent, whatever it asks.
  CmdResult who = AictlJson(d, {"whoami"}, {.as_nobody = true});
  ASSERT_EQ(who.exit_code, 0) << who.Describe();
  json w = ParseJson(who.out);
  EXPECT_EQ(w["principal"]["kind"], "user");
  EXPECT_EQ(w["principal"]["id"], "user:65534");

  AuditFilter f;
  f.action = "identity.fetch_x509";
  std::vector<AuditRecord> recs = Query(*c, f);
  ASSERT_EQ(recs.size(), 1u);
  EXPECT_EQ(recs[0].decision, Decision::kDeny);
  EXPECT_EQ(recs[0].principal, "operator:0");
  EXPECT_EQ(recs[0].resource, "spiffe-id:none");
  EXPECT_EQ(recs[0].rule_ids, std::vector<std::string>{"default.svids-only-for-self"});
  EXPECT_EQ(recs[0].code, static_cast<int>(StatusCode::kPermissionDenied));
}

TEST_F(IdentityDaemon, RotateCaIsForOperatorsAndKeepsTheOldCaDuringTheOverlap) {

  CmdResult denied =
      RunAictl({"--socket", d.socket(), "identity", "rotate-ca"}, {.as_nobody = true});
  EXPECT_EQ(denied.exit_code, 3) << denied.Describe();
  EXPECT_NE(denied.err.find("default-deny"), std::string::npos) << denied.Describe();

  CmdResult before = AictlJson(d, {"identity", "bundle"});
  json b0 = ParseJson(before.out);
  const std::string old_kid = b0["cas"][0]["kid"];
  CmdResult r = AictlJson(d, {"identity", "rotate-ca"});
  ASSERT_EQ(r.exit_code, 0) << r.Describe();
  json rot = ParseJson(r.out);
  EXPECT_EQ(rot["previous_kid"], old_kid);
  EXPECT_NE(rot["kid"], old_kid);
  // The old CA issued nothing through the daemon, so it has nothing to
  // cover and leaves the bundle at once (docs/identity.md, Rotation); the
  // overlap with outstanding SVIDs is tested in identity_calls_test.
  CmdResult after = AictlJson(d, {"identity", "bundle"});
  json b1 = ParseJson(after.out);
  EXPECT_EQ(b1["cas"][0]["kid"], rot["kid"]);
  EXPECT_TRUE(b1["cas"][0]["active"].get<bool>());

  // Survives a restart.
  ASSERT_EQ(d.Stop(), 0);
  ASSERT_TRUE(d.Start());
  CmdResult again = AictlJson(d, {"identity", "bundle"});
  EXPECT_EQ(ParseJson(again.out)["cas"][0]["kid"], rot["kid"]) << again.Describe();

  auto c = ConnectTo(d);
  ASSERT_NE(c, nullptr);
  AuditFilter f;
  f.action = "identity.rotate_ca";
  std::vector<AuditRecord> recs = Query(*c, f);
  ASSERT_EQ(recs.size(), 2u);
  EXPECT_EQ(recs[0].principal, "user:65534");
  EXPECT_EQ(recs[0].decision, Decision::kDeny);
  EXPECT_EQ(recs[1].principal, "operator:0");
  EXPECT_EQ(recs[1].decision, Decision::kAllow);
  EXPECT_EQ(recs[1].code, 0);
}

TEST(Identity, RefusedTokensAreResultsAndAudited) {
  TempDir tmp;
  DaemonProcess d(tmp.path());
  d.WriteConfig(DaemonConfig{});
  ASSERT_TRUE(d.Start());
  auto c = ConnectTo(d);
  ASSERT_NE(c, nullptr);

  const int64_t now = NowS();
  auto ca = CopyOfDaemonCa(d, tmp, "it-node", now);
  ASSERT_NE(ca, nullptr);
  identity::Subject alpha{"spiffe://it-node/agent/alpha", "i-1"};
  auto good = ca->IssueJWTSVID(alpha, {"svc"}, std::chrono::minutes(5));
  ASSERT_TRUE(good.ok()) << good.status();

  auto v = c->ValidateJWTSVID(good->token, "svc");
  ASSERT_TRUE(v.ok()) << v.status().ToString();
  EXPECT_TRUE(v->valid) << v->reason;
  EXPECT_EQ(v->spiffe_id, alpha.spiffe_id);
  EXPECT_EQ(v->instance_id, "i-1");
  EXPECT_EQ(v->jti, good->jti);

  auto expect_refused = [&](const std::string& token, const std::string& aud,
                            const std::string& prefix) {
    auto r = c->ValidateJWTSVID(token, aud);
    ASSERT_TRUE(r.ok()) << "a refused token is a result, not a call error: "
                        << r.status().ToString();
    EXPECT_FALSE(r->valid);
    EXPECT_EQ(r->reason.rfind(prefix, 0), 0u) << r->reason;
    EXPECT_TRUE(r->spiffe_id.empty());
  };
  expect_refused(good->token, "other-svc", "wrong audience:");
  std::string tampered = good->token;
  size_t dot = tampered.find('.');
  tampered[dot + 3] = tampered[dot + 3] == 'x' ? 'y' : 'x';
  auto t = c->ValidateJWTSVID(tampered, "svc");
  ASSERT_TRUE(t.ok());
  EXPECT_FALSE(t->valid);
  EXPECT_TRUE(t->reason.rfind("bad signature:", 0) == 0 || t->reason.rfind("malformed:", 0) == 0)
      << t->reason;
  // Issued an hour ago with a five-minute lifetime.
  auto old_ca = CopyOfDaemonCa(d, tmp, "it-node", now - 3600);
  ASSERT_NE(old_ca, nullptr);
  auto expired = old_ca->IssueJWTSVID(alpha, {"svc"}, std::chrono::minutes(5));
  ASSERT_TRUE(expired.ok()) << expired.status();
  expect_refused(expired->token, "svc", "expired:");
  expect_refused("eyJhbGciOiJub25lIn0.e30.", "svc", "");  // alg none: refused, any reason
  auto empty_aud = c->ValidateJWTSVID(good->token, "");
  EXPECT_EQ(empty_aud.status().code(), StatusCode::kInvalidArgument);

  // Every refusal is a ledger record with UNAUTHENTICATED as its outcome.
  AuditFilter f;
  f.action = "identity.validate_jwt";
  std::vector<AuditRecord> recs = Query(*c, f);
  ASSERT_EQ(recs.size(), 6u);
  EXPECT_EQ(recs[0].code, 0);
  for (size_t i = 1; i < 5; ++i) {
    EXPECT_EQ(recs[i].code, static_cast<int>(StatusCode::kUnauthenticated)) << i;
    EXPECT_EQ(recs[i].decision, Decision::kAllow);
  }
  EXPECT_EQ(recs[5].code, static_cast<int>(StatusCode::kInvalidArgument));
  EXPECT_EQ(recs[1].resource, "jwt-audience:other-svc");
}

TEST(Identity, TrustDomainAndTtlsComeFromTheConfig) {
  TempDir tmp;
  DaemonProcess d(tmp.path());
  d.WriteConfigText(
      "[node]\nname = \"Node_A.Example\"\n[identity]\nx509_svid_ttl = \"10m\"\n");
  ASSERT_TRUE(d.Start());
  CmdResult b = AictlJson(d, {"identity", "bundle"});
  ASSERT_EQ(b.exit_code, 0) << b.Describe();
  EXPECT_EQ(ParseJson(b.out)["trust_domain"], "node_a.example")
      << "the node name made SPIFFE-valid";
  ASSERT_EQ(d.Stop(), 0);

  // Another trust domain over the same keys: refused with exit 78 naming
  // the key, the CA files left alone.
  d.WriteConfigText("[identity]\ntrust_domain = \"other.example\"\n");
  DaemonProcess::Exit e = d.RunToExit({"--foreground", "--config", d.config_path(),
                                       "--state-dir", d.state_dir(), "--socket", d.socket()});
  EXPECT_EQ(e.code, 78) << e.log;
  EXPECT_FALSE(e.became_ready);
  EXPECT_NE(e.log.find("identity.trust_domain"), std::string::npos) << e.log;

  // Not a SPIFFE trust domain.
  TempDir tmp2;
  DaemonProcess d2(tmp2.path());
  d2.WriteConfigText("[identity]\ntrust_domain = \"Bad Domain\"\n");
  e = d2.RunToExit({"--foreground", "--config", d2.config_path(), "--state-dir",
                    d2.state_dir(), "--socket", d2.socket()});
  EXPECT_EQ(e.code, 78) << e.log;
  EXPECT_NE(e.log.find(d2.config_path() + ":2:"), std::string::npos) << e.log;
  EXPECT_NE(e.log.find("identity.trust_domain"), std::string::npos) << e.log;

  // TTLs that do not fit together.
  d2.WriteConfigText("[identity]\nx509_svid_ttl = \"48h\"\n");
  e = d2.RunToExit({"--foreground", "--config", d2.config_path(), "--state-dir",
                    d2.state_dir(), "--socket", d2.socket()});
  EXPECT_EQ(e.code, 78) << e.log;
  EXPECT_NE(e.log.find("identity.x509_svid_ttl: must not exceed identity.max_svid_ttl"),
            std::string::npos)
      << e.log;
}

// Operators (issue 4, item 4): the principal comes from the peer's uid and
// groups; the admin group comes from the configuration; `aictl whoami`
// shows principal, uid/gid, groups and whether (and why) it is an admin.
TEST_F(IdentityDaemon, WhoamiShowsGroupsAndWhetherTheCallerIsAnAdmin) {

  CmdResult root = AictlJson(d, {"whoami"});
  ASSERT_EQ(root.exit_code, 0) << root.Describe();
  json p = ParseJson(root.out)["principal"];
  EXPECT_EQ(p["id"], "operator:0");
  EXPECT_EQ(p["admin"], true);
  EXPECT_EQ(p["admin_via"], "uid 0");
  EXPECT_EQ(p["admin_gid"], -1) << "no admin_group configured";
  EXPECT_TRUE(p["groups"].is_array());

  CmdResult nobody = AictlJson(d, {"whoami"}, {.as_nobody = true});
  ASSERT_EQ(nobody.exit_code, 0) << nobody.Describe();
  p = ParseJson(nobody.out)["principal"];
  EXPECT_EQ(p["id"], "user:65534");
  EXPECT_EQ(p["uid"], 65534);
  EXPECT_EQ(p["gid"], 65534);
  EXPECT_EQ(p["admin"], false);
  EXPECT_FALSE(p.contains("admin_via"));
  CmdResult text = RunAictl({"--socket", d.socket(), "whoami"}, {.as_nobody = true});
  ASSERT_EQ(text.exit_code, 0) << text.Describe();
  EXPECT_NE(text.out.find("no (only uid 0 is; daemon.admin_group is not set)"),
            std::string::npos)
      << text.out;

  // The admin group from the configuration, applied by a reload.
  d.WriteConfig(NobodyCanConnect("65534"));
  ASSERT_EQ(AictlJson(d, {"reload"}).exit_code, 0);
  nobody = AictlJson(d, {"whoami"}, {.as_nobody = true});
  ASSERT_EQ(nobody.exit_code, 0) << nobody.Describe();
  p = ParseJson(nobody.out)["principal"];
  EXPECT_EQ(p["id"], "operator:65534");
  EXPECT_EQ(p["admin"], true);
  EXPECT_EQ(p["admin_via"], "admin group 65534");
  EXPECT_EQ(p["admin_gid"], 65534);
  text = RunAictl({"--socket", d.socket(), "whoami"}, {.as_nobody = true});
  EXPECT_NE(text.out.find("yes (admin group 65534)"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("groups"), std::string::npos) << text.out;
}

}  // namespace
}  // namespace aikernel::testing
