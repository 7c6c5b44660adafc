// The Cedar policy engine on the dispatch path, through the real daemon:
// the shipped default set, forbids, hot reload (refused sets keep the old
// one), approvals via aictl, denial messages naming policy ids, and the
// offline aictl policy check / eval.
#include <signal.h>
#include <unistd.h>

#include <filesystem>
#include <thread>

#include "integration/helpers.h"

namespace aikernel::testing {
namespace {

using nlohmann::json;

// A policy store in `dir`/policies with the shipped default.cedar plus
// `extra` as extra.cedar (if not empty).
std::string MakeStore(const TempDir& tmp, const std::string& extra = "",
                      bool with_default = true) {
  std::string dir = tmp.path() + "/policy";
  std::filesystem::create_directories(dir + "/policies");
  if (with_default) {
    WriteFile(dir + "/policies/default.cedar",
              ReadFile(AIK_SOURCE_DIR "/config/policies/default.cedar"));
  }
  if (!extra.empty()) WriteFile(dir + "/policies/extra.cedar", extra);
  return dir;
}

TEST(Policy, DefaultSetLetsOperatorsAdministerAndOthersOnlyWhoami) {
  TempDir tmp;
  DaemonProcess d(tmp.path());
  ASSERT_TRUE(d.Start());
  auto c = ConnectTo(d);
  ASSERT_NE(c, nullptr);
  auto st = c->Status();
  ASSERT_TRUE(st.ok()) << st.status().ToString();
  auto recs = RecordsOf(*c, "admin.status");
  ASSERT_EQ(recs.size(), 1u);
  EXPECT_EQ(recs[0].rule_ids, std::vector<std::string>{"default.operators-administer"});
  auto who = c->Whoami();
  ASSERT_TRUE(who.ok());
  recs = RecordsOf(*c, "kernel.whoami");
  ASSERT_EQ(recs.size(), 1u);
  // Both the builtin and the default set's agent rule could apply; for an
  // operator both the builtin whoami and operators-administer are reasons.
  EXPECT_NE(std::find(recs[0].rule_ids.begin(), recs[0].rule_ids.end(), "builtin.whoami"),
            recs[0].rule_ids.end());
  c.reset();
  EXPECT_EQ(d.Stop(), 0) << d.Log();
}

TEST(Policy, WithNoPolicyFilesEverythingButWhoamiIsDenied) {
  TempDir tmp;
  DaemonProcess d(tmp.path());
  d.set_policy_dir(tmp.path() + "/no-such-dir");
  ASSERT_TRUE(d.Start());
  CmdResult r = AictlJson(d, {"whoami"});
  EXPECT_EQ(r.exit_code, 0) << r.Describe();
  r = RunAictl({"--socket", d.socket(), "status"});
  EXPECT_EQ(r.exit_code, 3) << "even root is denied without policies\n" << r.Describe();
  EXPECT_NE(r.err.find("operator:0 may not call admin.status"), std::string::npos)
      << r.Describe();
  EXPECT_NE(r.err.find("default-deny"), std::string::npos) << r.Describe();
  EXPECT_EQ(d.Stop(), 0) << d.Log();
}

TEST(Policy, AForbidOverridesThePermitAndTheDenialNamesIt) {
  TempDir tmp;
  DaemonProcess d(tmp.path());
  d.set_policy_dir(MakeStore(tmp, R"(
@id("no-ping-today")
forbid(principal, action == Action::"admin.ping", resource);
)"));
  ASSERT_TRUE(d.Start());
  CmdResult r = RunAictl({"--socket", d.socket(), "ping"});
  EXPECT_EQ(r.exit_code, 3) << r.Describe();
  EXPECT_NE(r.err.find("forbidden by policy no-ping-today"), std::string::npos) << r.Describe();
  r = RunAictl({"--socket", d.socket(), "status"});
  EXPECT_EQ(r.exit_code, 0) << "other actions are still permitted\n" << r.Describe();
  auto c = ConnectTo(d);
  ASSERT_NE(c, nullptr);
  auto recs = RecordsOf(*c, "admin.ping");
  ASSERT_EQ(recs.size(), 1u);
  EXPECT_EQ(recs[0].decision, Decision::kDeny);
  EXPECT_EQ(recs[0].rule_ids, std::vector<std::string>{"no-ping-today"});
  c.reset();
  EXPECT_EQ(d.Stop(), 0) << d.Log();
}

TEST(Policy, ContextArgsReachPolicies) {
  TempDir tmp;
  DaemonProcess d(tmp.path());
  d.set_policy_dir(MakeStore(tmp, R"(
@id("only-polite-pings")
forbid(principal, action == Action::"admin.ping", resource)
  unless { context.args.payload like "please*" && context.node == "it-node" &&
           context.time > datetime("2024-01-01") && context.counters.minute < 3 };
)"));
  ASSERT_TRUE(d.Start());
  EXPECT_EQ(RunAictl({"--socket", d.socket(), "ping", "now"}).exit_code, 3);
  EXPECT_EQ(RunAictl({"--socket", d.socket(), "ping", "please"}).exit_code, 0);
  EXPECT_EQ(RunAictl({"--socket", d.socket(), "ping", "please again"}).exit_code, 0);
  // Three pings in this minute already: the rate condition now fails.
  CmdResult r = RunAictl({"--socket", d.socket(), "ping", "please"});
  EXPECT_EQ(r.exit_code, 3) << r.Describe();
  EXPECT_NE(r.err.find("only-polite-pings"), std::string::npos) << r.Describe();
  EXPECT_EQ(d.Stop(), 0) << d.Log();
}

TEST(Policy, ABadSetOnReloadIsRefusedNamingFileLineColAndTheOldSetStays) {
  TempDir tmp;
  DaemonProcess d(tmp.path());
  std::string store = MakeStore(tmp);
  d.set_policy_dir(store);
  ASSERT_TRUE(d.Start());
  ASSERT_EQ(RunAictl({"--socket", d.socket(), "ping"}).exit_code, 0);

  // A forbid that would take effect, plus a file with a syntax error.
  WriteFile(store + "/policies/extra.cedar",
            "@id(\"no-ping\") forbid(principal, action == Action::\"admin.ping\", resource);\n");
  WriteFile(store + "/policies/zz-bad.cedar", "permit(principal,\n  action resource);\n");
  CmdResult r = AictlJson(d, {"policy", "reload"});
  EXPECT_EQ(r.exit_code, 1) << r.Describe();
  EXPECT_NE(r.err.find("policies/zz-bad.cedar:2:10"), std::string::npos) << r.Describe();
  EXPECT_NE(r.err.find("running set stays"), std::string::npos) << r.Describe();
  EXPECT_EQ(RunAictl({"--socket", d.socket(), "ping"}).exit_code, 0)
      << "the old set must stay in force";

  // SIGHUP with the same broken set: refused too, still serving.
  d.DrainNotifications();
  d.Signal(SIGHUP);
  ASSERT_TRUE(d.WaitForNotification("READY=1"));
  EXPECT_NE(d.Log().find("zz-bad.cedar:2:10"), std::string::npos) << d.Log();
  EXPECT_EQ(RunAictl({"--socket", d.socket(), "ping"}).exit_code, 0);

  // Fixed: the reload takes, and the forbid is in force.
  std::filesystem::remove(store + "/policies/zz-bad.cedar");
  r = AictlJson(d, {"policy", "reload"});
  ASSERT_EQ(r.exit_code, 0) << r.Describe();
  json j = ParseJson(r.out);
  EXPECT_EQ(j["changed"], true) << r.out;
  EXPECT_EQ(j["digest"].get<std::string>().size(), 64u) << r.out;
  r = RunAictl({"--socket", d.socket(), "ping"});
  EXPECT_EQ(r.exit_code, 3) << r.Describe();
  EXPECT_NE(r.err.find("no-ping"), std::string::npos) << r.Describe();

  // The ledger has each load: the set loaded at start-up, two refusals,
  // then the new set with its digest.
  auto c = ConnectTo(d);
  ASSERT_NE(c, nullptr);
  auto loads = RecordsOf(*c, "policy.load");
  ASSERT_EQ(loads.size(), 4u);
  EXPECT_EQ(loads[0].decision, Decision::kAllow);
  EXPECT_EQ(loads[0].rule_ids.front(), "trigger:start");
  EXPECT_EQ(loads[1].decision, Decision::kDeny);
  EXPECT_EQ(loads[2].decision, Decision::kDeny);
  EXPECT_EQ(loads[3].decision, Decision::kAllow);
  EXPECT_EQ(loads[3].principal, "kernel");
  EXPECT_EQ(loads[3].resource, "policyset:sha256:" + j["digest"].get<std::string>());
  auto reloads = RecordsOf(*c, "policy.reload");
  ASSERT_EQ(reloads.size(), 2u);
  EXPECT_EQ(reloads[0].code, static_cast<int>(StatusCode::kInvalidArgument));
  EXPECT_EQ(reloads[1].code, 0);
  c.reset();
  EXPECT_EQ(d.Stop(), 0) << d.Log();
}

TEST(Policy, StartWithABadSetExitsNamingTheFile) {
  TempDir tmp;
  DaemonProcess d(tmp.path());
  std::string store = MakeStore(tmp, "permit(principal, action, resource) when { 1 + };\n");
  DaemonProcess::Exit e = d.RunToExit({"--foreground", "--config", d.config_path(), "--state-dir",
                                       d.state_dir(), "--socket", d.socket(), "--policy-dir",
                                       store});
  EXPECT_EQ(e.code, 78) << e.log;
  EXPECT_FALSE(e.became_ready);
  EXPECT_NE(e.log.find("extra.cedar:1:"), std::string::npos) << e.log;
}

// Approvals: a permit annotated @approval parks operator pings.
const char kApprovalPolicies[] = R"(
@id("ops-but-ping")
permit(principal is Operator, action, resource) unless { action == Action::"admin.ping" };
@id("ping-needs-a-human") @approval("pings need a second pair of eyes")
permit(principal is Operator, action == Action::"admin.ping", resource);
)";

// Waits until one approval is pending (polls the daemon; no sleeps).
std::optional<Approval> WaitForPending(Client& c) {
  auto deadline = std::chrono::steady_clock::now() + 30s;
  while (std::chrono::steady_clock::now() < deadline) {
    auto l = c.ListApprovals();
    if (!l.ok()) {
      ADD_FAILURE() << l.status().ToString();
      return std::nullopt;
    }
    if (!l->approvals.empty()) return l->approvals.front();
    std::this_thread::yield();
  }
  ADD_FAILURE() << "no approval became pending";
  return std::nullopt;
}

class PolicyApprovals : public ::testing::Test {
 protected:
  void StartDaemon(const std::string& policy_lines = "") {
    d = std::make_unique<DaemonProcess>(tmp.path());
    DaemonConfig cfg;
    cfg.policy = policy_lines;
    d->WriteConfig(cfg);
    std::string store = MakeStore(tmp, kApprovalPolicies, false);
    d->set_policy_dir(store);
    ASSERT_TRUE(d->Start());
    c = ConnectTo(*d);
    ASSERT_NE(c, nullptr);
  }
  void TearDown() override {
    c.reset();
    if (d) {
      EXPECT_EQ(d->Stop(), 0) << d->Log();
    }
  }
  TempDir tmp;
  std::unique_ptr<DaemonProcess> d;
  std::unique_ptr<Client> c;
};

TEST_F(PolicyApprovals, ApprovedViaAictlTheCallRunsAndTheLedgerSaysWho) {
  StartDaemon();
  CmdResult ping;
  std::thread t([&] { ping = RunAictl({"--socket", d->socket(), "ping", "hello"}); });
  auto pending = WaitForPending(*c);
  ASSERT_TRUE(pending.has_value());
  EXPECT_EQ(pending->action, "admin.ping");
  EXPECT_EQ(pending->principal, "operator:0");
  EXPECT_EQ(pending->reason, "pings need a second pair of eyes");

  CmdResult ls = AictlJson(*d, {"approvals", "ls"});
  ASSERT_EQ(ls.exit_code, 0) << ls.Describe();
  json l = ParseJson(ls.out);
  ASSERT_EQ(l["approvals"].size(), 1u) << ls.out;
  EXPECT_EQ(l["approvals"][0]["id"], pending->id);
  CmdResult text = RunAictl({"--socket", d->socket(), "approvals", "ls"});
  EXPECT_NE(text.out.find("pings need a second pair of eyes"), std::string::npos) << text.out;

  CmdResult ok = RunAictl(
      {"--socket", d->socket(), "approvals", "approve", std::to_string(pending->id)});
  EXPECT_EQ(ok.exit_code, 0) << ok.Describe();
  t.join();
  EXPECT_EQ(ping.exit_code, 0) << ping.Describe();

  auto waits = RecordsOf(*c, "approval.request");
  ASSERT_EQ(waits.size(), 1u);
  EXPECT_EQ(waits[0].principal, "operator:0");
  auto decides = RecordsOf(*c, "approval.decide");
  ASSERT_EQ(decides.size(), 1u);
  EXPECT_EQ(decides[0].resource, "approval:" + std::to_string(pending->id));
  auto pings = RecordsOf(*c, "admin.ping");
  ASSERT_EQ(pings.size(), 1u);
  EXPECT_EQ(pings[0].decision, Decision::kAllow);
  EXPECT_EQ(pings[0].rule_ids.front(), "ping-needs-a-human");
  EXPECT_EQ(pings[0].rule_ids.back(),
            "approval:" + std::to_string(pending->id) + ":approved-by:operator:0");
  EXPECT_GT(decides[0].sequence, waits[0].sequence);
}

TEST_F(PolicyApprovals, DeniedViaAictlTheCallerGetsTheReason) {
  StartDaemon();
  CmdResult ping;
  std::thread t([&] { ping = RunAictl({"--socket", d->socket(), "ping"}); });
  auto pending = WaitForPending(*c);
  ASSERT_TRUE(pending.has_value());
  CmdResult no = RunAictl({"--socket", d->socket(), "approvals", "deny",
                           std::to_string(pending->id), "--reason", "not during the freeze"});
  EXPECT_EQ(no.exit_code, 0) << no.Describe();
  t.join();
  EXPECT_EQ(ping.exit_code, 3) << ping.Describe();
  EXPECT_NE(ping.err.find("denied by operator:0: not during the freeze"), std::string::npos)
      << ping.Describe();
  auto pings = RecordsOf(*c, "admin.ping");
  ASSERT_EQ(pings.size(), 1u);
  EXPECT_EQ(pings[0].decision, Decision::kDeny);
  EXPECT_EQ(pings[0].rule_ids.back(),
            "approval:" + std::to_string(pending->id) + ":denied-by:operator:0");
  // Deciding it again: it is no longer waiting.
  CmdResult again = RunAictl(
      {"--socket", d->socket(), "approvals", "approve", std::to_string(pending->id)});
  EXPECT_EQ(again.exit_code, 1) << again.Describe();
  EXPECT_NE(again.err.find("not waiting"), std::string::npos) << again.Describe();
}

TEST_F(PolicyApprovals, NoDecisionBeforeTheTimeoutDenies) {
  StartDaemon("approval_timeout_ms = 300\n");
  CmdResult ping = RunAictl({"--socket", d->socket(), "ping"});
  EXPECT_EQ(ping.exit_code, 3) << ping.Describe();
  EXPECT_NE(ping.err.find("timed out"), std::string::npos) << ping.Describe();
  auto pings = RecordsOf(*c, "admin.ping");
  ASSERT_EQ(pings.size(), 1u);
  EXPECT_EQ(pings[0].decision, Decision::kDeny);
  EXPECT_EQ(pings[0].rule_ids.back(), "approval:1:timed-out");
}

TEST(PolicyOffline, CheckNamesFileLineColAndLints) {
  TempDir tmp;
  std::string good = tmp.path() + "/good.cedar", bad = tmp.path() + "/bad.cedar";
  WriteFile(good, "permit(principal, action == Action::\"admin.pnig\", resource);\n");
  WriteFile(bad, "permit(principal,\n  action resource);\n");
  CmdResult r = RunAictl({"policy", "check", good});
  EXPECT_EQ(r.exit_code, 0) << r.Describe();
  EXPECT_NE(r.err.find("admin.pnig"), std::string::npos) << "unknown action lint\n" << r.Describe();
  r = RunAictl({"policy", "check", good, bad});
  EXPECT_EQ(r.exit_code, 1) << r.Describe();
  EXPECT_NE(r.err.find(bad + ":2:10"), std::string::npos) << r.Describe();
  r = RunAictl({"policy", "check", AIK_SOURCE_DIR "/config/policies", "--schema",
                AIK_SOURCE_DIR "/config/aikernel.cedarschema"});
  EXPECT_EQ(r.exit_code, 0) << "the shipped set must check clean\n" << r.Describe();
}

TEST(PolicyOffline, EvalPrintsDecisionReasonsAndErrors) {
  TempDir tmp;
  const std::string p = tmp.path() + "/p.cedar", e = tmp.path() + "/e.json",
                    q = tmp.path() + "/q.json";
  WriteFile(p, R"(
@id("group-tools") permit(principal in Group::"web", action == Action::"tool.call", resource)
  when { context.args.path like "/srv/*" };
@id("broken") permit(principal, action, resource) when { context.nope };
)");
  WriteFile(e, R"([{"uid":{"type":"Agent","id":"spiffe://n/a"},"attrs":{},
                    "parents":[{"type":"Group","id":"web"}]}])");
  WriteFile(q, R"({"principal":{"type":"Agent","id":"spiffe://n/a"},
                   "action":{"type":"Action","id":"tool.call"},
                   "resource":{"type":"Tool","id":"fs.read"},
                   "context":{"args":{"path":"/srv/x"}}})");
  CmdResult r = RunAictl({"policy", "eval", "--json", "--policies", p, "--entities", e,
                          "--request", q});
  ASSERT_EQ(r.exit_code, 0) << r.Describe();
  json j = ParseJson(r.out);
  EXPECT_EQ(j["decision"], "allow") << r.out;
  EXPECT_EQ(j["reason"], json::array({"group-tools"})) << r.out;
  EXPECT_EQ(j["errors"], json::array({"broken"})) << r.out;
  WriteFile(q, R"({"principal":{"type":"Agent","id":"spiffe://n/a"},
                   "action":{"type":"Action","id":"tool.call"},
                   "resource":{"type":"Tool","id":"fs.read"},
                   "context":{"args":{"path":"/etc/shadow"}}})");
  r = RunAictl({"policy", "eval", "--policies", p, "--entities", e, "--request", q});
  ASSERT_EQ(r.exit_code, 0) << r.Describe();
  EXPECT_NE(r.out.find("decision: deny"), std::string::npos) << r.out;
}

}  // namespace
}  // namespace aikernel::testing
