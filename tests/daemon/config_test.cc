#include "daemon/config.h"

#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

namespace aikernel::daemon {
namespace {

TEST(ConfigTest, EmptyFileGivesDefaults) {
  auto c = ParseConfig("", "t.toml");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->socket, "/run/aikernel/aikernel.sock");
  EXPECT_EQ(c->socket_mode, 0660u);
  EXPECT_EQ(c->audit_synchronous, "full");
  EXPECT_EQ(c->checkpoint_every_records, 1000);
}

TEST(ConfigTest, ShippedConfigParsesAndMatchesTheDefaults) {
  // config/aikerneld.toml documents every key with its default: parsing it
  // must give exactly what an empty file gives.
  std::string path = std::string(AIK_SOURCE_DIR) + "/config/aikerneld.toml";
  auto shipped = LoadConfig(path);
  ASSERT_TRUE(shipped.ok()) << shipped.status();
  auto defaults = ParseConfig("", "empty");
  EXPECT_TRUE(ChangedKeys(*shipped, *defaults).empty());
  // ... including every [memory] key the file sets.
  for (const char* key : {"memory.synchronous", "memory.default_max_bytes",
                          "memory.default_max_records"}) {
    EXPECT_EQ(shipped->positions.count(key), 1u) << key << " is not documented in the file";
  }
  EXPECT_EQ(shipped->memory_synchronous, "full");
  EXPECT_EQ(shipped->memory_default_max_bytes, int64_t{256} << 20);
  EXPECT_EQ(shipped->memory_default_max_records, 1'000'000);
}

TEST(ConfigTest, MemoryValuesAreReadAndNeedARestart) {
  auto c = ParseConfig(R"(
[memory]
synchronous = "normal"
default_max_bytes = 0
default_max_records = 5
)", "t.toml");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->memory_synchronous, "normal");
  EXPECT_EQ(c->memory_default_max_bytes, 0);
  EXPECT_EQ(c->memory_default_max_records, 5);
  EXPECT_EQ(ChangedKeys(Config{}, *c),
            (std::vector<std::string>{"memory.synchronous", "memory.default_max_bytes",
                                      "memory.default_max_records"}));
  EXPECT_FALSE(IsReloadable("memory.synchronous"));
  EXPECT_FALSE(IsReloadable("memory.default_max_bytes"));
}

TEST(ConfigTest, ValuesAreRead) {
  auto c = ParseConfig(R"(
[node]
name = "node-a"
[daemon]
socket_mode = "0600"
log_level = "debug"
[audit]
synchronous = "normal"
redact_fields = ["x"]
)", "t.toml");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->node_name, "node-a");
  EXPECT_EQ(c->socket_mode, 0600u);
  EXPECT_EQ(c->log_level, "debug");
  EXPECT_EQ(c->audit_synchronous, "normal");
  EXPECT_EQ(c->redact_fields, std::vector<std::string>{"x"});
}

struct BadCase {
  const char* name;
  const char* text;
  const char* expect;  // substring the error must contain
};

class BadConfigTest : public ::testing::TestWithParam<BadCase> {};

TEST_P(BadConfigTest, IsRefusedNamingFileLineAndKey) {
  auto c = ParseConfig(GetParam().text, "bad.toml");
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument);
  std::string msg(c.status().message());
  EXPECT_NE(msg.find("bad.toml:"), std::string::npos) << msg;
  EXPECT_NE(msg.find(GetParam().expect), std::string::npos) << msg;
}

