#include "agents/spec.h"

#include <gtest/gtest.h>

namespace aikernel::agents {
namespace {

constexpr char kFull[] = R"(
name = "hello"
command = "/usr/bin/hello"
args = ["--interval", "5s"]
workdir = "/srv/hello"
groups = ["demo", "team-a"]
priority = 70
profile = "trusted"
uid = 1000
gid = 1000
stop_grace_ms = 2000

[env]
GREETING = "hi"

[restart]
policy = "on-failure"
backoff_initial_ms = 100
backoff_max_ms = 1000
max_restarts = 3
window_ms = 10000

[limits]
memory_bytes = 134217728
pids = 32
cpu = 0.5
open_files = 128
timeout_ms = 60000

[quotas]
calls_per_minute = 600
calls_per_hour = 10000
calls_total = 50000
bytes_per_minute = 1048576
bytes_per_hour = 8388608
tool_calls = 250

[quotas.actions."memory.write"]
per_minute = 60
total = 1000
)";

TEST(SpecTest, ParsesEveryField) {
  auto s = ParseSpecToml(kFull, "hello.toml");
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->name, "hello");
  EXPECT_EQ(s->command, "/usr/bin/hello");
  EXPECT_EQ(s->args, (std::vector<std::string>{"--interval", "5s"}));
  EXPECT_EQ(s->workdir, "/srv/hello");
  EXPECT_EQ(s->groups, (std::vector<std::string>{"demo", "team-a"}));
  EXPECT_EQ(s->priority, 70);
  EXPECT_EQ(s->profile, "trusted");
  EXPECT_EQ(s->uid, 1000);
  EXPECT_EQ(s->stop_grace_ms, 2000);
  EXPECT_EQ(s->env.at("GREETING"), "hi");
  EXPECT_EQ(s->restart.policy, RestartPolicy::kOnFailure);
  EXPECT_EQ(s->restart.backoff_initial_ms, 100);
  EXPECT_EQ(s->restart.backoff_max_ms, 1000);
  EXPECT_EQ(s->restart.max_restarts, 3);
  EXPECT_EQ(s->restart.window_ms, 10000);
  EXPECT_EQ(s->limits.memory_bytes, 134217728);
  EXPECT_EQ(s->limits.pids, 32);
  EXPECT_DOUBLE_EQ(s->limits.cpu, 0.5);
  EXPECT_EQ(s->limits.open_files, 128);
  EXPECT_EQ(s->limits.timeout_ms, 60000);
  EXPECT_EQ(s->quotas.calls.per_minute, 600);
  EXPECT_EQ(s->quotas.calls.per_hour, 10000);
  EXPECT_EQ(s->quotas.calls.total, 50000);
  EXPECT_EQ(s->quotas.bytes_per_minute, 1048576);
  EXPECT_EQ(s->quotas.bytes_per_hour, 8388608);
  EXPECT_EQ(s->quotas.tool_calls, 250);
  ASSERT_EQ(s->quotas.actions.size(), 1u);
  EXPECT_EQ(s->quotas.actions.at("memory.write"), (CallQuota{60, 0, 1000}));
}

TEST(SpecTest, MinimalSpecTakesDefaults) {
  auto s = ParseSpecToml("name = \"a\"\ncommand = \"/bin/true\"\n", "a.toml");
  ASSERT_TRUE(s.ok()) << s.status();
  AgentSpec d;
  EXPECT_EQ(s->priority, d.priority);
  EXPECT_EQ(s->profile, "default");
  EXPECT_EQ(s->uid, -1);
  EXPECT_EQ(s->restart.policy, RestartPolicy::kNo);
  EXPECT_EQ(s->limits.memory_bytes, d.limits.memory_bytes);
}

TEST(SpecTest, RoundTripsThroughToml) {
  auto s = ParseSpecToml(kFull, "hello.toml");
  ASSERT_TRUE(s.ok());
  std::string text = SpecToToml(*s);
  auto back = ParseSpecToml(text, "again.toml");
  ASSERT_TRUE(back.ok()) << back.status() << "\n" << text;
  EXPECT_EQ(SpecToToml(*back), text);
  EXPECT_EQ(back->env, s->env);
  EXPECT_EQ(back->args, s->args);
  EXPECT_EQ(back->quotas, s->quotas);
  EXPECT_FALSE(back->quotas.empty());
}

TEST(SpecTest, QuotesAwkwardStrings) {
  AgentSpec s;
  s.name = "q";
  s.command = "/bin/echo";
  s.args = {"a \"quoted\" \\ word", "line\nbreak", "\x01"};
  auto back = ParseSpecToml(SpecToToml(s), "q.toml");
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->args, s.args);
}

struct BadCase {
  const char* toml;
  const char* expect;  // substring of the message: the field and the reason
};

class BadSpecTest : public ::testing::TestWithParam<BadCase> {};

