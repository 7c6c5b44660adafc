// The builtin tools through the real daemon: fs.* under a configured root,
// http.fetch against a loopback HTTP server this test runs (redirects, a
// redirect to a host policy forbids, the size cap), proc.exec in the
// default sandbox profile (exit code, timeout, output cap), and the size
// caps on arguments and results; each call audited.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <thread>

#include <gmock/gmock.h>

#include "integration/helpers.h"

namespace aikernel::testing {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;

// A name that resolves to ::1 then 127.0.0.1 inside the daemon's mount
// namespace (BuiltinsTest::DualStackDaemon).
constexpr const char* kDualHost = "dual.aik.test";

// A loopback HTTP/1.0 server: one thread, one connection at a time, canned
// answers by path. Stops (and joins) on destruction.
class TinyHttp {
 public:
  TinyHttp() {
    fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof(a));
    listen(fd_, 16);
    socklen_t len = sizeof(a);
    getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    thread_ = std::thread([this] { Serve(); });
  }
  ~TinyHttp() {
    stop_ = true;
    thread_.join();
    close(fd_);
  }
  int port() const { return port_; }
  std::string Url(const std::string& path, const std::string& host = "127.0.0.1") const {
    return "http://" + host + ":" + std::to_string(port_) + path;
  }
  int hits(const std::string& path) const { return path == "/hello" ? hello_hits_.load() : 0; }

 private:
  void Serve() {
    while (!stop_) {
      pollfd p{fd_, POLLIN, 0};
      if (poll(&p, 1, 50) != 1) continue;
      int c = accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (c < 0) continue;
      std::string req;
      char buf[4096];
      while (req.find("\r\n\r\n") == std::string::npos) {
        ssize_t n = read(c, buf, sizeof(buf));
        if (n <= 0) break;
        req.append(buf, static_cast<size_t>(n));
      }
      std::string path = req.substr(req.find(' ') + 1);
      path = path.substr(0, path.find(' '));
      std::string resp = Answer(path, req);
      for (size_t off = 0; off < resp.size();) {
        ssize_t n = write(c, resp.data() + off, resp.size() - off);
        if (n <= 0) break;
        off += static_cast<size_t>(n);
      }
      close(c);
    }
  }
  std::string Answer(const std::string& path, const std::string& req) {
    auto ok = [](const std::string& body) {
      return "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\nX-Test: yes\r\nContent-Length: " +
             std::to_string(body.size()) + "\r\n\r\n" + body;
    };
    auto redirect = [](const std::string& to) {
      return "HTTP/1.0 302 Found\r\nLocation: " + to + "\r\nContent-Length: 0\r\n\r\n";
    };
    if (path == "/hello") {
      ++hello_hits_;
      return ok("hello from loopback");
    }
    if (path == "/echo-auth") {
      bool has = req.find("Authorization:") != std::string::npos;
      return ok(has ? "auth" : "no-auth");
    }
    if (path == "/to-hello") return redirect("/hello");
    if (path == "/to-localhost") return redirect(Url("/hello", "localhost"));
    if (path == "/to-localhost-auth") return redirect(Url("/echo-auth", "localhost"));
    if (path == "/to-dual") return redirect(Url("/hello", kDualHost));
    if (path == "/big") return ok(std::string(5000, 'b'));
    return "HTTP/1.0 404 Not Found\r\nContent-Length: 0\r\n\r\n";
  }

  int fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<int> hello_hits_{0};
  std::thread thread_;
};

