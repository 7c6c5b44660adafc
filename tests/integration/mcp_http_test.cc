// An MCP server mounted over streamable HTTP in the real aikerneld: the real
// server-everything (`streamableHttp`, on a loopback port the test picks),
// its tools listed as web.<tool> and called under an agent's policy
// (CallTool as_agent), a denied call that never reaches the server (counted
// in the server's own request log), and the server going down: UNAVAILABLE
// naming the URL. Through a cutting proxy: an answer stream cut mid-call is
// resumed (GET with Last-Event-ID, replayed by the server's event store) and
// the result arrives once; a server whose events carry no ids fails the call
// UNAVAILABLE saying so, as does one that answers the resuming GET with
// 405; [[mcp]] headers reach the server, a secret one
// never shows in logs or aictl, and a reload (aictl reload, SIGHUP) re-reads
// headers_from_file, keeping the old value when the file fails the checks.
#include <poll.h>
#include <signal.h>
#include <sys/inotify.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <optional>
#include <thread>

#include <gtest/gtest.h>

#include "common/unique_fd.h"
#include "integration/daemon_process.h"
#include "integration/helpers.h"
#include "integration/mcp_policy_dir.h"
#include "mcp/cut_proxy.h"
#include "mcp/http_server.h"

namespace aikernel::testing {
namespace {

using nlohmann::json;

constexpr char kLongPolicy[] = R"(@id("test.web-long")
permit(principal in Group::"web-users", action == Action::"tool.call",
       resource == Tool::"web.trigger-long-running-operation");
@id("test.web-echo")
permit(principal in Group::"web-users", action == Action::"tool.call",
       resource == Tool::"web.echo");
@id("test.web-logging")
permit(principal in Group::"web-users", action == Action::"tool.call",
       resource == Tool::"web.toggle-simulated-logging");
)";

class McpHttpDaemonTest : public ::testing::Test {
 protected:
  void SetUp() override {
    modules_ = EnsureMcpServers(&why_);
    if (modules_.empty()) GTEST_SKIP() << why_;
    http_ = std::make_unique<EverythingHttp>(modules_, dir_.path() + "/everything.out");
    ASSERT_EQ(http_->Start(), "");
  }

  void Start(DaemonProcess& d, const std::string& policy, std::string url = "",
             const std::string& extra = "") {
    if (url.empty()) url = http_->url();
    UseShippedPoliciesPlus(d, dir_.path(), policy);
    DaemonConfig config = DaemonConfig::With("logs_dir = \"" + dir_.path() + "/logs\"\n");
    d.WriteConfigText(config.Render() + "\n[[mcp]]\nname = \"web\"\nurl = \"" + url +
                      "\"\nrestart_initial_ms = 100\n" + extra);
    ASSERT_TRUE(d.Start());
    CmdResult a = AictlJson(d, {"agent", "run", "clerk", "--group", "web-users", "--", "/bin/true"});
    ASSERT_EQ(a.exit_code, 0) << a.Describe();
  }

  // `proxy` started in front of the server and the daemon mounting it
  // through the proxy (kLongPolicy); the SDK client, nullptr on failure.
  std::unique_ptr<aikernel::Client> StartBehind(DaemonProcess& d, CutProxy& proxy,
                                                const std::string& extra = "") {
    std::string why = proxy.Start();
    EXPECT_EQ(why, "");
    if (!why.empty()) return nullptr;
    Start(d, kLongPolicy, proxy.url(), extra);
    return HasFatalFailure() ? nullptr : ConnectTo(d);
  }

