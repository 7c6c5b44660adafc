// Who may do what: a non-operator (uid 65534) is denied Admin by the builtin
// rule and the denial is audited; admin_group makes it an operator after a
// reload (aictl reload and SIGHUP); socket and key file modes; message size
// limits.
#include <sys/stat.h>
#include <unistd.h>

#include <csignal>

#include "integration/helpers.h"

namespace aikernel::testing {
namespace {

using nlohmann::json;

TEST(Access, NonOperatorIsDeniedAdminByTheDefaultRuleAndTheDenialIsAudited) {
  REQUIRE_ROOT();
  TempDir tmp;
  DaemonProcess d(tmp.path());
  d.WriteConfig(NobodyCanConnect());
  ASSERT_TRUE(d.Start());

  CmdResult r = AictlJson(d, {"whoami"}, {.as_nobody = true});
  ASSERT_EQ(r.exit_code, 0) << r.Describe();
  json who = ParseJson(r.out);
  EXPECT_EQ(who["principal"]["id"], "user:65534");
  EXPECT_EQ(who["principal"]["kind"], "user");
  EXPECT_EQ(who["principal"]["uid"], 65534);
  EXPECT_EQ(who["principal"]["gid"], 65534);
  uint64_t whoami_seq = who["audit_sequence"].get<uint64_t>();

  r = RunAictl({"--socket", d.socket(), "status"}, {.as_nobody = true});
  EXPECT_EQ(r.exit_code, 3) << "denied must exit 3\n" << r.Describe();
  // The shipped policy set permits nothing but Whoami to a non-operator: the
  // denial names Cedar's default deny (was builtin/default-deny before the
  // Cedar authorizer).
  EXPECT_NE(r.err.find("default-deny"), std::string::npos) << r.Describe();
  EXPECT_NE(r.err.find("permission denied"), std::string::npos) << r.Describe();

  r = RunAictl({"--socket", d.socket(), "ping"}, {.as_nobody = true});
  EXPECT_EQ(r.exit_code, 3) << r.Describe();
  r = RunAictl({"--socket", d.socket(), "audit", "tail"}, {.as_nobody = true});
  EXPECT_EQ(r.exit_code, 3) << "a non-operator must not read the ledger\n" << r.Describe();

  // The SDK, as root, sees the same: the wire code and the rule.
  auto c = ConnectTo(d);
  ASSERT_NE(c, nullptr);
  AuditFilter f;
  f.principal = "user:65534";
  std::vector<AuditRecord> recs = Query(*c, f);
  ASSERT_EQ(recs.size(), 4u);
  EXPECT_EQ(recs[0].sequence, whoami_seq);
  EXPECT_EQ(recs[0].action, "kernel.whoami");
  EXPECT_EQ(recs[0].decision, Decision::kAllow);
  EXPECT_EQ(recs[0].code, 0);
  const char* denied_actions[] = {"admin.status", "admin.ping", "audit.query"};
  for (size_t i = 1; i < recs.size(); ++i) {
    EXPECT_EQ(recs[i].action, denied_actions[i - 1]);
    EXPECT_EQ(recs[i].decision, Decision::kDeny);
    EXPECT_EQ(recs[i].code, static_cast<int>(StatusCode::kPermissionDenied));
    EXPECT_EQ(recs[i].rule_ids, std::vector<std::string>{"default-deny"});
  }
  f.principal.clear();
  f.decision = Decision::kDeny;
  EXPECT_EQ(Query(*c, f).size(), 3u) << "only the three non-operator Admin calls are denials";

  auto st = c->Status();
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(st->calls.denied, 3u);
  c.reset();
  EXPECT_EQ(d.Stop(), 0) << d.Log();
}

TEST(Access, SocketOutsideTheGroupRefusesTheConnectionAndAictlExits3) {
  REQUIRE_ROOT();
  TempDir tmp;
  DaemonProcess d(tmp.path());  // default socket_group: the daemon's (root)
  ASSERT_TRUE(d.Start());
  CmdResult r = RunAictl({"--socket", d.socket(), "whoami"}, {.as_nobody = true});
  EXPECT_EQ(r.exit_code, 3) << r.Describe();
  EXPECT_NE(r.err.find(d.socket()), std::string::npos) << "must name the socket\n" << r.Describe();
  EXPECT_EQ(d.Stop(), 0) << d.Log();
}

TEST(Access, AdminGroupMakesAnOperatorAfterAictlReloadAndAfterSighup) {
  REQUIRE_ROOT();
  TempDir tmp;
  DaemonProcess d(tmp.path());
  d.WriteConfig(NobodyCanConnect());
  ASSERT_TRUE(d.Start());
  ASSERT_EQ(RunAictl({"--socket", d.socket(), "status"}, {.as_nobody = true}).exit_code, 3);

  // aictl reload (Admin.Reload) by root.
  d.WriteConfig(NobodyCanConnect("65534"));
  CmdResult r = AictlJson(d, {"reload"});
  ASSERT_EQ(r.exit_code, 0) << r.Describe();
  json rl = ParseJson(r.out);
  EXPECT_EQ(rl["applied"], json::array({"daemon.admin_group"})) << r.out;
  EXPECT_EQ(rl["needs_restart"], json::array()) << r.out;

  r = AictlJson(d, {"whoami"}, {.as_nobody = true});
  ASSERT_EQ(r.exit_code, 0) << r.Describe();
  EXPECT_EQ(ParseJson(r.out)["principal"]["kind"], "operator") << r.out;
  r = AictlJson(d, {"status"}, {.as_nobody = true});
  EXPECT_EQ(r.exit_code, 0) << "uid 65534 in admin_group must be an operator\n" << r.Describe();

  // SIGHUP: take the group away again; the daemon says READY=1 once reloaded.
  d.WriteConfig(NobodyCanConnect());
  d.DrainNotifications();
  d.Signal(SIGHUP);
  ASSERT_TRUE(d.WaitForNotification("READY=1"));
  r = RunAictl({"--socket", d.socket(), "status"}, {.as_nobody = true});
  EXPECT_EQ(r.exit_code, 3) << "after SIGHUP without admin_group\n" << r.Describe();

  // ... and give it back by SIGHUP.
  d.WriteConfig(NobodyCanConnect("65534"));
  d.DrainNotifications();
  d.Signal(SIGHUP);
  ASSERT_TRUE(d.WaitForNotification("READY=1"));
  r = RunAictl({"--socket", d.socket(), "status"}, {.as_nobody = true});
  EXPECT_EQ(r.exit_code, 0) << "after SIGHUP with admin_group\n" << r.Describe();
  EXPECT_NE(d.Log().find("admin_group"), std::string::npos) << "reload must log what changed\n"
                                                            << d.Log();

  // A reload with a broken file keeps the running configuration.
  d.WriteConfigText("[daemon]\nno_such_key = 1\n");
  r = RunAictl({"--socket", d.socket(), "reload"});
  EXPECT_NE(r.exit_code, 0) << r.Describe();
  EXPECT_NE(r.err.find("no_such_key"), std::string::npos) << r.Describe();
  r = RunAictl({"--socket", d.socket(), "status"}, {.as_nobody = true});
  EXPECT_EQ(r.exit_code, 0) << "a failed reload must keep admin_group\n" << r.Describe();
  EXPECT_EQ(d.Stop(), 0) << d.Log();
}

TEST(Access, SocketModeAndGroupAndKeyFileModes) {
  TempDir tmp;
  {
    DaemonProcess d(tmp.path() + "");
    ASSERT_TRUE(d.Start());
    struct stat sb {};
    ASSERT_EQ(lstat(d.socket().c_str(), &sb), 0);
    EXPECT_TRUE(S_ISSOCK(sb.st_mode));
    EXPECT_EQ(sb.st_mode & 07777, 0660u) << std::oct << (sb.st_mode & 07777);
    EXPECT_EQ(sb.st_gid, getegid());
    ASSERT_EQ(stat((d.state_dir() + "/keys/node.key").c_str(), &sb), 0);
    EXPECT_EQ(sb.st_mode & 07777, 0600u) << std::oct << (sb.st_mode & 07777);
    ASSERT_EQ(stat((d.state_dir() + "/keys").c_str(), &sb), 0);
    EXPECT_EQ(sb.st_mode & 077, 0u) << "keys/ must not be open to group or others: " << std::oct
                                    << (sb.st_mode & 07777);
    ASSERT_EQ(stat(d.audit_db().c_str(), &sb), 0);
    EXPECT_EQ(sb.st_mode & 07, 0u) << "audit.db must not be readable by others";
    EXPECT_EQ(d.Stop(), 0) << d.Log();
  }
  TempDir tmp2;
  DaemonProcess d(tmp2.path());
  d.WriteConfig(DaemonConfig::With("socket_mode = \"0640\"\nsocket_group = \"65534\"\n"));
  ASSERT_TRUE(d.Start());
  struct stat sb {};
  ASSERT_EQ(lstat(d.socket().c_str(), &sb), 0);
  EXPECT_EQ(sb.st_mode & 07777, 0640u) << std::oct << (sb.st_mode & 07777);
  EXPECT_EQ(sb.st_gid, 65534u);
  EXPECT_EQ(d.Stop(), 0) << d.Log();
}

TEST(Access, OversizedRequestIsResourceExhaustedAndLongPingPayloadIsInvalidArgument) {
  TempDir tmp;
  DaemonProcess d(tmp.path());
  d.WriteConfig(DaemonConfig::With("max_message_bytes = 65536\n"));
  ASSERT_TRUE(d.Start());
  auto c = ConnectTo(d);
  ASSERT_NE(c, nullptr);

  auto big = c->Ping(std::string(100000, 'x'));
  ASSERT_FALSE(big.ok());
  EXPECT_EQ(big.status().code(), StatusCode::kResourceExhausted) << big.status().ToString();

  auto p = c->Ping(std::string(5000, 'y'));
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.status().code(), StatusCode::kInvalidArgument) << p.status().ToString();
  EXPECT_NE(p.status().message().find("payload"), std::string::npos) << p.status().ToString();
  // Allowed, failed, audited.
  ASSERT_NE(p.status().audit_sequence(), 0u);
  AuditFilter f;
  f.after_sequence = p.status().audit_sequence() - 1;
  f.limit = 1;
  auto recs = Query(*c, f);
  ASSERT_EQ(recs.size(), 1u);
  EXPECT_EQ(recs[0].action, "admin.ping");
  EXPECT_EQ(recs[0].decision, Decision::kAllow);
  EXPECT_EQ(recs[0].code, static_cast<int>(StatusCode::kInvalidArgument));

  // 4096 bytes is the limit and is fine; the connection survived both errors.
  auto ok = c->Ping(std::string(4096, 'z'));
  ASSERT_TRUE(ok.ok()) << ok.status().ToString();
  EXPECT_EQ(ok->payload.size(), 4096u);
  c.reset();
  EXPECT_EQ(d.Stop(), 0) << d.Log();
}

}  // namespace
}  // namespace aikernel::testing
