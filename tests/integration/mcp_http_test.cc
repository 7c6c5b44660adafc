// An MCP server mounted over streamable HTTP in the real aikerneld: the real
// server-everything (`streamableHttp`, on a loopback port the test picks),
// its tools listed as web.<tool> and called under an agent's policy
// (CallTool as_agent), a denied call that never reaches the server (counted
// in the server's own request log), and the server going down: UNAVAILABLE
// naming the URL.
#include <sys/stat.h>

#include <gtest/gtest.h>

#include "integration/daemon_process.h"
#include "integration/helpers.h"
#include "integration/mcp_policy_dir.h"
#include "mcp/http_server.h"

namespace aikernel::testing {
namespace {

using nlohmann::json;

class McpHttpDaemonTest : public ::testing::Test {
 protected:
  void SetUp() override {
    modules_ = EnsureMcpServers(&why_);
    if (modules_.empty()) GTEST_SKIP() << why_;
    http_ = std::make_unique<EverythingHttp>(modules_, dir_.path() + "/everything.out");
    ASSERT_EQ(http_->Start(), "");
  }

  void Start(DaemonProcess& d, const std::string& policy) {
    UseShippedPoliciesPlus(d, dir_.path(), policy);
    DaemonConfig config = DaemonConfig::With("logs_dir = \"" + dir_.path() + "/logs\"\n");
    d.WriteConfigText(config.Render() + "\n[[mcp]]\nname = \"web\"\nurl = \"" + http_->url() +
                      "\"\nrestart_initial_ms = 100\n");
    ASSERT_TRUE(d.Start());
    CmdResult a = AictlJson(d, {"agent", "run", "clerk", "--group", "web-users", "--", "/bin/true"});
    ASSERT_EQ(a.exit_code, 0) << a.Describe();
  }

  std::string why_, modules_;
  TempDir dir_;
  std::unique_ptr<EverythingHttp> http_;
};

constexpr char kPolicy[] = R"(@id("test.web-echo")
permit(principal in Group::"web-users", action == Action::"tool.call",
       resource == Tool::"web.echo");
@id("test.no-sum")
forbid(principal, action == Action::"tool.call", resource == Tool::"web.get-sum");
)";

TEST_F(McpHttpDaemonTest, AnAgentCallsTheHttpServersToolsThroughTheKernel) {
  DaemonProcess d(dir_.path());
  Start(d, kPolicy);
  auto c = ConnectTo(d);
  auto list = c->ListTools("web.");
  ASSERT_TRUE(list.ok()) << list.status().message() << d.Log();
  bool echo = false;
  for (const auto& t : list->tools) {
    EXPECT_EQ(t.provider, "mcp:web");
    echo |= t.name == "web.echo";
  }
  ASSERT_TRUE(echo) << d.Log();

  ToolCallOptions as_clerk;
  as_clerk.as_agent = "clerk";
  auto r = c->CallTool("web.echo", R"({"message":"over streamable http"})", as_clerk);
  ASSERT_TRUE(r.ok()) << r.status().message() << d.Log();
  EXPECT_EQ(r->provider, "mcp:web");
  EXPECT_NE(r->result_json.find("Echo: over streamable http"), std::string::npos)
      << r->result_json;

  // Denied by policy: the server gets no request at all.
  const int posts = http_->Posts();
  auto denied = c->CallTool("web.get-sum", R"({"a":1,"b":2})", as_clerk);
  ASSERT_FALSE(denied.ok());
  EXPECT_EQ(denied.status().code(), StatusCode::kPermissionDenied);
  EXPECT_NE(denied.status().message().find("test.no-sum"), std::string::npos)
      << denied.status().message();
  // Not granted to the agent (default deny): no request either.
  denied = c->CallTool("web.get-env", "{}", as_clerk);
  EXPECT_EQ(denied.status().code(), StatusCode::kPermissionDenied);
  EXPECT_EQ(http_->Posts(), posts);
  // The next allowed call is one POST more.
  ASSERT_TRUE(c->CallTool("web.echo", R"({"message":"again"})", as_clerk).ok());
  EXPECT_EQ(http_->Posts(), posts + 1);

  CmdResult ls = AictlJson(d, {"mcp", "ls"});
  ASSERT_EQ(ls.exit_code, 0) << ls.Describe();
  json servers = ParseJson(ls.out);
  ASSERT_EQ(servers.size(), 1u) << ls.out;
  EXPECT_EQ(servers[0]["state"], "ready") << ls.out;
  EXPECT_EQ(servers[0]["calls"].get<uint64_t>(), 2u) << ls.out;
}

TEST_F(McpHttpDaemonTest, AServerThatIsDownIsUnavailableNamingTheUrl) {
  DaemonProcess d(dir_.path());
  Start(d, kPolicy);
  auto c = ConnectTo(d);
  ToolCallOptions as_clerk;
  as_clerk.as_agent = "clerk";
  ASSERT_TRUE(c->CallTool("web.echo", R"({"message":"up"})", as_clerk).ok()) << d.Log();
  http_->Kill();
  auto r = c->CallTool("web.echo", R"({"message":"down"})", as_clerk);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kUnavailable) << r.status().message();
  EXPECT_NE(r.status().message().find("mcp server web"), std::string::npos)
      << r.status().message();
  EXPECT_NE(r.status().message().find(http_->url()), std::string::npos) << r.status().message();
}

}  // namespace
}  // namespace aikernel::testing