INSTANTIATE_TEST_SUITE_P(
    Cases, BadConfigTest,
    ::testing::Values(
        BadCase{"UnknownKey", "[daemon]\nsockt = \"/x\"\n", "daemon.sockt: unknown key"},
        BadCase{"UnknownSection", "[deamon]\n", "deamon: unknown section"},
        BadCase{"BadLogLevel", "[daemon]\nlog_level = \"loud\"\n", "daemon.log_level: expected one of"},
        BadCase{"LogLevelNotString", "[daemon]\nlog_level = 3\n", "daemon.log_level"},
        BadCase{"SocketModeOpenToOthers", "[daemon]\nsocket_mode = \"0666\"\n", "daemon.socket_mode: must not grant"},
        BadCase{"SocketModeNotString", "[daemon]\nsocket_mode = 660\n", "daemon.socket_mode: expected an octal"},
        BadCase{"NegativeMessageSize", "[daemon]\nmax_message_bytes = -1\n", "daemon.max_message_bytes: must be between"},
        BadCase{"BadSynchronous", "[audit]\nsynchronous = \"sometimes\"\n", "audit.synchronous"},
        BadCase{"BadMemorySynchronous", "[memory]\nsynchronous = \"off\"\n", "memory.synchronous: expected"},
        BadCase{"NegativeMemoryQuota", "[memory]\ndefault_max_bytes = -1\n", "memory.default_max_bytes: must be between"},
        BadCase{"UnknownMemoryKey", "[memory]\npath = \"x\"\n", "memory.path: unknown key"},
        BadCase{"RedactNotStrings", "[audit]\nredact_fields = [1]\n", "audit.redact_fields"},
        BadCase{"MissingValue", "[daemon]\nsocket = \n", "syntax error"},
        BadCase{"DuplicateTable", "[audit]\nsynchronous = \"full\"\n[audit]\n", "syntax error"},
        BadCase{"TrustDomainNotSpiffe", "[identity]\ntrust_domain = \"Node A\"\n",
                "identity.trust_domain: not a SPIFFE trust domain"},
        BadCase{"TtlNotADuration", "[identity]\njwt_svid_ttl = 300\n",
                "identity.jwt_svid_ttl: expected a duration"},
        BadCase{"TtlBadUnit", "[identity]\njwt_svid_ttl = \"5y\"\n",
                "identity.jwt_svid_ttl: expected a duration"},
        BadCase{"TtlZero", "[identity]\nx509_svid_ttl = \"0s\"\n",
                "identity.x509_svid_ttl: must be between"},
        BadCase{"TtlOverMax", "[identity]\nmax_svid_ttl = \"1h\"\nx509_svid_ttl = \"2h\"\n",
                "identity.x509_svid_ttl: must not exceed identity.max_svid_ttl"},
        BadCase{"CaTooShort", "[identity]\nca_ttl = \"36h\"\n",
                "identity.ca_ttl: must be at least twice"},
        BadCase{"SkewTooLarge", "[identity]\nclock_skew = \"2h\"\n",
                "identity.clock_skew: must be between"}),
    [](const ::testing::TestParamInfo<BadCase>& info) { return std::string(info.param.name); });

TEST(ConfigTest, IdentityValuesAreRead) {
  auto c = ParseConfig(R"(
[identity]
trust_domain = "node-a.example"
x509_svid_ttl = "30m"
jwt_svid_ttl = "90s"
max_svid_ttl = "2h"
ca_ttl = "1d"
clock_skew = "5s"
)", "t.toml");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->trust_domain, "node-a.example");
  EXPECT_EQ(c->x509_svid_ttl_s, 1800);
  EXPECT_EQ(c->jwt_svid_ttl_s, 90);
  EXPECT_EQ(c->max_svid_ttl_s, 7200);
  EXPECT_EQ(c->ca_ttl_s, 86400);
  EXPECT_EQ(c->clock_skew_s, 5);
  EXPECT_EQ(TrustDomainOf(*c, "ignored"), "node-a.example");
}

TEST(ConfigTest, DefaultTrustDomainIsTheNodeNameMadeSpiffeValid) {
  EXPECT_EQ(DefaultTrustDomain("node-a"), "node-a");
  EXPECT_EQ(DefaultTrustDomain("Build Host#3.Example"), "build-host-3.example");
  EXPECT_EQ(DefaultTrustDomain(""), "localhost");
  EXPECT_EQ(DefaultTrustDomain(std::string(300, 'a')).size(), 255u);
  Config c;
  EXPECT_EQ(TrustDomainOf(c, "My_Node"), "my_node");
}

TEST(ConfigTest, Durations) {
  int64_t s = 0;
  EXPECT_TRUE(ParseDurationSeconds("1h30m", &s));
  EXPECT_EQ(s, 5400);
  EXPECT_TRUE(ParseDurationSeconds("365d", &s));
  EXPECT_EQ(s, 365 * 86400);
  EXPECT_TRUE(ParseDurationSeconds("0s", &s));
  EXPECT_EQ(s, 0);
  for (const char* bad : {"", "5", "m", "1x", "1h ", "-1s", "99999999999999999999s"}) {
    EXPECT_FALSE(ParseDurationSeconds(bad, &s)) << bad;
  }
}