  ToolCallOptions as_clerk_ = [] {
    ToolCallOptions o;
    o.as_agent = "clerk";
    return o;
  }();

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

constexpr char kLongArgs[] = R"({"duration":2,"steps":4})";

json McpLs(const DaemonProcess& d) {
  CmdResult ls = AictlJson(d, {"mcp", "ls"});
  EXPECT_EQ(ls.exit_code, 0) << ls.Describe();
  json servers = ParseJson(ls.out);
  EXPECT_EQ(servers.size(), 1u) << ls.out;
  return servers.empty() ? json::object() : servers[0];
}

TEST_F(McpHttpDaemonTest, ACutAnswerStreamIsResumedWithLastEventIdAndTheResultArrivesOnce) {
  CutProxy proxy(http_->port());
  DaemonProcess d(dir_.path());
  auto c = StartBehind(d, proxy);
  ASSERT_TRUE(c);
  // The call's answer stream carries progress notifications (with event
  // ids) every 0.5 s; the proxy cuts it after the first.
  proxy.CutAfterFirstEvent("trigger-long-running-operation");
  std::optional<Result<ToolCallResult>> long_call;
  std::thread caller([&] {
    long_call = c->CallTool("web.trigger-long-running-operation", kLongArgs, as_clerk_);
  });
  // While it is being resumed, another call: server-everything's replay
  // (every stream of the session after the id) repeats its answer on the
  // resumed stream, where it must not be delivered again.
  EXPECT_TRUE(proxy.WaitForRequest("Last-Event-ID: ", std::chrono::seconds(10))) << d.Log();
  auto other = ConnectTo(d);
  EXPECT_TRUE(other && other->CallTool("web.echo", R"({"message":"meanwhile"})", as_clerk_).ok());
  caller.join();
  ASSERT_TRUE(long_call.has_value());
  auto& r = *long_call;
  ASSERT_TRUE(r.ok()) << r.status().message() << d.Log();
  EXPECT_NE(r->result_json.find("Long running operation completed"), std::string::npos)
      << r->result_json;
  // It was cut, and resumed from the event the daemon got last.
  const std::string id = proxy.CutAfterId();
  ASSERT_FALSE(id.empty()) << "the proxy never cut the stream";
  EXPECT_NE(proxy.Requests().find("Last-Event-ID: " + id + "\r\n"), std::string::npos);
  EXPECT_GE(http_->Count("Client reconnecting with Last-Event-ID: " + id), 1);
  // Once: one call sent, none failed, no restart, and the next call works
  // on the same session.
  json web = McpLs(d);
  EXPECT_EQ(web["state"], "ready") << web.dump();
  EXPECT_EQ(web["calls"].get<uint64_t>(), 2u) << web.dump();
  EXPECT_EQ(web["calls_failed"].get<uint64_t>(), 0u) << web.dump();
  EXPECT_EQ(web["late_answers"].get<uint64_t>(), 0u) << web.dump();
  EXPECT_EQ(web["starts"].get<uint64_t>(), 1u) << web.dump();
  EXPECT_GE(web["resumes"].get<uint64_t>(), 1u) << web.dump();
  ASSERT_TRUE(c->CallTool("web.echo", R"({"message":"after"})", as_clerk_).ok()) << d.Log();
  int calls = 0;
  for (const auto& rec : RecordsOf(*c, "tool.call")) {
    calls += rec.resource == "tool:web.trigger-long-running-operation";
  }
  EXPECT_EQ(calls, 1);
}

// A long call whose answer stream `proxy` cuts after its first event fails
// UNAVAILABLE with `why` in its message, and only it does: the next call
// works in the same session.
void ExpectOnlyTheCutCallFails(const DaemonProcess& d, aikernel::Client& c, CutProxy& proxy,
                               const ToolCallOptions& as, const std::string& why) {
  proxy.CutAfterFirstEvent("trigger-long-running-operation");
  auto r = c.CallTool("web.trigger-long-running-operation", kLongArgs, as);
  ASSERT_FALSE(r.ok()) << r->result_json;
  EXPECT_EQ(r.status().code(), StatusCode::kUnavailable) << r.status().message();
  EXPECT_NE(r.status().message().find(why), std::string::npos) << r.status().message();
  ASSERT_TRUE(c.CallTool("web.echo", R"({"message":"after"})", as).ok()) << d.Log();
  EXPECT_EQ(McpLs(d)["starts"].get<uint64_t>(), 1u);
}

TEST_F(McpHttpDaemonTest, ACutStreamWithoutEventIdsFailsTheCallUnavailableSayingSo) {
  CutProxy proxy(http_->port());
  proxy.HideEventIds();  // the server as one without resumability
  DaemonProcess d(dir_.path());
  auto c = StartBehind(d, proxy);
  ASSERT_TRUE(c);
  ExpectOnlyTheCutCallFails(d, *c, proxy, as_clerk_,
                            "does not support resumption: its events carry no ids");
  EXPECT_EQ(proxy.Requests().find("Last-Event-ID"), std::string::npos);
}

TEST_F(McpHttpDaemonTest, AResumingGetAnswered405FailsTheCallUnavailableSayingWhy) {
  CutProxy proxy(http_->port());
  proxy.RefuseResumes();  // the server as one that cannot resume
  DaemonProcess d(dir_.path());
  auto c = StartBehind(d, proxy);
  ASSERT_TRUE(c);
  ExpectOnlyTheCutCallFails(
      d, *c, proxy, as_clerk_,
      "does not support resumption (GET " + proxy.url() + " with Last-Event-ID: HTTP 405)");
  // It was cut and a resume was tried once: a 405 is not retried.
  EXPECT_FALSE(proxy.CutAfterId().empty());
  EXPECT_EQ(proxy.ResumesRefused(), 1);
  EXPECT_EQ(McpLs(d)["calls_failed"].get<uint64_t>(), 1u);
}

TEST_F(McpHttpDaemonTest, ConfiguredHeadersReachTheServerAndASecretOneIsNeverShown) {
  const std::string secret = "Bearer s3cr3t-token-42";
  const std::string secret_file = dir_.path() + "/web.token";
  {
    std::ofstream(secret_file) << secret << "\n";
  }
  ASSERT_EQ(::chmod(secret_file.c_str(), 0600), 0);
  CutProxy proxy(http_->port());
  DaemonProcess d(dir_.path());
  auto c = StartBehind(d, proxy,
                       "headers = { X-Team = \"infra\" }\nheaders_from_file = { Authorization = \"" +
                           secret_file + "\" }\n");
  ASSERT_TRUE(c);
  ASSERT_TRUE(c->CallTool("web.echo", R"({"message":"hi"})", as_clerk_).ok()) << d.Log();
  // On every request the server got (initialize, the GET stream, calls).
  const std::string sent = proxy.Requests();
  size_t posts = 0, teams = 0, auths = 0;
  for (size_t at = 0; (at = sent.find("POST /mcp", at)) != std::string::npos; ++at) ++posts;
  for (size_t at = 0; (at = sent.find("X-Team: infra\r\n", at)) != std::string::npos; ++at) ++teams;
  for (size_t at = 0; (at = sent.find("Authorization: " + secret + "\r\n", at)) != std::string::npos;
       ++at) {
    ++auths;
  }
  EXPECT_GE(posts, 3u) << sent;
  EXPECT_GE(teams, posts) << sent;
  EXPECT_EQ(auths, teams) << sent;
  // Shown by name only.
  json web = McpLs(d);
  EXPECT_EQ(web["headers"], json::array({"X-Team: infra", "Authorization: <secret>"})) << web.dump();
  EXPECT_EQ(web["url"], proxy.url());
  CmdResult text = RunAictl({"--socket", d.socket(), "mcp", "ls"});
  EXPECT_EQ(text.exit_code, 0) << text.Describe();
  // A fault names the URL, never the headers: kill the server, call.
  http_->Kill();
  auto down = c->CallTool("web.echo", R"({"message":"down"})", as_clerk_);
  EXPECT_EQ(down.status().code(), StatusCode::kUnavailable);
  for (const std::string& where :
       {d.Log(), ReadFile(dir_.path() + "/logs/mcp/web.log"), text.out, web.dump(),
        std::string(down.status().message())}) {
    EXPECT_EQ(where.find("s3cr3t"), std::string::npos) << where;
  }
}

// The Authorization values the server got on requests after `mark` bytes
// of what the proxy relayed.
std::string AuthSince(const CutProxy& proxy, size_t mark) {
  std::string sent = proxy.Requests().substr(mark), out;
  for (size_t at = 0; (at = sent.find("Authorization: ", at)) != std::string::npos; ++at) {
    out += sent.substr(at, sent.find("\r\n", at) - at) + "\n";
  }
  return out;
}

TEST_F(McpHttpDaemonTest, AReloadRereadsHeaderFilesAndABadFileKeepsTheOldHeaders) {
  const std::string file = dir_.path() + "/web.token";
  auto write = [&](const std::string& v) { std::ofstream(file, std::ios::trunc) << v << "\n"; };
  write("Bearer first-t0ken-aa");
  ASSERT_EQ(::chmod(file.c_str(), 0600), 0);
  CutProxy proxy(http_->port());
  DaemonProcess d(dir_.path());
  auto c = StartBehind(d, proxy, "headers_from_file = { Authorization = \"" + file + "\" }\n");
  ASSERT_TRUE(c);
  ASSERT_TRUE(c->CallTool("web.echo", R"({"message":"one"})", as_clerk_).ok()) << d.Log();
  EXPECT_NE(AuthSince(proxy, 0).find("Bearer first-t0ken-aa"), std::string::npos);

  // aictl reload: the file is read again and the next call carries it.
  write("Bearer second-t0ken-bb");
  CmdResult r = AictlJson(d, {"reload"});
  ASSERT_EQ(r.exit_code, 0) << r.Describe();
  EXPECT_EQ(ParseJson(r.out)["applied"], json::array({"mcp.headers"})) << r.out;
  EXPECT_EQ(ParseJson(r.out)["needs_restart"], json::array()) << r.out;
  size_t mark = proxy.Requests().size();
  ASSERT_TRUE(c->CallTool("web.echo", R"({"message":"two"})", as_clerk_).ok()) << d.Log();
  EXPECT_EQ(AuthSince(proxy, mark), "Authorization: Bearer second-t0ken-bb\n");

  // A file that fails the checks: the reload is refused naming the file
  // and why, and the calls keep the headers in force.
  ASSERT_EQ(::chmod(file.c_str(), 0644), 0);
  write("Bearer third-t0ken-cc");
  CmdResult bad = RunAictl({"--socket", d.socket(), "reload"});
  EXPECT_NE(bad.exit_code, 0) << bad.Describe();
  EXPECT_NE(bad.err.find(file), std::string::npos) << bad.Describe();
  EXPECT_NE(bad.err.find("mode 0644"), std::string::npos) << bad.Describe();
  EXPECT_NE(bad.err.find("headers_from_file.Authorization"), std::string::npos) << bad.Describe();
  mark = proxy.Requests().size();
  ASSERT_TRUE(c->CallTool("web.echo", R"({"message":"three"})", as_clerk_).ok()) << d.Log();
  EXPECT_EQ(AuthSince(proxy, mark), "Authorization: Bearer second-t0ken-bb\n");

  // SIGHUP takes the same path once the file is fixed.
  ASSERT_EQ(::chmod(file.c_str(), 0600), 0);
  write("Bearer fourth-t0ken-dd");
  d.DrainNotifications();
  d.Signal(SIGHUP);
  ASSERT_TRUE(d.WaitForNotification("READY=1"));
  mark = proxy.Requests().size();
  ASSERT_TRUE(c->CallTool("web.echo", R"({"message":"four"})", as_clerk_).ok()) << d.Log();
  EXPECT_EQ(AuthSince(proxy, mark), "Authorization: Bearer fourth-t0ken-dd\n");

  // No value anywhere an operator looks.
  CmdResult ls = RunAictl({"--socket", d.socket(), "mcp", "ls"});
  for (const std::string& where : {d.Log(), ReadFile(dir_.path() + "/logs/mcp/web.log"), r.out,
                                   r.err, bad.out, bad.err, ls.out, McpLs(d).dump()}) {
    EXPECT_EQ(where.find("t0ken"), std::string::npos) << where;
  }
}

// How often `needle` occurs in the file `path`, once that is at least `n`
// or `timeout` passed. The daemon's loop writes its server logs on its own
// schedule, after the proxy relayed what they record, so the test waits on
// inotify for the file to change rather than reading it once.
size_t CountInFileOnceAtLeast(const std::string& path, const std::string& needle, size_t n,
                              std::chrono::milliseconds timeout) {
  UniqueFd in(::inotify_init1(IN_CLOEXEC | IN_NONBLOCK));
  const std::string dir = path.substr(0, path.rfind('/'));
  EXPECT_TRUE(in.valid() && ::inotify_add_watch(in.get(), dir.c_str(),
                                                IN_MODIFY | IN_CREATE | IN_MOVED_TO) >= 0)
      << "inotify on " << dir << ": " << strerror(errno);
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    const std::string text = ReadFile(path);
    size_t count = 0;
    for (size_t at = 0; (at = text.find(needle, at)) != std::string::npos; ++at) ++count;
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (count >= n || left.count() <= 0 || !in.valid()) return count;
    pollfd p{in.get(), POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left.count())) > 0) {
      char events[4096];
      while (::read(in.get(), events, sizeof(events)) > 0) {
      }
    }
  }
}

