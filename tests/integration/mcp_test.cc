// MCP servers mounted in the real aikerneld: the real npm servers
// (@modelcontextprotocol/server-everything and server-filesystem, installed
// into the build tree by tests/mcp/npm_servers.h), called through the
// kernel with the SDK and aictl; policy denials that never reach the
// server; pins that refuse a changed tool until `aictl tool accept`; a
// hanging server (the fake one) timing out through the kernel. The daemon
// sends READY=1 once every server's first mount has settled, so the tools
// are listed when Start() returns.
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <thread>

#include <gtest/gtest.h>

#include "integration/daemon_process.h"
#include "integration/helpers.h"
#include "integration/mcp_policy_dir.h"
#include "mcp/npm_servers.h"

namespace aikernel::testing {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

const std::string kFake = std::string(AIK_SOURCE_DIR) + "/tests/mcp/fake_server.py";

std::vector<aikernel::AuditRecord> Records(aikernel::Client& c, const std::string& action) {
  aikernel::AuditFilter f;
  f.action = action;
  return Query(c, f);
}

class McpDaemonTest : public ::testing::Test {
 protected:
  void SetUp() override {
    modules_ = EnsureMcpServers(&why_);
    if (modules_.empty()) GTEST_SKIP() << why_;
    ::chmod(dir_.path().c_str(), 0755);  // the servers run as uid 65534
    root_ = dir_.path() + "/root";
    fs::create_directories(root_);
    ::chown(root_.c_str(), kNobody, kNobody);
  }

  std::string Entries(const std::string& extra = "") const {
    return "\n[[mcp]]\nname = \"everything\"\ncommand = \"/usr/bin/node\"\nargs = [\"" +
           EverythingEntry(modules_) + "\"]\n" + "\n[[mcp]]\nname = \"files\"\n" +
           "command = \"/usr/bin/node\"\nargs = [\"" + FilesystemEntry(modules_) + "\", \"" +
           root_ + "\"]\n" + extra;
  }

  // The shipped policies plus `extra` (Cedar), as the daemon's policy dir.
  void Policies(DaemonProcess& d, const std::string& extra) {
    UseShippedPoliciesPlus(d, dir_.path(), extra);
  }

  void Start(DaemonProcess& d, const std::string& extra = "") {
    DaemonConfig config = DaemonConfig::With("logs_dir = \"" + dir_.path() + "/logs\"\n");
    d.WriteConfigText(config.Render() + Entries(extra));
    ASSERT_TRUE(d.Start());
  }

  std::string why_, modules_, root_;
  TempDir dir_;
};

TEST_F(McpDaemonTest, RealServersAreMountedAndCalledThroughTheKernel) {
  DaemonProcess d(dir_.path());
  Start(d);
  auto c = ConnectTo(d);
  auto list = c->ListTools("everything.");
  ASSERT_TRUE(list.ok()) << list.status().message() << d.Log();
  bool echo = false;
  for (const auto& t : list->tools) {
    EXPECT_EQ(t.provider, "mcp:everything");
    EXPECT_FALSE(t.pinned_hash.empty());
    echo |= t.name == "everything.echo";
  }
  ASSERT_TRUE(echo) << d.Log();

  auto r = c->CallTool("everything.echo", R"({"message":"through the kernel"})");
  ASSERT_TRUE(r.ok()) << r.status().message() << d.Log();
  EXPECT_EQ(r->provider, "mcp:everything");
  EXPECT_FALSE(r->is_error);
  EXPECT_NE(r->result_json.find("through the kernel"), std::string::npos) << r->result_json;
  EXPECT_GT(r->audit_sequence, 0u);

  r = c->CallTool("everything.get-sum", R"({"a":19,"b":23})");
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_NE(r->result_json.find("42"), std::string::npos) << r->result_json;

  // The filesystem server writes and reads under its root, via aictl too.
  const std::string file = root_ + "/note.txt";
  CmdResult w = AictlJson(d, {"tool", "call", "files.write_file", "--args",
                              json{{"path", file}, {"content", "hello from aictl"}}.dump()});
  ASSERT_EQ(w.exit_code, 0) << w.Describe();
  EXPECT_EQ(ReadFile(file), "hello from aictl");
  r = c->CallTool("files.read_text_file", json{{"path", file}}.dump());
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_NE(r->result_json.find("hello from aictl"), std::string::npos);

  // Arguments are checked against the server's own schema before policy.
  r = c->CallTool("everything.get-sum", R"({"a":"x","b":1})");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("a"), std::string::npos);

  // Each call is in the ledger with its provider.
  auto records = Records(*c, "tool.call");
  int mcp_calls = 0;
  for (const auto& rec : records) {
    for (const auto& id : rec.rule_ids) mcp_calls += id == "tool.provider:mcp:everything";
  }
  EXPECT_GE(mcp_calls, 2) << d.Log();
}

