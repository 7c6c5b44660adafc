// Tools through the real daemon: the registry's ListTools/DescribeTool/
// CallTool via the SDK and aictl, every call audited with its provider and
// result size, schema errors refused before policy and naming the field,
// policy denial under an agent's policy (`--as`) audited with the operator
// as the caller, and grants from a policy file of the operator's own.
#include <unistd.h>

#include <filesystem>

#include <gmock/gmock.h>

#include "integration/helpers.h"

namespace aikernel::testing {
namespace {

using nlohmann::json;

const AuditRecord* BySequence(const std::vector<AuditRecord>& recs, uint64_t seq) {
  for (const auto& r : recs) {
    if (r.sequence == seq) return &r;
  }
  return nullptr;
}

bool Has(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

class ToolsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    daemon_ = std::make_unique<DaemonProcess>(tmp_.path());
    // A policy store of the test's own: the shipped files plus extra.cedar.
    policy_ = tmp_.path() + "/policy";
    std::filesystem::create_directories(policy_ + "/policies");
    std::filesystem::copy_file(AIK_SOURCE_DIR "/config/aikernel.cedarschema",
                               policy_ + "/aikernel.cedarschema");
    std::filesystem::copy_file(AIK_SOURCE_DIR "/config/policies/default.cedar",
                               policy_ + "/policies/default.cedar");
    daemon_->set_policy_dir(policy_);
  }

  // [daemon] logs in the temp dir, plus `tools` lines appended as they are.
  void Configure(const std::string& tools = "") {
    DaemonConfig c;
    c.daemon = "logs_dir = \"" + tmp_.path() + "/logs\"\n";
    c.audit = "synchronous = \"normal\"\n";
    daemon_->WriteConfigText(c.Render() + "\n" + tools);
  }

  void Start(const std::string& tools = "") {
    Configure(tools);
    ASSERT_TRUE(daemon_->Start());
    client_ = ConnectTo(*daemon_);
    ASSERT_NE(client_, nullptr);
  }

  void AddPolicy(const std::string& text) {
    WriteFile(policy_ + "/policies/extra.cedar", text);
    auto r = client_->ReloadPolicy();
    ASSERT_TRUE(r.ok()) << r.status().ToString();
  }

  // Creates agent `name` (it runs /bin/true and exits) in `group`, for --as.
  void MakeAgent(const std::string& name, const std::string& group) {
    CmdResult r = AictlJson(*daemon_, {"agent", "run", name, "--group", group, "--", "/bin/true"});
    ASSERT_EQ(r.exit_code, 0) << r.Describe();
  }