TEST_F(McpHttpDaemonTest, ACutGetStreamIsResumedAndLaterNotificationsStillArrive) {
  CutProxy proxy(http_->port());
  // The daemon's GET stream, after its first event with an id.
  proxy.CutAfterFirstEvent("GET /mcp HTTP/1.1");
  DaemonProcess d(dir_.path());
  auto c = StartBehind(d, proxy, "");
  ASSERT_TRUE(c);
  ASSERT_TRUE(proxy.WaitForRequest("Last-Event-ID: ", std::chrono::seconds(10))) << d.Log();
  const std::string id = proxy.CutAfterId();
  ASSERT_FALSE(id.empty());
  EXPECT_NE(proxy.Requests().find("Last-Event-ID: " + id + "\r\n"), std::string::npos);
  ASSERT_TRUE(c->CallTool("web.toggle-simulated-logging", "{}", as_clerk_).ok()) << d.Log();
  // Simulated logging sends a message at once, then one every 5 s, on the
  // GET stream: two reach the daemon through resumes.
  ASSERT_TRUE(proxy.WaitForEventsAfterCut("notifications/message", 2, std::chrono::seconds(20)))
      << proxy.AnswersAfterCut();
  ASSERT_TRUE(c->CallTool("web.echo", R"({"message":"after"})", as_clerk_).ok()) << d.Log();
  const std::string path = dir_.path() + "/logs/mcp/web.log";
  const size_t messages =
      CountInFileOnceAtLeast(path, "- SessionId ", 2, std::chrono::seconds(10));
  const std::string log = ReadFile(path);
  EXPECT_GE(messages, 2u) << log << "\n--- answers after the cut ---\n" << proxy.AnswersAfterCut();
  // ... each once, though replays repeated them: no more log lines than
  // distinct message events the server sent.
  EXPECT_LE(messages, proxy.EventsAfterCut("notifications/message")) << log;
  json web = McpLs(d);
  EXPECT_GE(web["resumes"].get<uint64_t>(), 1u) << web.dump();
  EXPECT_EQ(web["starts"].get<uint64_t>(), 1u) << web.dump();
}

}  // namespace
}  // namespace aikernel::testing