TEST_F(McpDaemonTest, ACallPolicyDeniesNeverReachesTheServer) {
  DaemonProcess d(dir_.path());
  Policies(d, R"(@id("test.no-mcp-writes")
forbid(principal, action == Action::"tool.call", resource == Tool::"files.write_file");
)");
  Start(d);
  auto c = ConnectTo(d);
  const std::string file = root_ + "/denied.txt";
  auto r = c->CallTool("files.write_file", json{{"path", file}, {"content", "x"}}.dump());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kPermissionDenied);
  EXPECT_NE(r.status().message().find("test.no-mcp-writes"), std::string::npos)
      << r.status().message();
  // The server never got it: no file, and its call counter did not move.
  EXPECT_FALSE(fs::exists(file));
  CmdResult before = AictlJson(d, {"mcp", "ls"});
  ASSERT_EQ(before.exit_code, 0) << before.Describe();
  json servers = ParseJson(before.out);
  uint64_t calls = 0;
  for (const auto& s : servers) {
    if (s["name"] == "files") calls = s["calls"].get<uint64_t>();
  }
  EXPECT_EQ(calls, 0u) << before.out;
  // An allowed call to the same server does reach it and is counted.
  ASSERT_TRUE(c->CallTool("files.list_allowed_directories", "{}").ok());
  CmdResult after = AictlJson(d, {"mcp", "ls"});
  for (const auto& s : ParseJson(after.out)) {
    if (s["name"] == "files") {
      EXPECT_EQ(s["calls"].get<uint64_t>(), 1u) << after.out;
    }
  }
  // The denial is in the ledger.
  auto denied = Records(*c, "tool.call");
  bool found = false;
  for (const auto& rec : denied) {
    found |= rec.resource == "tool:files.write_file" && rec.decision == aikernel::Decision::kDeny;
  }
  EXPECT_TRUE(found);
}