// A listener on [::1]:port whose accept queue is full (it never accepts):
// a further connection to it gets no answer, so connecting times out.
// "" once a connection to it stays pending, else why it cannot be made.
class Blackhole {
 public:
  std::string Fill(int port) {
    fd_ = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in6 a{};
    a.sin6_family = AF_INET6;
    a.sin6_addr = in6addr_loopback;
    a.sin6_port = htons(static_cast<uint16_t>(port));
    if (bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0 || listen(fd_, 0) != 0) {
      return "cannot listen on [::1]:" + std::to_string(port) + ": " + strerror(errno);
    }
    for (int i = 0; i < 64; ++i) {
      int c = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
      queued_.push_back(c);
      if (connect(c, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0) continue;
      if (errno != EINPROGRESS) return std::string("connect to the blackhole: ") + strerror(errno);
      // Not a wait for readiness: a connection still pending after 300 ms
      // is what shows the queue is full.
      pollfd p{c, POLLOUT, 0};
      if (poll(&p, 1, 300) == 0) return "";
    }
    return "the accept queue of a listen(fd, 0) socket never filled";
  }
  ~Blackhole() {
    for (int c : queued_) close(c);
    if (fd_ >= 0) close(fd_);
  }

 private:
  int fd_ = -1;
  std::vector<int> queued_;
};

class BuiltinsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    work_ = tmp_.path() + "/work";
    std::filesystem::create_directories(work_);
    std::filesystem::create_directories(tmp_.path() + "/outside");
    WriteFile(tmp_.path() + "/outside/secret.txt", "SECRET");
    WriteFile(work_ + "/notes.txt", "first notes\n");
    WriteFile(work_ + "/big.txt", std::string(5000, 'x'));
    policy_ = tmp_.path() + "/policy";
    std::filesystem::create_directories(policy_ + "/policies");
    std::filesystem::copy_file(AIK_SOURCE_DIR "/config/policies/default.cedar",
                               policy_ + "/policies/default.cedar");
    daemon_ = std::make_unique<DaemonProcess>(tmp_.path());
    daemon_->set_policy_dir(policy_);
  }

  void Start(const std::string& extra_tools = "") {
    DaemonConfig c;
    c.daemon = "logs_dir = \"" + tmp_.path() + "/logs\"\n";
    c.audit = "synchronous = \"normal\"\n";
    daemon_->WriteConfigText(c.Render() + "\n[tools]\nmax_args_bytes = 2048\n" +
                             "max_result_bytes = 4096\n" + extra_tools + "\n[tools.fs]\nroots = [{ name = \"work\", path = \"" + work_ +
                             "\", writable = true }]\n[tools.http]\nmax_response_bytes = 1000\n"
                             "[tools.exec]\nprofiles = [\"default\"]\nmax_output_bytes = 1000\n");
    ASSERT_TRUE(daemon_->Start());
    client_ = ConnectTo(*daemon_);
    ASSERT_NE(client_, nullptr);
  }

  // An agent "fetcher" in group "fetchers", and options to call as it.
  ToolCallOptions Fetcher() {
    CmdResult run =
        AictlJson(*daemon_, {"agent", "run", "fetcher", "--group", "fetchers", "--", "/bin/true"});
    EXPECT_EQ(run.exit_code, 0) << run.Describe();
    ToolCallOptions as;
    as.as_agent = "fetcher";
    return as;
  }

  Result<json> Call(const std::string& tool, const json& args) {
    auto r = client_->CallTool(tool, args.dump());
    if (!r.ok()) return r.status();
    last_ = *r;
    return json::parse(r->result_json);
  }

  // Starts the daemon in a mount namespace of its own whose /etc/hosts
  // names kDualHost twice, ::1 first (the order getaddrinfo sorts them in),
  // so a server listening only on 127.0.0.1 (TinyHttp) is refused on the
  // first address. The machine's /etc/hosts is not touched. "" once the
  // namespace resolves the name so, else why it cannot be done here.
  std::string DualStackDaemon() {
    if (geteuid() != 0) return "not running as root (unshare --mount needs it)";
    const char* unshare = access("/usr/bin/unshare", X_OK) == 0 ? "/usr/bin/unshare" : nullptr;
    if (unshare == nullptr) return "no /usr/bin/unshare (util-linux)";
    const std::string hosts = tmp_.path() + "/hosts";
    WriteFile(hosts, std::string("127.0.0.1 localhost\n::1 ") + kDualHost + "\n127.0.0.1 " +
                         kDualHost + "\n");
    std::vector<std::string> prefix = {unshare, "--mount", "--", "/bin/sh", "-c",
                                       "mount --bind \"$1\" /etc/hosts && shift && exec \"$@\"",
                                       "sh", hosts};
    std::vector<std::string> probe = prefix;
    probe.insert(probe.end(), {"getent", "ahosts", kDualHost});
    CmdResult r = RunCommand(probe);
    if (r.exit_code != 0) return "a mount namespace with its own /etc/hosts: " + r.Describe();
    const size_t v6 = r.out.find("::1 "), v4 = r.out.find("127.0.0.1 ");
    if (v6 == std::string::npos || v4 == std::string::npos || v6 > v4) {
      return std::string(kDualHost) + " does not resolve to ::1 then 127.0.0.1 here: " + r.out;
    }
    daemon_->set_exec_prefix(prefix);
    return "";
  }

  // How many tool.call records of step `step` (http.fetch's "redirect",
  // "address") the ledger has with `decision`.
  int StepRecords(const std::string& step, Decision decision) {
    AuditFilter f;
    f.action = "tool.call";
    int n = 0;
    for (const auto& rec : Query(*client_, f)) {
      if (rec.decision == decision &&
          std::find(rec.rule_ids.begin(), rec.rule_ids.end(), "step:" + step) != rec.rule_ids.end()) {
        ++n;
      }
    }
    return n;
  }

  const AuditRecord* Record(uint64_t seq) {
    AuditFilter f;
    f.action = "tool.call";
    records_ = Query(*client_, f);
    for (const auto& r : records_) {
      if (r.sequence == seq) return &r;
    }
    return nullptr;
  }

  TempDir tmp_;
  std::string work_, policy_;
  std::unique_ptr<DaemonProcess> daemon_;
  std::unique_ptr<Client> client_;
  ToolCallResult last_;
  std::vector<AuditRecord> records_;
};