TEST(ConfigTest, ErrorsCarryTheLine) {
  auto c = ParseConfig("[daemon]\n\n\nlog_level = \"loud\"\n", "f.toml");
  ASSERT_FALSE(c.ok());
  EXPECT_NE(std::string(c.status().message()).find("f.toml:4:"), std::string::npos)
      << c.status();
}

TEST(ConfigTest, MissingFileIsNotFound) {
  auto c = LoadConfig("/nonexistent/aikerneld.toml");
  EXPECT_EQ(c.status().code(), absl::StatusCode::kNotFound);
}

TEST(ConfigTest, ChangedKeysAndReloadability) {
  Config a, b;
  b.log_level = "debug";
  b.socket = "/tmp/other.sock";
  auto keys = ChangedKeys(a, b);
  EXPECT_EQ(keys, (std::vector<std::string>{"daemon.socket", "daemon.log_level"}));
  EXPECT_TRUE(IsReloadable("daemon.log_level"));
  EXPECT_FALSE(IsReloadable("daemon.socket"));
}

TEST(ConfigTest, McpHeadersReloadLiveAndOtherMcpChangesNeedARestart) {
  Config a, b;
  tools::mcp::ServerConfig web;
  web.name = "web";
  web.url = "http://127.0.0.1:3001/mcp";
  web.headers = {{"Authorization", "old", true}};
  a.mcp = {web};
  web.headers[0].value = "new";  // the file read again on reload
  b.mcp = {web};
  EXPECT_EQ(ChangedKeys(a, b), (std::vector<std::string>{"mcp.headers"}));
  EXPECT_TRUE(IsReloadable("mcp.headers"));
  b.mcp[0].call_timeout_ms = 5;
  EXPECT_EQ(ChangedKeys(a, b), (std::vector<std::string>{"mcp", "mcp.headers"}));
  EXPECT_FALSE(IsReloadable("mcp"));
}

TEST(ConfigTest, MsgAndPeerKeysAreDocumentedAndPeersParseOrAreNamed) {
  auto shipped = LoadConfig(std::string(AIK_SOURCE_DIR) + "/config/aikerneld.toml");
  ASSERT_TRUE(shipped.ok()) << shipped.status();
  for (const char* key : {"msg.synchronous", "msg.max_payload_bytes", "msg.default_ttl_ms",
                          "peer.listen", "peer.peers"}) {
    EXPECT_EQ(shipped->positions.count(key), 1u) << key << " is not documented in the file";
  }
  auto c = ParseConfig(
      "[peer]\nlisten = \"127.0.0.1:7443\"\npeers = [ { name = \"b\", trust_domain = "
      "\"nb\", address = \"10.0.0.2:7443\", bundle_file = \"/etc/b.pem\" } ]\n",
      "t.toml");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->peer_listen, "127.0.0.1:7443");
  ASSERT_EQ(c->peers.size(), 1u);
  EXPECT_EQ(c->peers[0].trust_domain, "nb");
  auto bad = ParseConfig("[peer]\npeers = [ { name = \"b\", colour = \"red\" } ]\n", "t.toml");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("peer.peers.colour"), std::string::npos) << bad.status();
  auto missing = ParseConfig("[peer]\npeers = [ { name = \"b\" } ]\n", "t.toml");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("needs name, trust_domain"), std::string::npos);
}

}  // namespace
}  // namespace aikernel::daemon