  TempDir tmp_;
  std::string policy_;
  std::unique_ptr<DaemonProcess> daemon_;
  std::unique_ptr<Client> client_;
};

TEST_F(ToolsTest, ClockNowThroughTheSdkIsServedAndAudited) {
  Start();
  auto list = client_->ListTools();
  ASSERT_TRUE(list.ok()) << list.status().ToString();
  bool found = false;
  for (const auto& t : list->tools) found = found || (t.name == "clock.now" && t.provider == "builtin");
  EXPECT_TRUE(found);

  auto d = client_->DescribeTool("clock.now");
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  EXPECT_EQ(json::parse(d->tool.input_schema_json)["type"], "object");

  const auto before = std::chrono::system_clock::now();
  auto r = client_->CallTool("clock.now", "{}");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  const auto after = std::chrono::system_clock::now();
  json result = json::parse(r->result_json);
  int64_t ns = result["unix_ns"];
  EXPECT_GE(ns, std::chrono::duration_cast<std::chrono::nanoseconds>(before.time_since_epoch()).count());
  EXPECT_LE(ns, std::chrono::duration_cast<std::chrono::nanoseconds>(after.time_since_epoch()).count());
  EXPECT_EQ(r->provider, "builtin");
  EXPECT_EQ(r->result_bytes, r->result_json.size());
  EXPECT_FALSE(r->is_error);

  auto recs = RecordsOf(*client_, "tool.call");
  const AuditRecord* rec = BySequence(recs, r->audit_sequence);
  ASSERT_NE(rec, nullptr) << "no ledger record #" << r->audit_sequence;
  EXPECT_EQ(rec->resource, "tool:clock.now");
  EXPECT_EQ(rec->principal, "operator:0");
  EXPECT_EQ(rec->decision, Decision::kAllow);
  EXPECT_EQ(rec->code, 0);
  EXPECT_TRUE(Has(rec->rule_ids, "tool.provider:builtin"));
  EXPECT_TRUE(Has(rec->rule_ids, "tool.result_bytes:" + std::to_string(r->result_bytes)));
  EXPECT_GT(rec->latency.count(), 0);
  // Listing and describing are audited too.
  EXPECT_NE(BySequence(RecordsOf(*client_, "tool.list"), d->audit_sequence), nullptr);
}

TEST_F(ToolsTest, BadArgumentsAreRefusedBeforePolicyNamingTheField) {
  Start();
  auto r = client_->CallTool("clock.now", R"({"zone":"UTC"})");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(r.status().message(), ::testing::HasSubstr("args.zone: unknown field"));
  auto notjson = client_->CallTool("clock.now", "{nope");
  EXPECT_EQ(notjson.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(notjson.status().message(), ::testing::HasSubstr("args_json: not JSON"));
  auto missing = client_->CallTool("no.such.tool", "{}");
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
  // Audited: denied before any policy, rule "precheck", with the code.
  auto recs = RecordsOf(*client_, "tool.call");
  ASSERT_EQ(recs.size(), 3u);
  for (const auto& rec : recs) {
    EXPECT_EQ(rec.decision, Decision::kDeny);
    EXPECT_EQ(rec.rule_ids, std::vector<std::string>{"precheck"});
  }
  EXPECT_EQ(recs[0].code, 3);  // INVALID_ARGUMENT
  EXPECT_EQ(recs[2].code, 5);  // NOT_FOUND
  EXPECT_EQ(recs[2].resource, "tool:no.such.tool");
}

TEST_F(ToolsTest, AictlToolLsDescribeCallAsJson) {
  Start();
  CmdResult ls = AictlJson(*daemon_, {"tool", "ls"});
  ASSERT_EQ(ls.exit_code, 0) << ls.Describe();
  json tools = ParseJson(ls.out);
  ASSERT_TRUE(tools.is_array());
  bool found = false;
  for (const auto& t : tools) found = found || t["name"] == "clock.now";
  EXPECT_TRUE(found) << ls.out;

  CmdResult desc = AictlJson(*daemon_, {"tool", "describe", "clock.now"});
  ASSERT_EQ(desc.exit_code, 0) << desc.Describe();
  EXPECT_EQ(ParseJson(desc.out)["input_schema"]["additionalProperties"], false);

  CmdResult call = AictlJson(*daemon_, {"tool", "call", "clock.now", "--args", "{}"});
  ASSERT_EQ(call.exit_code, 0) << call.Describe();
  json j = ParseJson(call.out);
  EXPECT_EQ(j["provider"], "builtin");
  EXPECT_TRUE(j["result"]["unix_ns"].is_number());
  EXPECT_GT(j["audit_sequence"].get<uint64_t>(), 0u);

  CmdResult bad = AictlJson(*daemon_, {"tool", "call", "clock.now", "--args", R"({"x":1})"});
  EXPECT_EQ(bad.exit_code, 1) << bad.Describe();
  EXPECT_THAT(bad.err, ::testing::HasSubstr("args.x"));
  CmdResult text = RunAictl({"--socket", daemon_->socket(), "tool", "ls"});
  ASSERT_EQ(text.exit_code, 0) << text.Describe();
  EXPECT_THAT(text.out, ::testing::HasSubstr("clock.now"));
}

TEST_F(ToolsTest, AsAgentIsDecidedUnderTheAgentsPolicyAndAuditedAsTheOperator) {
  Start();
  MakeAgent("timer", "timekeepers");
  // Agents call no tool by default.
  CmdResult denied =
      AictlJson(*daemon_, {"tool", "call", "clock.now", "--args", "{}", "--as", "timer"});
  EXPECT_EQ(denied.exit_code, 3) << denied.Describe();
  EXPECT_THAT(denied.err, ::testing::HasSubstr("default-deny"));
  const std::string as = "as:agent:spiffe://it-node/agent/timer#as-operator";
  auto recs = RecordsOf(*client_, "tool.call");
  ASSERT_EQ(recs.size(), 1u);
  EXPECT_EQ(recs[0].principal, "operator:0") << "the ledger names the real caller";
  EXPECT_EQ(recs[0].decision, Decision::kDeny);
  EXPECT_TRUE(Has(recs[0].rule_ids, as)) << ::testing::PrintToString(recs[0].rule_ids);
  EXPECT_TRUE(Has(recs[0].rule_ids, "default-deny"));

  // A grant to the agent's group, in a file of the operator's own.
  AddPolicy(R"(@id("t.clock")
permit(principal in Group::"timekeepers", action == Action::"tool.call",
       resource == Tool::"clock.now");)");
  ToolCallOptions o;
  o.as_agent = "timer";
  auto ok = client_->CallTool("clock.now", "{}", o);
  ASSERT_TRUE(ok.ok()) << ok.status().ToString();
  recs = RecordsOf(*client_, "tool.call");
  const AuditRecord* rec = BySequence(recs, ok->audit_sequence);
  ASSERT_NE(rec, nullptr);
  EXPECT_EQ(rec->principal, "operator:0");
  EXPECT_TRUE(Has(rec->rule_ids, "t.clock"));
  EXPECT_TRUE(Has(rec->rule_ids, as));

  // An agent that does not exist.
  o.as_agent = "ghost";
  EXPECT_EQ(client_->CallTool("clock.now", "{}", o).status().code(), StatusCode::kNotFound);
}

TEST_F(ToolsTest, OnlyOperatorsMayActAsAnAgent) {
  REQUIRE_ROOT();
  DaemonConfig c = NobodyCanConnect();
  c.daemon += "logs_dir = \"" + tmp_.path() + "/logs\"\n";
  daemon_->WriteConfig(c);
  ASSERT_TRUE(daemon_->Start());
  client_ = ConnectTo(*daemon_);
  ASSERT_NE(client_, nullptr);
  AictlOptions nobody;
  nobody.as_nobody = true;
  CmdResult r = AictlJson(*daemon_, {"tool", "call", "clock.now", "--as", "anyone"}, nobody);
  EXPECT_EQ(r.exit_code, 3) << r.Describe();
  EXPECT_THAT(r.err, ::testing::HasSubstr("only operators"));
  CmdResult plain = AictlJson(*daemon_, {"tool", "call", "clock.now"}, nobody);
  EXPECT_EQ(plain.exit_code, 3) << "users call no tool by default: " << plain.Describe();
  auto recs = RecordsOf(*client_, "tool.call");
  ASSERT_EQ(recs.size(), 2u);
  EXPECT_EQ(recs[0].principal, "user:65534");
  EXPECT_EQ(recs[0].rule_ids, std::vector<std::string>{"as:refused"});
  EXPECT_EQ(recs[1].rule_ids, std::vector<std::string>{"default-deny"});
}

}  // namespace
}  // namespace aikernel::testing
