// Remote tool calls through real daemons (docs/net.md "Remote tool calls"):
// node na's agents call tools of node nb as "b/<tool>". na decides tool.call
// on Tool::"b/<tool>" under its policy, nb decides it again with the remote
// agent (Agent::"spiffe://na/agent/<name>" in Group::"remote:na") as
// principal and runs it; both ledgers carry one correlation id. Checked: an
// agent's allowed call returns the tool's result; a call nb denies is
// PERMISSION_DENIED and never runs there; a call na denies never leaves na;
// an unknown node is NOT_FOUND naming it; a peer that is down is
// UNAVAILABLE naming it.
#include <filesystem>

#include "net/federation_fixture.h"

namespace aikernel::testing {
namespace {

class RemoteToolsTest : public FederationTest {
 protected:
  // na (calling side): agents of group "callers" may call any tool of peer
  // b, except fs.delete. nb (called side): agents of na may read the clock
  // and read (not write) under the root "pub".
  std::string ExtraPolicies() const override {
    return "@id(\"test.call-remote\")\n"
           "permit(principal in Group::\"callers\", action == Action::\"tool.call\", resource)\n"
           "  when { context has remote && context.remote && context.peer == \"b\" };\n"
           "@id(\"test.no-remote-delete\")\n"
           "forbid(principal, action == Action::\"tool.call\", resource == "
           "Tool::\"b/fs.delete\");\n"
           "@id(\"test.remote-clock\")\n"
           "permit(principal in Group::\"remote:na\", action == Action::\"tool.call\",\n"
           "       resource == Tool::\"clock.now\") when { context.remote && context.peer == "
           "\"a\" };\n"
           "@id(\"test.remote-read-pub\")\n"
           "permit(principal in Group::\"remote:na\", action == Action::\"tool.call\",\n"
           "       resource == Tool::\"fs.read\") when { context.args.root == \"pub\" };\n";
  }
  std::string ExtraConfig(const Node& n) const override {
    const std::string pub = n.tmp.path() + "/pub";
    std::filesystem::create_directories(pub);
    std::ofstream(pub + "/hello.txt") << "hi from " << n.name;
    return "\n[tools.fs]\nroots = [{ name = \"pub\", path = \"" + pub + "\", writable = true }]\n";
  }

  void SetUp() override {
    FederationTest::SetUp();
    if (HasFatalFailure()) return;
    Federate(A(), "b", B());
    Federate(B(), "a", A());
  }

  // Runs aik_msg_agent `tool NAME ARGS` as `agent` on A (in `group` unless
  // empty) and returns its "tool ..." line.
  std::string AgentCalls(const std::string& agent, const std::string& group,
                         const std::string& tool, const std::string& args) {
    std::vector<std::string> a = {"agent", "run", agent};
    if (!group.empty()) a.insert(a.end(), {"--group", group});
    a.insert(a.end(), {"--", AIK_MSG_AGENT_PATH, "tool", tool, args});
    CmdResult r = A().Aictl(a);
    EXPECT_EQ(r.exit_code, 0) << r.Describe();
    EXPECT_TRUE(WaitLog(A(), agent, "tool-done"));
    std::string log = A().Logs(agent);
    size_t at = log.find("tool code=");
    return at == std::string::npos ? log : log.substr(at, log.find('\n', at) - at);
  }

  // An operator's call under alice's policy (as_agent), through the SDK.
  aikernel::Result<aikernel::ToolCallResult> CallAs(const std::string& tool,
                                                    const std::string& args) {
    auto c = ConnectTo(*A().d);
    if (c == nullptr) return aikernel::Status(aikernel::StatusCode::kUnavailable, "no client");
    aikernel::ToolCallOptions o;
    o.as_agent = "alice";
    return c->CallTool(tool, args, o);
  }