namespace aikernel::daemon {
namespace {

// `text` does not parse, with a message naming the file and holding
// `want`; returns the message.
std::string ExpectRefused(const std::string& text, const std::string& want) {
  auto c = ParseConfig(text, "bad.toml");
  EXPECT_FALSE(c.ok()) << text;
  if (c.ok()) return "";
  std::string msg(c.status().message());
  EXPECT_NE(msg.find("bad.toml:"), std::string::npos) << msg;
  EXPECT_NE(msg.find(want), std::string::npos) << text << " -> " << msg;
  return msg;
}

TEST(ConfigTest, McpEntriesParseWithDefaults) {
  auto c = ParseConfig(R"([[mcp]]
name = "files"
command = "/usr/bin/node"
args = ["server.js", "/srv"]
env = { A = "1" }
call_timeout_ms = 1000

[[mcp]]
name = "web"
command = "web-mcp"
sandbox = "default"
read_paths = ["/opt/web"]

[[mcp]]
name = "remote"
url = "http://127.0.0.1:3001/mcp"

[[mcp]]
name = "sealed"
command = "s"
sandbox = "sealed"

[profiles.sealed]
network = "none"

[tools.exec]
profiles = ["sealed", "trusted"]
)", "t.toml");
  ASSERT_TRUE(c.ok()) << c.status();
  ASSERT_EQ(c->mcp.size(), 4u);
  EXPECT_EQ(c->mcp[3].sandbox, "sealed");
  EXPECT_EQ(c->mcp[2].url, "http://127.0.0.1:3001/mcp");
  EXPECT_TRUE(c->mcp[2].command.empty());
  EXPECT_EQ(c->mcp[0].name, "files");
  EXPECT_EQ(c->mcp[0].args, (std::vector<std::string>{"server.js", "/srv"}));
  EXPECT_EQ(c->mcp[0].env.at("A"), "1");
  EXPECT_EQ(c->mcp[0].call_timeout_ms, 1000);
  EXPECT_EQ(c->mcp[0].sandbox, "trusted");
  EXPECT_EQ(c->mcp[0].uid, 65534);
  EXPECT_EQ(c->mcp[1].sandbox, "default");
  EXPECT_EQ(c->mcp[1].read_paths, (std::vector<std::string>{"/opt/web"}));
  auto none = ParseConfig("", "e");
  EXPECT_EQ(ChangedKeys(*c, *none),
            (std::vector<std::string>{"tools.exec.profiles", "mcp", "profiles"}));
  EXPECT_FALSE(IsReloadable("mcp"));
}

TEST(ConfigTest, BadMcpEntriesNameTheEntryAndField) {
  struct Case {
    const char* text;
    const char* want;
  } cases[] = {
      {"[mcp]\nname = \"x\"\n", "mcp: expected [[mcp]] tables"},
      {"[[mcp]]\nname = \"x\"\ncommand = \"c\"\nbogus = 1\n", "mcp[0].bogus: unknown key"},
      {"[[mcp]]\nname = \"x\"\ncommand = \"c\"\nargs = \"a\"\n", "mcp[0].args: expected an array"},
      {"[[mcp]]\nname = \"x\"\ncommand = \"c\"\nuid = 0\n", "mcp[0].uid: must be between"},
      {"[[mcp]]\nname = \"x\"\n", "command/url: give exactly one"},
      {"[[mcp]]\nname = \"x\"\ncommand = \"c\"\nurl = \"http://h/mcp\"\n",
       "command/url: give exactly one"},
      {"[[mcp]]\nname = \"x\"\nurl = \"ftp://h/mcp\"\n", "url: scheme must be http or https"},
      {"[[mcp]]\nname = \"x\"\nurl = \"http://h/mcp\"\nenv = { A = \"1\" }\n",
       "env: only for a command"},
      {"[[mcp]]\nname = \"x\"\nurl = 7\n", "mcp[0].url: expected a string"},
      {"[[mcp]]\nname = \"A.B\"\ncommand = \"c\"\n", "name: 'A.B' must be 1-64 of [a-z0-9_-]"},
      {"[[mcp]]\nname = \"x\"\ncommand = \"c\"\nsandbox = \"open\"\n",
       "mcp[0].sandbox: unknown profile 'open' (known: default, trusted"},
      {"[tools.exec]\nprofiles = [\"default\", \"sealed\"]\n",
       "tools.exec.profiles: unknown profile 'sealed'"},
      {"[[mcp]]\nname = \"x\"\ncommand = \"c\"\n[[mcp]]\nname = \"x\"\ncommand = \"d\"\n",
       "mcp[1].name: 'x' is used by another"},
  };
  for (const Case& k : cases) ExpectRefused(k.text, k.want);
}

TEST(ConfigTest, ProfilesAddToAndOverrideTheBuiltinOnes) {
  auto c = ParseConfig(R"(
[profiles.sealed]
network = "none"
landlock = false
writable_paths = ["/srv/shared"]
uid = 4000
[profiles.sealed.rlimits]
pids = 16

[profiles.trusted]
namespaces = ["pid"]
network = "loopback"
)", "p.toml");
  ASSERT_TRUE(c.ok()) << c.status();
  ASSERT_EQ(c->profiles.size(), 3u);
  const agents::AgentProfile& sealed = c->profiles.at("sealed");
  EXPECT_EQ(sealed.sandbox.name, "sealed");
  EXPECT_TRUE(sealed.sandbox.new_user_ns) << "starts from default";
  EXPECT_TRUE(sealed.sandbox.new_net_ns);
  EXPECT_FALSE(sealed.sandbox.loopback);
  EXPECT_FALSE(sealed.sandbox.landlock);
  EXPECT_TRUE(sealed.sandbox.seccomp);
  EXPECT_EQ(sealed.sandbox.writable_paths, std::vector<std::string>{"/srv/shared"});
  EXPECT_EQ(sealed.uid, 4000);
  EXPECT_EQ(sealed.gid, -1);
  EXPECT_EQ(sealed.caps.pids, 16);
  const agents::AgentProfile& trusted = c->profiles.at("trusted");
  EXPECT_TRUE(trusted.sandbox.new_pid_ns);
  EXPECT_FALSE(trusted.sandbox.new_ipc_ns);
  EXPECT_TRUE(trusted.sandbox.new_net_ns) << "overridden: own loopback";
  EXPECT_EQ(c->profiles.at("default"), agents::BuiltinProfiles().at("default"));
  EXPECT_EQ(ChangedKeys(Config{}, *c), std::vector<std::string>{"profiles"});
  EXPECT_FALSE(IsReloadable("profiles"));
  EXPECT_NE(agents::DescribeProfile(sealed).find("net:none"), std::string::npos);
}

TEST(ConfigTest, BadProfilesNameTheKey) {
  struct Case {
    const char* toml;
    const char* want;
  } cases[] = {
      {"[profiles.x]\nnetwork = \"wifi\"\n", "profiles.x.network: 'wifi': expected none"},
      {"[profiles.x]\nnamespaces = [\"time\"]\n", "profiles.x.namespaces: unknown namespace 'time'"},
      {"[profiles.x]\nnamespaces = [\"net\"]\n", "set by 'network'"},
      {"[profiles.x]\nnamespaces = [\"pid\"]\n", "profiles.x.namespaces: readonly_root and private_tmp"},
      {"[profiles.x]\nbase = \"x\"\n", "profiles.x.base: expected \"default\" or \"trusted\""},
      {"[profiles.x]\nuid = 0\n", "profiles.x.uid: must be between 1"},
      {"[profiles.x]\nwritable_paths = [\"rel\"]\n", "profiles.x.writable_paths: expected absolute"},
      {"[profiles.x]\ncolour = 1\n", "profiles.x.colour: unknown key"},
      {"[profiles.x.rlimits]\nswap = 1\n", "profiles.x.rlimits.swap: unknown key"},
      {"[profiles.\"Bad Name\"]\n", "a profile name is"},
  };
  for (const Case& k : cases) {
    auto c = ParseConfig(k.toml, "bad.toml");
    ASSERT_FALSE(c.ok()) << k.toml;
    EXPECT_NE(c.status().message().find(k.want), std::string::npos)
        << k.toml << " -> " << c.status().message();
    EXPECT_EQ(c.status().message().rfind("bad.toml:", 0), 0u) << c.status().message();
  }
}

}  // namespace
}  // namespace aikernel::daemon