TEST_F(BuiltinsTest, FsUnderTheRootAndNowhereElse) {
  Start();
  auto w = Call("fs.write", {{"root", "work"}, {"path", "out/../plan.md"}, {"content", "x"}});
  EXPECT_FALSE(w.ok()) << "out/ does not exist";
  w = Call("fs.write", {{"root", "work"}, {"path", "plan.md"}, {"content", "step 1\n"}});
  ASSERT_TRUE(w.ok()) << w.status().ToString();
  EXPECT_EQ(ReadFile(work_ + "/plan.md"), "step 1\n");
  auto r = Call("fs.read", {{"root", "work"}, {"path", "plan.md"}});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ((*r)["content"], "step 1\n");
  const AuditRecord* rec = Record(last_.audit_sequence);
  ASSERT_NE(rec, nullptr);
  EXPECT_EQ(rec->resource, "tool:fs.read");
  EXPECT_THAT(rec->rule_ids, ::testing::Contains("tool.provider:builtin"));

  std::filesystem::create_symlink(tmp_.path() + "/outside", work_ + "/out");
  for (const std::string& path :
       {std::string("../outside/secret.txt"), tmp_.path() + "/outside/secret.txt",
        std::string("out/secret.txt")}) {
    auto bad = Call("fs.read", {{"root", "work"}, {"path", path}});
    ASSERT_FALSE(bad.ok()) << path << " was read: " << bad->dump();
    EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument) << path;
    EXPECT_THAT(bad.status().message(), HasSubstr("args.path")) << path;
  }

  // aictl, as JSON.
  CmdResult ls = AictlJson(*daemon_, {"tool", "call", "fs.list", "--args",
                                      R"({"root":"work"})"});
  ASSERT_EQ(ls.exit_code, 0) << ls.Describe();
  json entries = ParseJson(ls.out)["result"]["entries"];
  std::vector<std::string> names;
  for (const auto& e : entries) names.push_back(e["name"]);
  EXPECT_EQ(names, (std::vector<std::string>{"big.txt", "notes.txt", "out", "plan.md"}));
}

TEST_F(BuiltinsTest, OversizedArgumentsAndResultsAreRefusedAndAudited) {
  Start();
  auto big_args = client_->CallTool("fs.write", json{{"root", "work"}, {"path", "a"},
                                                     {"content", std::string(3000, 'a')}}
                                                    .dump());
  EXPECT_EQ(big_args.status().code(), StatusCode::kResourceExhausted);
  EXPECT_THAT(big_args.status().message(), HasSubstr("max_args_bytes = 2048"));
  EXPECT_FALSE(std::filesystem::exists(work_ + "/a"));

  auto big_result = client_->CallTool("fs.read", R"({"root":"work","path":"big.txt"})");
  EXPECT_EQ(big_result.status().code(), StatusCode::kResourceExhausted);
  EXPECT_THAT(big_result.status().message(), HasSubstr("max_result_bytes"));
  AuditFilter f;
  f.action = "tool.call";
  auto recs = Query(*client_, f);
  ASSERT_EQ(recs.size(), 2u);
  EXPECT_EQ(recs[0].rule_ids, std::vector<std::string>{"precheck"});
  EXPECT_EQ(recs[0].code, 8);  // RESOURCE_EXHAUSTED
  EXPECT_EQ(recs[1].code, 8);
  EXPECT_EQ(recs[1].decision, Decision::kAllow);
  bool bytes_recorded = false;
  for (const auto& id : recs[1].rule_ids) {
    if (id.rfind("tool.result_bytes:", 0) == 0) {
      bytes_recorded = std::stoul(id.substr(18)) > 4096;
    }
  }
  EXPECT_TRUE(bytes_recorded) << ::testing::PrintToString(recs[1].rule_ids);
}

