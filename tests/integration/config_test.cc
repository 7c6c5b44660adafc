// Start-up refusals: a bad configuration stops aikerneld with exit 78 naming
// the file and key; a missing --config file is named; a second daemon on a
// live socket refuses to start and leaves the first one alone.
#include <sys/stat.h>

#include <filesystem>

#include "integration/helpers.h"

namespace aikernel::testing {
namespace {

struct BadConfig {
  const char* name;
  const char* text;
  const char* must_name;  // the key (or, for a syntax error, what is wrong)
  const char* position;   // ":<line>:" the message must carry
};

void PrintTo(const BadConfig& bc, std::ostream* os) { *os << bc.name; }

class BadConfigStopsStartup : public ::testing::TestWithParam<BadConfig> {};

TEST_P(BadConfigStopsStartup, Exit78NamingFileAndKey) {
  const BadConfig& bc = GetParam();
  TempDir tmp;
  DaemonProcess d(tmp.path());
  d.WriteConfigText(bc.text);
  DaemonProcess::Exit e = d.RunToExit({"--foreground", "--config", d.config_path(), "--state-dir",
                                       d.state_dir(), "--socket", d.socket()});
  EXPECT_EQ(e.code, 78) << e.log;
  EXPECT_FALSE(e.became_ready) << e.log;
  EXPECT_NE(e.log.find(d.config_path()), std::string::npos) << "must name the file:\n" << e.log;
  EXPECT_NE(e.log.find(bc.must_name), std::string::npos) << "must name " << bc.must_name << ":\n"
                                                         << e.log;
  EXPECT_NE(e.log.find(d.config_path() + bc.position), std::string::npos)
      << "must give the line (" << bc.position << "):\n"
      << e.log;
  EXPECT_FALSE(std::filesystem::exists(d.socket())) << "no socket for a daemon that did not start";
}

INSTANTIATE_TEST_SUITE_P(
    Config, BadConfigStopsStartup,
    ::testing::Values(
        BadConfig{"UnknownKey", "[daemon]\nlog_level = \"info\"\nsockett = \"/x\"\n",
                  "daemon.sockett", ":3:"},
        BadConfig{"UnknownSection", "[node]\nname = \"a\"\n[demon]\nx = 1\n", "demon", ":3:"},
        BadConfig{"BadEnumValue", "[daemon]\nlog_level = \"loud\"\n", "daemon.log_level", ":2:"},
        BadConfig{"WrongType", "[audit]\ncheckpoint_every_records = \"many\"\n",
                  "audit.checkpoint_every_records", ":2:"},
        BadConfig{"OutOfRange", "[daemon]\nmax_message_bytes = 0\n", "daemon.max_message_bytes",
                  ":2:"},
        BadConfig{"BadSocketMode", "[daemon]\nsocket_mode = \"0999\"\n", "daemon.socket_mode",
                  ":2:"},
        BadConfig{"BadSynchronous", "[audit]\nsynchronous = \"sometimes\"\n", "audit.synchronous",
                  ":2:"},
        BadConfig{"UnknownGroup", "[daemon]\nadmin_group = \"no-such-group-aik\"\n",
                  "daemon.admin_group", ":"},
        BadConfig{"SyntaxError", "[node]\nname = \"a\"\n[daemon\nlog_level = \"info\"\n",
                  "syntax error", ":3:"}),
    [](const auto& info) { return std::string(info.param.name); });

TEST(Config, MissingExplicitConfigFileIsNamed) {
  TempDir tmp;
  DaemonProcess d(tmp.path());
  std::string missing = tmp.path() + "/does-not-exist.toml";
  DaemonProcess::Exit e = d.RunToExit(
      {"--foreground", "--config", missing, "--state-dir", d.state_dir(), "--socket", d.socket()});
  EXPECT_NE(e.code, 0) << e.log;
  EXPECT_FALSE(e.became_ready);
  EXPECT_NE(e.log.find(missing), std::string::npos) << e.log;
}

TEST(Config, UnknownFlagIsAUsageError) {
  TempDir tmp;
  DaemonProcess d(tmp.path());
  DaemonProcess::Exit e = d.RunToExit({"--no-such-flag"});
  EXPECT_EQ(e.code, 2) << e.log;
  EXPECT_NE(e.log.find("no-such-flag"), std::string::npos) << e.log;
}

TEST(Config, SecondDaemonOnALiveSocketRefusesAndLeavesTheFirstAlone) {
  TempDir tmp;
  std::filesystem::create_directory(tmp.path() + "/a");
  std::filesystem::create_directory(tmp.path() + "/b");
  const std::string socket = tmp.path() + "/shared.sock";
  DaemonProcess first(tmp.path() + "/a", socket);
  ASSERT_TRUE(first.Start());
  auto c = ConnectTo(first);
  ASSERT_NE(c, nullptr);
  ASSERT_TRUE(c->Ping("before").ok());
  struct stat before {};
  ASSERT_EQ(stat(socket.c_str(), &before), 0);

  DaemonProcess second(tmp.path() + "/b", socket);
  DaemonProcess::Exit e =
      second.RunToExit({"--foreground", "--config", second.config_path(), "--state-dir",
                        second.state_dir(), "--socket", socket});
  EXPECT_NE(e.code, 0) << e.log;
  EXPECT_FALSE(e.became_ready) << e.log;
  EXPECT_NE(e.log.find(socket), std::string::npos) << "must name the socket:\n" << e.log;

  // The first daemon's socket is the same file and still serves old and new
  // connections.
  struct stat after {};
  ASSERT_EQ(stat(socket.c_str(), &after), 0) << "the second daemon removed the live socket";
  EXPECT_EQ(after.st_ino, before.st_ino) << "the socket file was replaced";
  auto p = c->Ping("after");
  EXPECT_TRUE(p.ok()) << p.status().ToString();
  auto c2 = ConnectTo(first);
  ASSERT_NE(c2, nullptr);
  auto who = c2->Whoami();
  ASSERT_TRUE(who.ok()) << who.status().ToString();
  c.reset();
  c2.reset();
  EXPECT_EQ(first.Stop(), 0) << first.Log();
}

TEST(Config, ShippedDefaultConfigIsAccepted) {
  // config/aikerneld.toml as shipped, with the paths overridden by flags.
  TempDir tmp;
  DaemonProcess d(tmp.path());
  std::string shipped = ReadFile(AIK_SOURCE_DIR "/config/aikerneld.toml");
  ASSERT_FALSE(shipped.empty());
  d.WriteConfigText(shipped);
  ASSERT_TRUE(d.Start());
  auto c = ConnectTo(d);
  ASSERT_NE(c, nullptr);
  auto st = c->Status();
  ASSERT_TRUE(st.ok()) << st.status().ToString();
  EXPECT_EQ(st->socket, d.socket()) << "--socket overrides daemon.socket";
  EXPECT_EQ(st->state_dir, d.state_dir()) << "--state-dir overrides daemon.state_dir";
  c.reset();
  EXPECT_EQ(d.Stop(), 0) << d.Log();
}

}  // namespace
}  // namespace aikernel::testing