  // nb's tool.call records of agents of na.
  std::vector<AuditRecord> RemoteRecords() {
    std::vector<AuditRecord> out;
    for (const AuditRecord& r : Records(B(), "tool.call")) {
      if (r.principal.rfind("agent:spiffe://na/agent/", 0) == 0) out.push_back(r);
    }
    return out;
  }
};

TEST_F(RemoteToolsTest, AnAgentsAllowedCallRunsOnThePeerAndBothLedgersShareTheCorrelation) {
  const std::string line = AgentCalls("alice", "callers", "b/clock.now", "{}");
  ASSERT_EQ(line.rfind("tool code=OK provider=peer:b/builtin result={", 0), 0u)
      << line << "\n--- na ---\n" << A().d->Log() << "\n--- nb ---\n" << B().d->Log();
  EXPECT_NE(line.find("\"unix_ns\""), std::string::npos) << line;

  std::vector<AuditRecord> here;
  for (const AuditRecord& r : Records(A(), "tool.call")) {
    if (r.resource == "tool:b/clock.now") here.push_back(r);
  }
  ASSERT_EQ(here.size(), 1u);
  EXPECT_EQ(here[0].principal.rfind("agent:spiffe://na/agent/alice#", 0), 0u) << here[0].principal;
  EXPECT_EQ(here[0].decision, Decision::kAllow);
  EXPECT_EQ(here[0].code, 0);
  ASSERT_FALSE(here[0].rule_ids.empty());
  EXPECT_EQ(here[0].rule_ids[0], "test.call-remote");
  std::vector<AuditRecord> there = RemoteRecords();
  ASSERT_EQ(there.size(), 1u);
  EXPECT_EQ(there[0].principal, "agent:spiffe://na/agent/alice#peer:a");
  EXPECT_EQ(there[0].resource, "tool:clock.now");
  EXPECT_EQ(there[0].decision, Decision::kAllow);
  EXPECT_EQ(there[0].code, 0);
  EXPECT_EQ(there[0].rule_ids[0], "test.remote-clock");
  EXPECT_FALSE(Corr(here[0]).empty());
  EXPECT_EQ(Corr(here[0]), Corr(there[0]));
  const std::string seq = "peer.audit_seq:" + std::to_string(there[0].sequence);
  EXPECT_NE(std::find(here[0].rule_ids.begin(), here[0].rule_ids.end(), seq),
            here[0].rule_ids.end())
      << "na's record does not name nb's (" << seq << ")";

  // An agent na's policy does not let call remote tools never reaches nb.
  const std::string denied = AgentCalls("mallory", "", "b/clock.now", "{}");
  EXPECT_EQ(denied.rfind("tool code=PERMISSION_DENIED", 0), 0u) << denied;
  EXPECT_EQ(RemoteRecords().size(), 1u);
}

TEST_F(RemoteToolsTest, ThePeersPolicyDecidesAndADeniedCallNeverRuns) {
  CmdResult run = A().Aictl({"agent", "run", "alice", "--group", "callers", "--",
                             AIK_MSG_AGENT_PATH, "send", "spiffe://na/agent/nobody", "0"});
  ASSERT_EQ(run.exit_code, 0) << run.Describe();

  auto read = CallAs("b/fs.read", R"({"root":"pub","path":"hello.txt"})");
  ASSERT_TRUE(read.ok()) << read.status().ToString() << "\n" << B().d->Log();
  EXPECT_NE(read->result_json.find("hi from nb"), std::string::npos) << read->result_json;
  EXPECT_EQ(read->provider, "peer:b/builtin");

  // nb allows no writes: PERMISSION_DENIED from nb, and nothing written.
  auto write = CallAs("b/fs.write", R"({"root":"pub","path":"new.txt","content":"x"})");
  ASSERT_FALSE(write.ok());
  EXPECT_EQ(write.status().code(), aikernel::StatusCode::kPermissionDenied);
  EXPECT_EQ(write.status().message().rfind("peer b: ", 0), 0u) << write.status().message();
  EXPECT_FALSE(std::filesystem::exists(B().tmp.path() + "/pub/new.txt"));
  bool recorded = false;
  for (const AuditRecord& r : RemoteRecords()) {
    if (r.resource == "tool:fs.write") {
      recorded = true;
      EXPECT_EQ(r.decision, Decision::kDeny);
      EXPECT_EQ(r.principal, "agent:spiffe://na/agent/alice#peer:a");
    }
  }
  EXPECT_TRUE(recorded) << "nb did not record the denied call";

  // na's own forbid: the call never leaves na.
  const size_t before = RemoteRecords().size();
  auto del = CallAs("b/fs.delete", R"({"root":"pub","path":"hello.txt"})");
  EXPECT_EQ(del.status().code(), aikernel::StatusCode::kPermissionDenied);
  EXPECT_NE(del.status().message().find("test.no-remote-delete"), std::string::npos)
      << del.status().message();
  EXPECT_TRUE(std::filesystem::exists(B().tmp.path() + "/pub/hello.txt"));
  EXPECT_EQ(RemoteRecords().size(), before);

  // A tool nb does not have: nb says so.
  auto none = CallAs("b/no.such", "{}");
  EXPECT_EQ(none.status().code(), aikernel::StatusCode::kNotFound) << none.status().ToString();
  EXPECT_EQ(none.status().message().rfind("peer b: ", 0), 0u) << none.status().message();

  // A node that is not a peer.
  auto unknown = CallAs("zz/clock.now", "{}");
  EXPECT_EQ(unknown.status().code(), aikernel::StatusCode::kNotFound);
  EXPECT_NE(unknown.status().message().find("no peer node named 'zz'"), std::string::npos)
      << unknown.status().message();

  // An operator calling as itself: remote tools are called by agents.
  auto c = ConnectTo(*A().d);
  ASSERT_NE(c, nullptr);
  auto op = c->CallTool("b/clock.now", "{}");
  EXPECT_EQ(op.status().code(), aikernel::StatusCode::kFailedPrecondition)
      << op.status().ToString();

  // nb down: UNAVAILABLE naming the peer.
  ASSERT_EQ(B().d->Stop(), 0);
  auto down = CallAs("b/clock.now", "{}");
  EXPECT_EQ(down.status().code(), aikernel::StatusCode::kUnavailable) << down.status().ToString();
  EXPECT_NE(down.status().message().find("peer b ("), std::string::npos)
      << down.status().message();
}

}  // namespace
}  // namespace aikernel::testing