TEST_F(BuiltinsTest, HttpFetchFollowsAllowedRedirectsAndRefusesAForbiddenHop) {
  TinyHttp http;
  // Operators may call everything; this forbid makes one host off limits,
  // for them too.
  WriteFile(policy_ + "/policies/http.cedar", R"(@id("t.no-localhost")
forbid(principal, action == Action::"tool.call", resource == Tool::"http.fetch")
  when { context has http && context.http.host == "localhost" };
)");
  Start();
  auto r = Call("http.fetch", {{"url", http.Url("/hello")}});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ((*r)["status"], 200);
  EXPECT_EQ((*r)["body"], "hello from loopback");
  EXPECT_EQ((*r)["headers"]["x-test"], "yes");

  auto via = Call("http.fetch", {{"url", http.Url("/to-hello")}});
  ASSERT_TRUE(via.ok()) << via.status().ToString();
  EXPECT_EQ((*via)["body"], "hello from loopback");
  EXPECT_EQ((*via)["redirects"].size(), 1u);
  // The hop was decided and recorded.
  AuditFilter f;
  f.action = "tool.call";
  auto recs = Query(*client_, f);
  bool hop = false;
  for (const auto& rec : recs) {
    hop = hop || std::find(rec.rule_ids.begin(), rec.rule_ids.end(), "step:redirect") != rec.rule_ids.end();
  }
  EXPECT_TRUE(hop);

  const int before = http.hits("/hello");
  auto away = Call("http.fetch", {{"url", http.Url("/to-localhost")}});
  ASSERT_FALSE(away.ok());
  EXPECT_EQ(away.status().code(), StatusCode::kPermissionDenied);
  EXPECT_THAT(away.status().message(), HasSubstr("redirect 1"));
  EXPECT_THAT(away.status().message(), HasSubstr("t.no-localhost"));
  EXPECT_EQ(http.hits("/hello"), before) << "the forbidden hop was requested";
  // Straight to the forbidden host: denied by policy before any request.
  auto direct = Call("http.fetch", {{"url", http.Url("/hello", "localhost")}});
  EXPECT_EQ(direct.status().code(), StatusCode::kPermissionDenied);
  EXPECT_EQ(http.hits("/hello"), before);

  auto big = Call("http.fetch", {{"url", http.Url("/big")}});
  EXPECT_EQ(big.status().code(), StatusCode::kResourceExhausted);
  auto scheme = Call("http.fetch", {{"url", "file:///etc/passwd"}});
  EXPECT_EQ(scheme.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(scheme.status().message(), HasSubstr("args.url: scheme 'file'"));
}

TEST_F(BuiltinsTest, HttpFetchContextLetsPolicyAllowOneHostForAnAgent) {
  TinyHttp http;
  WriteFile(policy_ + "/policies/agent.cedar", R"(@id("t.fetch-loopback")
permit(principal in Group::"fetchers", action == Action::"tool.call",
       resource == Tool::"http.fetch")
  when { context.http.scheme == "http" && context.http.host == "127.0.0.1" &&
         context.http.port == )" + std::to_string(http.port()) +
                                               R"( && context.http.method == "GET" };
)");
  Start();
  ToolCallOptions as;
  ASSERT_NO_FATAL_FAILURE(as = Fetcher());
  auto ok = client_->CallTool("http.fetch", json{{"url", http.Url("/hello")}}.dump(), as);
  ASSERT_TRUE(ok.ok()) << ok.status().ToString();
  auto post = client_->CallTool(
      "http.fetch", json{{"url", http.Url("/hello")}, {"method", "POST"}}.dump(), as);
  EXPECT_EQ(post.status().code(), StatusCode::kPermissionDenied);
  auto other_port = client_->CallTool("http.fetch", json{{"url", "http://127.0.0.1:1/"}}.dump(), as);
  EXPECT_EQ(other_port.status().code(), StatusCode::kPermissionDenied);
  // Credentials are not carried to another host on a redirect (operator call).
  auto auth = Call("http.fetch", {{"url", http.Url("/to-localhost-auth")},
                                  {"headers", {{"Authorization", "Bearer t0ken"}}}});
  ASSERT_TRUE(auth.ok()) << auth.status().ToString();
  EXPECT_EQ((*auth)["body"], "no-auth");
}

// context.http.ip is the address the kernel resolved (and then connects to,
// pinned): policy can decide on it whatever name the URL used.
TEST_F(BuiltinsTest, HttpFetchIsDecidedOnTheResolvedAddress) {
  TinyHttp http;
  WriteFile(policy_ + "/policies/addr.cedar", R"(@id("t.loopback-only-by-number")
forbid(principal, action == Action::"tool.call", resource == Tool::"http.fetch")
  when { context has http && context.http.ip.isInRange(ip("127.0.0.0/8")) &&
         context.http.host != "127.0.0.1" };
@id("t.agents-fetch-loopback")
permit(principal in Group::"fetchers", action == Action::"tool.call",
       resource == Tool::"http.fetch")
  when { context has http && context.http.ip.isLoopback() };
)");
  Start();
  const int before = http.hits("/hello");
  // "localhost" resolves into 127.0.0.0/8: denied before any request.
  auto byname = Call("http.fetch", {{"url", http.Url("/hello", "localhost")}});
  ASSERT_FALSE(byname.ok());
  EXPECT_EQ(byname.status().code(), StatusCode::kPermissionDenied);
  EXPECT_THAT(byname.status().message(), HasSubstr("t.loopback-only-by-number"));
  EXPECT_EQ(http.hits("/hello"), before);
  // A redirect to it is resolved and decided again.
  auto hop = Call("http.fetch", {{"url", http.Url("/to-localhost")}});
  EXPECT_EQ(hop.status().code(), StatusCode::kPermissionDenied);
  EXPECT_THAT(hop.status().message(), HasSubstr("redirect 1"));
  EXPECT_EQ(http.hits("/hello"), before);
  // The literal address is allowed, and the agent's grant by address works.
  auto bynumber = Call("http.fetch", {{"url", http.Url("/hello")}});
  ASSERT_TRUE(bynumber.ok()) << bynumber.status().ToString();
  EXPECT_EQ(http.hits("/hello"), before + 1);
  ToolCallOptions as;
  ASSERT_NO_FATAL_FAILURE(as = Fetcher());
  auto agent = client_->CallTool("http.fetch", json{{"url", http.Url("/hello")}}.dump(), as);
  ASSERT_TRUE(agent.ok()) << agent.status().ToString();
  auto away = client_->CallTool("http.fetch", json{{"url", "http://192.0.2.1:9/"}}.dump(), as);
  EXPECT_EQ(away.status().code(), StatusCode::kPermissionDenied) << "not loopback: default deny";
  // A host that does not resolve is named.
  auto nohost = Call("http.fetch", {{"url", "http://no-such-host.invalid/"}});
  EXPECT_EQ(nohost.status().code(), StatusCode::kUnavailable);
  EXPECT_THAT(nohost.status().message(), HasSubstr("cannot resolve host 'no-such-host.invalid'"));
}

// A host with two addresses where the first refuses connections: the
// second is decided (step "address", in the ledger) and used, for the call
// and for a redirect hop to that host.
TEST_F(BuiltinsTest, HttpFetchFallsBackToTheNextAddressDecidedAgain) {
  TinyHttp http;  // 127.0.0.1 only: ::1 refuses
  if (std::string why = DualStackDaemon(); !why.empty()) GTEST_SKIP() << why;
  Start();
  const int before = http.hits("/hello");
  auto r = Call("http.fetch", {{"url", http.Url("/hello", kDualHost)}});
  ASSERT_TRUE(r.ok()) << r.status().ToString() << "\n" << daemon_->Log();
  EXPECT_EQ((*r)["body"], "hello from loopback");
  EXPECT_EQ((*r)["address"], "127.0.0.1");
  ASSERT_EQ((*r)["fallbacks"].size(), 1u) << r->dump();
  EXPECT_EQ((*r)["fallbacks"][0]["address"], "::1");
  EXPECT_EQ((*r)["fallbacks"][0]["reason"], "connect");
  EXPECT_EQ(http.hits("/hello"), before + 1);
  EXPECT_EQ(StepRecords("address", Decision::kAllow), 1);

  // The same for a redirect hop to that host.
  auto hop = Call("http.fetch", {{"url", http.Url("/to-dual")}});
  ASSERT_TRUE(hop.ok()) << hop.status().ToString();
  EXPECT_EQ((*hop)["body"], "hello from loopback");
  EXPECT_EQ((*hop)["address"], "127.0.0.1");
  ASSERT_EQ((*hop)["fallbacks"].size(), 1u) << hop->dump();
  EXPECT_EQ((*hop)["fallbacks"][0]["url"], http.Url("/hello", kDualHost));
  EXPECT_EQ(StepRecords("redirect", Decision::kAllow), 1);
  EXPECT_EQ(StepRecords("address", Decision::kAllow), 2);

  // An address literal has one address: nothing to fall back to.
  auto lit = Call("http.fetch", {{"url", "http://[::1]:" + std::to_string(http.port()) + "/"}});
  EXPECT_EQ(lit.status().code(), StatusCode::kUnavailable);
  EXPECT_THAT(lit.status().message(), HasSubstr("no address of '[::1]' could be used: ::1 ("));
}

// The call's timeout covers every try; each connect gets an equal share of
// what is left (here 2 addresses: about half), so an address that never
// answers leaves time for the next. With the whole timeout spent on ::1
// the call would fail.
TEST_F(BuiltinsTest, HttpFetchGivesEachAddressAShareOfTheTimeout) {
  TinyHttp http;
  Blackhole hole;
  if (std::string why = hole.Fill(http.port()); !why.empty()) GTEST_SKIP() << why;
  if (std::string why = DualStackDaemon(); !why.empty()) GTEST_SKIP() << why;
  Start();
  const auto t0 = std::chrono::steady_clock::now();
  auto r = Call("http.fetch", {{"url", http.Url("/hello", kDualHost)}, {"timeout_ms", 3000}});
  const auto took = std::chrono::steady_clock::now() - t0;
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ((*r)["address"], "127.0.0.1");
  ASSERT_EQ((*r)["fallbacks"].size(), 1u) << r->dump();
  EXPECT_EQ((*r)["fallbacks"][0]["address"], "::1");
  EXPECT_THAT((*r)["fallbacks"][0]["error"].get<std::string>(), HasSubstr("no connection within"));
  EXPECT_GE(took, std::chrono::milliseconds(1400)) << "::1 was not waited for";

  // One address that never answers: the whole timeout, then the error
  // (the daemon's message, not the SDK's own "no reply").
  auto one = Call("http.fetch", {{"url", "http://[::1]:" + std::to_string(http.port()) + "/"},
                                 {"timeout_ms", 500}});
  ASSERT_FALSE(one.ok()) << one->dump();
  EXPECT_EQ(one.status().code(), StatusCode::kDeadlineExceeded);
  EXPECT_THAT(one.status().message(), HasSubstr("the call's time ran out"));
  EXPECT_THAT(one.status().message(), HasSubstr("::1 (no connection within"));
}

// Policy that forbids the second address: it is refused (a deny record of
// step "address") and never contacted; the error names both addresses.
TEST_F(BuiltinsTest, HttpFetchRefusesAFallbackAddressPolicyForbids) {
  TinyHttp http;
  WriteFile(policy_ + "/policies/v4.cedar", R"(@id("t.no-127.0.0.1")
forbid(principal, action == Action::"tool.call", resource == Tool::"http.fetch")
  when { context has http && context.http.ip == ip("127.0.0.1") };
)");
  if (std::string why = DualStackDaemon(); !why.empty()) GTEST_SKIP() << why;
  Start();
  const int before = http.hits("/hello");
  auto r = Call("http.fetch", {{"url", http.Url("/hello", kDualHost)}});
  ASSERT_FALSE(r.ok()) << r->dump();
  EXPECT_EQ(r.status().code(), StatusCode::kPermissionDenied);
  EXPECT_THAT(r.status().message(), HasSubstr("no address of 'dual.aik.test' could be used"));
  EXPECT_THAT(r.status().message(), HasSubstr("::1 (Couldn't connect to server)"));
  EXPECT_THAT(r.status().message(), HasSubstr("127.0.0.1 (refused: permission denied: address"));
  EXPECT_THAT(r.status().message(), HasSubstr("t.no-127.0.0.1"));
  EXPECT_EQ(http.hits("/hello"), before) << "the forbidden address was contacted";
  EXPECT_EQ(StepRecords("address", Decision::kDeny), 1);
  EXPECT_EQ(StepRecords("address", Decision::kAllow), 0);
}

// proc.exec runs in the daemon's [profiles.<name>], not only the builtins.
TEST_F(BuiltinsTest, ProcExecUsesAProfileFromTheConfig) {
  DaemonConfig c;
  c.daemon = "logs_dir = \"" + tmp_.path() + "/logs\"\n";
  daemon_->WriteConfigText(c.Render() +
                           "\n[tools.exec]\nprofiles = [\"shell\"]\n"
                           "\n[profiles.shell]\nbase = \"trusted\"\nlandlock = false\n");
  ASSERT_TRUE(daemon_->Start());
  client_ = ConnectTo(*daemon_);
  ASSERT_NE(client_, nullptr);
  auto r = Call("proc.exec", {{"argv", {"/bin/echo", "in shell"}}, {"profile", "shell"}});
  ASSERT_TRUE(r.ok()) << r.status().ToString() << "\n" << daemon_->Log();
  EXPECT_EQ((*r)["exit_code"], 0);
  EXPECT_EQ((*r)["stdout"], "in shell\n");
}

TEST_F(BuiltinsTest, ProcExecRunsConfinedWithTimeoutAndOutputCap) {
  Start();
  auto echo = Call("proc.exec", {{"argv", {"/bin/echo", "hi", "there"}}});
  ASSERT_TRUE(echo.ok()) << echo.status().ToString() << "\n" << daemon_->Log();
  EXPECT_EQ((*echo)["exit_code"], 0);
  EXPECT_EQ((*echo)["stdout"], "hi there\n");
  EXPECT_EQ((*echo)["timed_out"], false);
  EXPECT_FALSE(last_.is_error);

  auto fail = Call("proc.exec", {{"argv", {"/bin/sh", "-c", "echo oops >&2; exit 7"}}});
  ASSERT_TRUE(fail.ok()) << fail.status().ToString();
  EXPECT_EQ((*fail)["exit_code"], 7);
  EXPECT_EQ((*fail)["stderr"], "oops\n");

  const auto t0 = std::chrono::steady_clock::now();
  auto slow = Call("proc.exec", {{"argv", {"/bin/sleep", "30"}}, {"timeout_ms", 300}});
  const auto took = std::chrono::steady_clock::now() - t0;
  ASSERT_TRUE(slow.ok()) << slow.status().ToString();
  EXPECT_EQ((*slow)["timed_out"], true);
  EXPECT_TRUE(last_.is_error);
  EXPECT_EQ((*slow)["exit_code"], 128 + 9);
  EXPECT_LT(took, std::chrono::seconds(10));

  auto flood = Call("proc.exec", {{"argv", {"/bin/sh", "-c", "yes | head -c 200000"}}});
  ASSERT_TRUE(flood.ok()) << flood.status().ToString();
  EXPECT_EQ((*flood)["stdout"].get<std::string>().size(), 1000u);
  EXPECT_EQ((*flood)["stdout_truncated"], true);
  EXPECT_EQ((*flood)["exit_code"], 0);

  auto profile = Call("proc.exec", {{"argv", {"/bin/true"}}, {"profile", "trusted"}});
  EXPECT_EQ(profile.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(profile.status().message(), HasSubstr("args.profile"));

  // aictl exits 1 when the tool reports an error (the timeout).
  CmdResult cli = AictlJson(*daemon_, {"tool", "call", "proc.exec", "--args",
                                       R"({"argv":["/bin/sleep","30"],"timeout_ms":200})"});
  EXPECT_EQ(cli.exit_code, 1) << cli.Describe();
  EXPECT_EQ(ParseJson(cli.out)["result"]["timed_out"], true);
}

}  // namespace
}  // namespace aikernel::testing