TEST_P(BadSpecTest, NamesTheFieldAndTheReason) {
  auto s = ParseSpecToml(GetParam().toml, "bad.toml");
  ASSERT_FALSE(s.ok()) << GetParam().toml;
  EXPECT_EQ(s.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(s.status().message().find(GetParam().expect), std::string::npos)
      << s.status().message();
  EXPECT_EQ(s.status().message().rfind("bad.toml", 0), 0u) << s.status().message();
}

INSTANTIATE_TEST_SUITE_P(
    Cases, BadSpecTest,
    ::testing::Values(
        BadCase{"command = \"/bin/true\"\n", "name: '' must be"},
        BadCase{"name = \"Hello\"\ncommand = \"/bin/true\"\n", "name: 'Hello' must be"},
        BadCase{"name = \"a\"\n", "command: must not be empty"},
        BadCase{"name = \"a\"\ncommand = \"true\"\n", "command: 'true' must be an absolute path"},
        BadCase{"name = \"a\"\ncommand = \"/bin/true\"\npriority = 101\n",
                "priority: must be between 0 and 100, got 101"},
        BadCase{"name = \"a\"\ncommand = \"/bin/true\"\npriority = \"high\"\n",
                "priority: expected an integer"},
        BadCase{"name = \"a\"\ncommand = \"/bin/true\"\ncolour = 1\n", "colour: unknown key"},
        BadCase{"name = \"a\"\ncommand = \"/bin/true\"\n[restart]\npolicy = \"sometimes\"\n",
                "restart.policy: expected one of no, on-failure, always"},
        BadCase{"name = \"a\"\ncommand = \"/bin/true\"\n[restart]\nbackoff_initial_ms = 10\n"
                "backoff_max_ms = 5\n",
                "restart.backoff_max_ms: must not be less than"},
        BadCase{"name = \"a\"\ncommand = \"/bin/true\"\n[limits]\nmemory_bytes = 10\n",
                "limits.memory_bytes: must be between"},
        BadCase{"name = \"a\"\ncommand = \"/bin/true\"\n[limits]\ncpu = -1.0\n",
                "limits.cpu: must be between"},
        BadCase{"name = \"a\"\ncommand = \"/bin/true\"\n[limits]\nswap = 1\n",
                "limits.swap: unknown key"},
        BadCase{"name = \"a\"\ncommand = \"/bin/true\"\n[env]\nAIKERNEL_FD = \"4\"\n",
                "env.AIKERNEL_FD: is set by the kernel"},
        BadCase{"name = \"a\"\ncommand = \"/bin/true\"\n[env]\n\"1X\" = \"4\"\n",
                "env: '1X' is not a valid variable name"},
        BadCase{"name = \"a\"\ncommand = \"/bin/true\"\nworkdir = \"rel\"\n",
                "workdir: 'rel' must be an absolute path"},
        BadCase{"name = \"a\"\ncommand = \"/bin/true\"\ngroups = [\"ok\", \"Not OK\"]\n",
                "groups[1]"},
        BadCase{"name = \"a\"\ncommand = \"/bin/true\"\nuid = 0\n",
                "uid: must be between 1 and"},
        BadCase{"name = \"a\"\ncommand = \"/bin/true\"\nargs = [1]\n",
                "args: expected an array of strings"},
        BadCase{"name = \"a\"\ncommand = \"/bin/true\"\n[quotas]\ncalls_per_minute = -1\n",
                "quotas.calls_per_minute: must be between 0 and"},
        BadCase{"name = \"a\"\ncommand = \"/bin/true\"\n[quotas]\ntool_calls = \"many\"\n",
                "quotas.tool_calls: expected an integer"},
        BadCase{"name = \"a\"\ncommand = \"/bin/true\"\n[quotas]\ncalls_per_day = 1\n",
                "quotas.calls_per_day: unknown key"},
        BadCase{"name = \"a\"\ncommand = \"/bin/true\"\n[quotas.actions.\"memory.write\"]\n"
                "per_day = 1\n",
                "quotas.actions.\"memory.write\".per_day: unknown key"},
        BadCase{"name = \"a\"\ncommand = \"/bin/true\"\n[quotas.actions.\"memory.write\"]\n"
                "total = -5\n",
                "quotas.actions.\"memory.write\".total: must be between 0 and"},
        BadCase{"name = \"a\"\ncommand = \"/bin/true\"\n[quotas.actions.\"Memory Write\"]\n"
                "total = 5\n",
                "quotas.actions: 'Memory Write' is not an action id"},
        BadCase{"name = \"a\"\ncommand = \n", "syntax error"}));

TEST(SpecTest, LoadSpecDirReadsTomlFilesAndRefusesDuplicates) {
  char tmpl[] = "/tmp/aik-spec-XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  std::string dir = tmpl;
  auto write = [&](const std::string& f, const std::string& text) {
    FILE* fp = fopen((dir + "/" + f).c_str(), "w");
    fputs(text.c_str(), fp);
    fclose(fp);
  };
  write("b.toml", "name = \"b\"\ncommand = \"/bin/true\"\n");
  write("a.toml", "name = \"a\"\ncommand = \"/bin/true\"\n");
  write("notes.txt", "ignored");
  auto specs = LoadSpecDir(dir);
  ASSERT_TRUE(specs.ok()) << specs.status();
  ASSERT_EQ(specs->size(), 2u);
  EXPECT_EQ((*specs)[0].name, "a");
  EXPECT_EQ((*specs)[1].name, "b");
  write("c.toml", "name = \"a\"\ncommand = \"/bin/true\"\n");
  auto dup = LoadSpecDir(dir);
  ASSERT_FALSE(dup.ok());
  EXPECT_NE(dup.status().message().find("already defined"), std::string::npos);
  EXPECT_TRUE(LoadSpecDir(dir + "/missing").ok());
  std::system(("rm -rf " + dir).c_str());
}

}  // namespace
}  // namespace aikernel::agents
