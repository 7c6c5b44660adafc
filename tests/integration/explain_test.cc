// The policy set on the ledger and `aictl policy explain`, through the real
// daemon: the set loaded at start-up is a policy.load record like every
// reload, and explain ties a call to the set that decided it and shows the
// determining policy's text while that set is in force.
#include <unistd.h>

#include <filesystem>

#include "integration/helpers.h"

namespace aikernel::testing {
namespace {

using nlohmann::json;

std::vector<AuditRecord> Loads(Client& c) { return RecordsOf(c, "policy.load"); }

TEST(PolicyLedger, TheSetLoadedAtStartUpIsRecordedBeforeAnyCall) {
  TempDir tmp;
  DaemonProcess d(tmp.path());
  ASSERT_TRUE(d.Start());
  auto c = ConnectTo(d);
  ASSERT_NE(c, nullptr);
  std::vector<AuditRecord> loads = Loads(*c);
  ASSERT_EQ(loads.size(), 1u);
  EXPECT_EQ(loads[0].sequence, 1u) << "the start-up load comes before every call";
  EXPECT_EQ(loads[0].principal, "kernel");
  EXPECT_EQ(loads[0].decision, Decision::kAllow);
  ASSERT_FALSE(loads[0].rule_ids.empty());
  EXPECT_EQ(loads[0].rule_ids[0], "trigger:start");
  // Its digest is the set's: a reload of the same files gives the same.
  auto r = c->ReloadPolicy();
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(loads[0].resource, "policyset:sha256:" + r->digest);
  EXPECT_FALSE(r->changed);

  // A restart records its own start-up load.
  c.reset();
  ASSERT_EQ(d.Stop(), 0) << d.Log();
  ASSERT_TRUE(d.Start());
  c = ConnectTo(d);
  ASSERT_NE(c, nullptr);
  loads = Loads(*c);
  ASSERT_EQ(loads.size(), 3u);
  EXPECT_EQ(loads[2].rule_ids[0], "trigger:start");
}

TEST(PolicyLedger, ExplainShowsTheDeterminingPolicyUntilTheSetChanges) {
  TempDir tmp;
  const std::string dir = tmp.path() + "/policy";
  std::filesystem::create_directories(dir + "/policies");
  const std::string file = dir + "/policies/default.cedar";
  WriteFile(file, ReadFile(AIK_SOURCE_DIR "/config/policies/default.cedar"));
  DaemonProcess d(tmp.path());
  d.set_policy_dir(dir);
  ASSERT_TRUE(d.Start());
  auto c = ConnectTo(d);
  ASSERT_NE(c, nullptr);
  auto ping = c->Ping("x");
  ASSERT_TRUE(ping.ok()) << ping.status().ToString();
  const uint64_t seq = ping->audit_sequence;
  ASSERT_GT(seq, 0u);

  CmdResult x = AictlJson(d, {"policy", "explain", std::to_string(seq)});
  ASSERT_EQ(x.exit_code, 0) << x.Describe();
  json j = ParseJson(x.out);
  EXPECT_EQ(j["record"]["sequence"], seq);
  EXPECT_EQ(j["record"]["action"], "admin.ping");
  EXPECT_EQ(j["record"]["principal"], "operator:" + std::to_string(getuid()));
  EXPECT_EQ(j["decided_by"], "policy");
  EXPECT_EQ(j["determining_policies"], json({"default.operators-administer"}));
  EXPECT_EQ(j["policy_load_sequence"], 1);
  EXPECT_EQ(j["policy_set_changed"], false);
  EXPECT_EQ(j["policy_set_digest"], j["current_policy_set_digest"]);
  ASSERT_EQ(j["policies"].size(), 1u) << j;
  const json& p = j["policies"][0];
  EXPECT_EQ(p["role"], "determining");
  EXPECT_EQ(p["file"], file);
  EXPECT_EQ(p["text"],
            "@id(\"default.operators-administer\")\n"
            "permit(principal is Operator, action, resource);");
  // Its line is where the policy starts in the file.
  const std::string text = ReadFile(file);
  const size_t at = text.find("@id(\"default.operators-administer\")");
  ASSERT_NE(at, std::string::npos);
  EXPECT_EQ(p["line"], 1 + std::count(text.begin(), text.begin() + at, '\n'));

  CmdResult human = RunAictl({"--socket", d.socket(), "policy", "explain", std::to_string(seq)});
  ASSERT_EQ(human.exit_code, 0) << human.Describe();
  EXPECT_NE(human.out.find("still in force"), std::string::npos) << human.out;
  EXPECT_NE(human.out.find("permit(principal is Operator, action, resource);"), std::string::npos)
      << human.out;

  // A different set is loaded: the old call is explained by ids only.
  WriteFile(dir + "/policies/extra.cedar",
            "@id(\"no-ping\") forbid(principal, action == Action::\"admin.ping\", resource);\n");
  auto reload = c->ReloadPolicy();
  ASSERT_TRUE(reload.ok()) << reload.status().ToString();
  ASSERT_TRUE(reload->changed);
  x = AictlJson(d, {"policy", "explain", std::to_string(seq)});
  ASSERT_EQ(x.exit_code, 0) << x.Describe();
  j = ParseJson(x.out);
  EXPECT_EQ(j["policy_set_changed"], true);
  EXPECT_EQ(j["current_policy_set_digest"], reload->digest);
  EXPECT_NE(j["policy_set_digest"], reload->digest);
  EXPECT_TRUE(j["policies"].empty());
  human = RunAictl({"--socket", d.socket(), "policy", "explain", std::to_string(seq)});
  EXPECT_NE(human.out.find("changed since"), std::string::npos) << human.out;

  // A call the new set denies is explained by it, with its text.
  auto denied = c->Ping("y");
  ASSERT_FALSE(denied.ok());
  std::vector<AuditRecord> recs = RecordsOf(*c, "admin.ping");
  ASSERT_EQ(recs.size(), 2u);
  auto last = c->ExplainDecision(recs[1].sequence);
  ASSERT_TRUE(last.ok()) << last.status().ToString();
  EXPECT_EQ(last->policy_load_sequence, static_cast<uint64_t>(Loads(*c).back().sequence));
  EXPECT_EQ(last->record.action, "admin.ping");
  EXPECT_EQ(last->record.decision, Decision::kDeny);
  EXPECT_EQ(last->determining_policies, std::vector<std::string>{"no-ping"});
  EXPECT_FALSE(last->policy_set_changed);
  ASSERT_EQ(last->policies.size(), 1u);
  EXPECT_EQ(last->policies[0].line, 1u);
  EXPECT_NE(last->policies[0].text.find("forbid(principal, action =="), std::string::npos);

  // No such record.
  CmdResult missing = RunAictl({"--socket", d.socket(), "policy", "explain", "999999"});
  EXPECT_EQ(missing.exit_code, 1) << missing.Describe();
  EXPECT_NE(missing.err.find("no audit record #999999"), std::string::npos) << missing.err;
  c.reset();
  EXPECT_EQ(d.Stop(), 0) << d.Log();
}

}  // namespace
}  // namespace aikernel::testing