namespace aikernel::daemon {
namespace {

// A directory of header secret files, removed at the end.
class SecretDir {
 public:
  SecretDir() {
    char t[] = "/tmp/aik-secrets-XXXXXX";
    path_ = ::mkdtemp(t);
  }
  ~SecretDir() { std::filesystem::remove_all(path_); }
  std::string Write(const std::string& name, const std::string& content, mode_t mode) {
    std::string p = path_ + "/" + name;
    std::ofstream(p) << content;
    ::chmod(p.c_str(), mode);
    return p;
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

std::string HttpEntry(const std::string& extra) {
  return "[[mcp]]\nname = \"web\"\nurl = \"http://127.0.0.1:1/mcp\"\n" + extra;
}

TEST(ConfigTest, McpHeadersAndSecretHeadersFromFiles) {
  SecretDir d;
  std::string token = d.Write("token", "Bearer s3cr3t-value\n", 0600);
  auto c = ParseConfig(HttpEntry("headers = { X-Team = \"infra\", X-Empty = \"\" }\n"
                                 "headers_from_file = { Authorization = \"" + token + "\" }\n"),
                       "t.toml");
  ASSERT_TRUE(c.ok()) << c.status();
  ASSERT_EQ(c->mcp.size(), 1u);
  std::vector<tools::mcp::HttpHeader> want = {{"X-Empty", "", false},
                                              {"X-Team", "infra", false},
                                              {"Authorization", "Bearer s3cr3t-value", true}};
  EXPECT_EQ(c->mcp[0].headers, want);
}

TEST(ConfigTest, BadMcpHeadersNameTheKeyAndNeverTheSecret) {
  SecretDir d;
  const std::string secret = "Bearer s3cr3t-value";
  std::string open = d.Write("open", secret, 0640);
  std::string other = d.Write("other", secret, 0600);
  ASSERT_EQ(::chown(other.c_str(), 65534, 65534), 0);
  std::string crlf = d.Write("crlf", "Bearer a\rb\n", 0600);
  std::string link = d.path() + "/link";
  ASSERT_EQ(::symlink(d.Write("target", secret, 0600).c_str(), link.c_str()), 0);
  auto from_file = [](const std::string& name, const std::string& path) {
    return HttpEntry("headers_from_file = { " + name + " = \"" + path + "\" }\n");
  };
  struct Case {
    std::string text;
    std::string want;
  } cases[] = {
      {from_file("Authorization", open),
       "mcp[0].headers_from_file.Authorization: " + open + " has mode 0640: it must not be"},
      {from_file("Authorization", other), "mcp[0].headers_from_file.Authorization: " + other +
                                              " is owned by uid 65534: it must be owned by root"},
      {from_file("Authorization", link), "headers_from_file.Authorization: " + link +
                                             " is a symlink, not a regular file"},
      {from_file("Authorization", d.path()), d.path() + " is not a regular file"},
      {from_file("Authorization", d.path() + "/missing"), "cannot open " + d.path() + "/missing"},
      {from_file("Authorization", "relative"), "'relative' is not an absolute path"},
      {from_file("Authorization", crlf),
       "headers.Authorization: the value contains CR, LF or NUL (from its file)"},
      {HttpEntry("headers = { Accept = \"*/*\" }\n"),
       "headers.Accept: the transport sets this header itself"},
      {HttpEntry("headers = { mcp-session-id = \"s\" }\n"),
       "headers.mcp-session-id: the transport sets this header itself"},
      {HttpEntry("headers = { Last-Event-ID = \"1\" }\n"), "headers.Last-Event-ID: the transport"},
      {HttpEntry("headers = { \"X Team\" = \"a\" }\n"), "headers.X Team: not an HTTP header name"},
      {HttpEntry("headers = { \"X-A\\r\\nHost\" = \"a\" }\n"), "contains CR, LF or NUL"},
      {HttpEntry("headers = { X-A = \"a\\r\\nHost: evil\" }\n"),
       "headers.X-A: the value contains CR, LF or NUL"},
      {HttpEntry("headers = { X-A = 1 }\n"), "mcp[0].headers.X-A: expected a string"},
      {HttpEntry("headers = \"X-A: 1\"\n"), "mcp[0].headers: expected a table of strings"},
      {HttpEntry("headers = { x-a = \"1\", X-A = \"2\" }\n"), "headers.x-a: given twice"},
      {"[[mcp]]\nname = \"x\"\ncommand = \"c\"\nheaders = { X-A = \"1\" }\n",
       "headers/headers_from_file: only for a url"},
  };
  for (const Case& k : cases) {
    std::string msg = ExpectRefused(k.text, k.want);
    EXPECT_EQ(msg.find("s3cr3t"), std::string::npos) << msg;
  }
}

}  // namespace
}  // namespace aikernel::daemon