// Not an operator trying a call `--as` an agent: a process the daemon spawned
// calls the real servers over its own kernel connection (AIKERNEL_FD).
TEST_F(McpDaemonTest, ASpawnedAgentCallsTheRealServersThroughItsKernelConnection) {
  DaemonProcess d(dir_.path());
  Policies(d, R"(@id("test.mcp-users-echo")
permit(principal in Group::"mcp-users", action == Action::"tool.call",
       resource == Tool::"everything.echo");
)");
  Start(d);
  // Runs aik_msg_agent `tool NAME ARGS` as `agent` in group mcp-users and
  // returns its "tool code=..." line once it printed "tool-done".
  auto agent_calls = [&](const std::string& agent, const std::string& tool,
                         const std::string& args) -> std::string {
    CmdResult r = AictlJson(d, {"agent", "run", agent, "--group", "mcp-users", "--",
                                AIK_MSG_AGENT_PATH, "tool", tool, args});
    EXPECT_EQ(r.exit_code, 0) << r.Describe();
    std::string log;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (std::chrono::steady_clock::now() < deadline) {
      log = RunAictl({"--socket", d.socket(), "agent", "logs", agent}).out;
      if (log.find("tool-done") != std::string::npos) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    const size_t at = log.find("tool code=");
    EXPECT_NE(at, std::string::npos) << "log of " << agent << ":\n" << log << d.Log();
    return at == std::string::npos ? log : log.substr(at, log.find('\n', at) - at);
  };

  const std::string ok = agent_calls("caller", "everything.echo", R"({"message":"from an agent"})");
  EXPECT_NE(ok.find("tool code=OK provider=mcp:everything"), std::string::npos) << ok;
  EXPECT_NE(ok.find("from an agent"), std::string::npos) << ok;

  // Not permitted for the group: refused, and the server never sees it.
  const std::string file = root_ + "/by-agent.txt";
  const std::string denied = agent_calls(
      "writer", "files.write_file", json{{"path", file}, {"content", "x"}}.dump());
  EXPECT_NE(denied.find("tool code=PERMISSION_DENIED"), std::string::npos) << denied;
  EXPECT_FALSE(fs::exists(file));
  CmdResult ls = AictlJson(d, {"mcp", "ls"});
  ASSERT_EQ(ls.exit_code, 0) << ls.Describe();
  for (const auto& srv : ParseJson(ls.out)) {
    if (srv["name"] == "files") {
      EXPECT_EQ(srv["calls"].get<uint64_t>(), 0u) << ls.out;
    } else if (srv["name"] == "everything") {
      EXPECT_EQ(srv["calls"].get<uint64_t>(), 1u) << ls.out;
    }
  }

  // The ledger names the agents (their SPIFFE IDs), not an operator.
  auto c = ConnectTo(d);
  ASSERT_NE(c, nullptr);
  bool allowed = false, refused = false;
  for (const auto& rec : Records(*c, "tool.call")) {
    if (rec.principal.find("/agent/caller#") != std::string::npos &&
        rec.resource == "tool:everything.echo") {
      allowed |= rec.decision == aikernel::Decision::kAllow;
    }
    if (rec.principal.find("/agent/writer#") != std::string::npos &&
        rec.resource == "tool:files.write_file") {
      refused |= rec.decision == aikernel::Decision::kDeny;
    }
  }
  EXPECT_TRUE(allowed);
  EXPECT_TRUE(refused);
}

TEST_F(McpDaemonTest, AChangedToolIsRefusedUntilAnOperatorAcceptsIt) {
  DaemonProcess d(dir_.path());
  // everything.echo was pinned with another description than the server
  // lists now (as if the server had rewritten it since).
  const std::string pins = d.state_dir() + "/mcp-pins.json";
  fs::create_directories(d.state_dir());
  WriteFile(pins, json{{"everything.echo",
                        {{"description_sha256", std::string(64, '0')},
                         {"schema_sha256", std::string(64, '1')}}}}
                      .dump());
  ::chmod(pins.c_str(), 0600);
  Start(d);
  auto c = ConnectTo(d);
  auto info = c->DescribeTool("everything.echo");
  ASSERT_TRUE(info.ok()) << info.status().message() << d.Log();
  EXPECT_TRUE(info->tool.refused);
  EXPECT_NE(info->tool.refused_reason.find("description and inputSchema changed"),
            std::string::npos)
      << info->tool.refused_reason;
  auto r = c->CallTool("everything.echo", R"({"message":"b"})");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(r.status().message().find("aictl tool accept everything.echo"), std::string::npos)
      << r.status().message();
  // Other tools of the same server still work.
  EXPECT_TRUE(c->CallTool("everything.get-sum", R"({"a":1,"b":2})").ok());

  CmdResult acc = AictlJson(d, {"tool", "accept", "everything.echo"});
  ASSERT_EQ(acc.exit_code, 0) << acc.Describe();
  r = c->CallTool("everything.echo", R"({"message":"c"})");
  ASSERT_TRUE(r.ok()) << r.status().message();
  // The ledger has the refusal and the accept.
  bool refuse = false, accept = false;
  for (const auto& rec : Records(*c, "tool.refuse")) refuse |= rec.resource == "tool:everything.echo";
  for (const auto& rec : Records(*c, "tool.accept")) accept |= rec.resource == "tool:everything.echo";
  EXPECT_TRUE(refuse);
  EXPECT_TRUE(accept);
  // The accepted pin is on disk.
  EXPECT_NE(ParseJson(ReadFile(pins))["everything.echo"]["description_sha256"],
            std::string(64, '0'));
}

TEST_F(McpDaemonTest, AHangingServerTimesOutAndOthersStillAnswer) {
  DaemonProcess d(dir_.path());
  Start(d, "\n[[mcp]]\nname = \"hang\"\ncommand = \"/usr/bin/python3\"\nargs = [\"" + kFake +
               "\"]\ncall_timeout_ms = 800\n");
  auto c = ConnectTo(d);
  auto t0 = std::chrono::steady_clock::now();
  auto r = c->CallTool("hang.sleep", "{}");
  ASSERT_FALSE(r.ok());
  // The daemon audited the call, so the SDK keeps its message (naming the
  // tool), not its own "no reply from aikerneld".
  EXPECT_EQ(r.status().code(), StatusCode::kDeadlineExceeded) << r.status().message();
  EXPECT_NE(r.status().message().find("sleep"), std::string::npos) << r.status().message();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(10));
  EXPECT_TRUE(c->CallTool("everything.echo", R"({"message":"still here"})").ok());
  // The server got the cancellation: asked on its stdout, after it (its
  // stderr log is written by the daemon's loop, maybe after the answer).
  auto seen = c->CallTool("hang.received", "{}");
  ASSERT_TRUE(seen.ok()) << seen.status().message();
  EXPECT_NE(seen->result_json.find("notifications/cancelled"), std::string::npos)
      << seen->result_json;
}

TEST_F(McpDaemonTest, AResultWhoseIsErrorIsNotABooleanIsNotAnErrorAndTheDaemonGoesOn) {
  DaemonProcess d(dir_.path());
  Start(d, "\n[[mcp]]\nname = \"odd\"\ncommand = \"/usr/bin/python3\"\nargs = [\"" + kFake +
               "\"]\n");
  auto c = ConnectTo(d);
  for (const char* is_error : {"\"yes\"", "1", "null", "true"}) {
    auto r = c->CallTool("odd.echo", std::string(R"({"message":"m","result":{"content":[],"isError":)") +
                                         is_error + "}}");
    ASSERT_TRUE(r.ok()) << is_error << ": " << r.status().message() << "\n" << d.Log();
    EXPECT_EQ(r->is_error, std::string(is_error) == "true") << is_error;
  }
  EXPECT_TRUE(c->CallTool("everything.echo", R"({"message":"still here"})").ok()) << d.Log();
}

}  // namespace
}  // namespace aikernel::testing
