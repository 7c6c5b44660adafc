// Runs the aictl binary against FakeDaemon (an in-test gRPC server on a Unix
// socket) and against ledger files made with aik_audit: exit codes, messages,
// --json shapes, flags before/after the command, tail -f and Ctrl-C, offline
// verify. No aikerneld needed (tests/integration covers the real daemon).
#include <gtest/gtest.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <thread>

#include <nlohmann/json.hpp>

#include "audit/audit_test_util.h"
#include "sdk/fake_daemon.h"
#include "store/test_temp_dir.h"

namespace aikernel {
namespace {

using aikernel::testing::FakeDaemon;
using aikernel::testing::TempDir;

std::string AictlPath() {
  if (const char* b = getenv("AIK_BUILD_DIR"); b && *b) return std::string(b) + "/src/cli/aictl";
  char buf[4096];
  ssize_t n = readlink("/proc/self/exe", buf, sizeof(buf) - 1);
  std::string self(buf, n > 0 ? n : 0);  // <build>/tests/cli/aictl_test
  for (int i = 0; i < 3; ++i) self = self.substr(0, self.rfind('/'));
  return self + "/src/cli/aictl";
}

std::string Slurp(const std::string& path) {
  std::ifstream f(path);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

struct Result {
  int exit = -1;
  std::string out;
  std::string err;
};

class AictlTest : public ::testing::Test {
 protected:
  // Runs `aictl <args>` through the shell with a clean AIKERNEL_* environment.
  Result Aictl(const std::string& args, const std::string& prefix = "") {
    std::string out = dir_.file("out"), err = dir_.file("err");
    std::string cmd = "env -u AIKERNEL_FD -u AIKERNEL_SOCKET " + prefix + " " + AictlPath() +
                      " " + args + " >" + out + " 2>" + err + " </dev/null";
    int st = std::system(cmd.c_str());
    Result r;
    r.exit = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    r.out = Slurp(out);
    r.err = Slurp(err);
    return r;
  }
  // Runs `aictl <args>` (a follow command), and once FakeDaemon has sent the
  // backlog and aictl has written `lines` lines, interrupts it as Ctrl-C would.
  // Waiting on those two conditions instead of a fixed delay keeps the test
  // right on a loaded machine.
  Result AictlInterruptedWhileFollowing(const std::string& args, size_t lines) {
    std::string out = dir_.file("out"), err = dir_.file("err");
    std::string cmd = "exec env -u AIKERNEL_FD -u AIKERNEL_SOCKET " + AictlPath() + " " + args +
                      " >" + out + " 2>" + err + " </dev/null";
    pid_t pid = fork();
    if (pid == 0) {
      execl("/bin/sh", "sh", "-c", cmd.c_str(), static_cast<char*>(nullptr));
      _exit(127);
    }
    Result r;
    if (pid < 0) return r;
    EXPECT_TRUE(daemon_.state.WaitFollowing(std::chrono::seconds(30)))
        << "aictl never started following";
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (Lines(Slurp(out)).size() < lines && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    kill(pid, SIGINT);
    int st = 0;
    waitpid(pid, &st, 0);
    r.exit = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    r.out = Slurp(out);
    r.err = Slurp(err);
    return r;
  }
  // Starts FakeDaemon on a socket; returns "--socket <path>".
  std::string StartDaemon() {
    sock_ = dir_.file("s.sock");
    EXPECT_TRUE(daemon_.ListenUnix(sock_));
    daemon_.state.records = aikernel::testing::MakeRecords(10);
    return "--socket " + sock_;
  }
  static std::vector<nlohmann::json> Lines(const std::string& s) {
    std::vector<nlohmann::json> v;
    std::istringstream in(s);
    for (std::string line; std::getline(in, line);) v.push_back(nlohmann::json::parse(line));
    return v;
  }

  TempDir dir_;
  std::string sock_;
  FakeDaemon daemon_;
};

TEST_F(AictlTest, VersionHelpAndUsage) {
  Result v = Aictl("--version");
  EXPECT_EQ(v.exit, 0);
  EXPECT_EQ(v.out, "aictl 0.1.0\n");

  for (const char* cmd : {"", "status", "whoami", "ping", "reload", "audit", "audit tail",
                          "audit query", "audit export", "audit verify"}) {
    Result h = Aictl(std::string(cmd) + " --help");
    EXPECT_EQ(h.exit, 0) << cmd;
    EXPECT_NE(h.out.find("Usage:"), std::string::npos) << cmd;
  }

  Result none = Aictl("");
  EXPECT_EQ(none.exit, 2);
  EXPECT_NE(none.err.find("Subcommands:"), std::string::npos);

  Result bogus = Aictl("bogus");
  EXPECT_EQ(bogus.exit, 2);
  EXPECT_NE(bogus.err.find("aictl: unknown command 'bogus'"), std::string::npos) << bogus.err;

  EXPECT_EQ(Aictl("audit").exit, 2);
  EXPECT_EQ(Aictl("audit query --since yesterday").exit, 2);
  EXPECT_EQ(Aictl("audit query --decision maybe").exit, 2);
  EXPECT_EQ(Aictl("--timeout 5x status").exit, 2);
  EXPECT_EQ(Aictl("audit export --format csv").exit, 2);
  Result range = Aictl("--socket /nonexistent.sock audit query --since 1h --until 2h");
  EXPECT_EQ(range.exit, 2);
  EXPECT_NE(range.err.find("--until"), std::string::npos) << range.err;
}

TEST_F(AictlTest, NoDaemonNamesTheCause) {
  Result r = Aictl("--socket /nonexistent-dir/aikernel.sock status");
  EXPECT_EQ(r.exit, 1);
  EXPECT_EQ(r.err,
            "aictl: cannot connect to /nonexistent-dir/aikernel.sock: No such file or directory "
            "— is aikerneld running? (see --socket)\n");
  Result env = Aictl("whoami", "AIKERNEL_SOCKET=/nonexistent-env.sock");
  EXPECT_EQ(env.exit, 1);
  EXPECT_NE(env.err.find("/nonexistent-env.sock"), std::string::npos) << env.err;
}

TEST_F(AictlTest, WhoamiStatusPingReload) {
  std::string s = StartDaemon();
  Result w = Aictl(s + " whoami --json");
  ASSERT_EQ(w.exit, 0) << w.err;
  auto j = nlohmann::json::parse(w.out);
  EXPECT_EQ(j["principal"]["id"], "operator:0");
  EXPECT_EQ(j["principal"]["kind"], "operator");
  EXPECT_EQ(j["node"], "node-test");
  EXPECT_EQ(j["audit_sequence"], 100);

  Result w2 = Aictl("--json " + s + " whoami");  // global flags before the command
  ASSERT_EQ(w2.exit, 0) << w2.err;
  EXPECT_EQ(nlohmann::json::parse(w2.out)["audit_sequence"], 101);

  Result st = Aictl(s + " status");
  ASSERT_EQ(st.exit, 0) << st.err;
  EXPECT_NE(st.out.find("node          node-test\n"), std::string::npos) << st.out;
  EXPECT_NE(st.out.find("1h2m"), std::string::npos) << st.out;
  EXPECT_NE(st.out.find("10 total, 2 denied, 1 failed"), std::string::npos) << st.out;

  Result p = Aictl(s + " ping -c 3 --json");
  ASSERT_EQ(p.exit, 0) << p.err;
  auto pj = nlohmann::json::parse(p.out);
  EXPECT_EQ(pj["count"], 3);
  EXPECT_EQ(pj["replies"].size(), 3u);
  Result big = Aictl(s + " ping " + std::string(5000, 'x'));
  EXPECT_EQ(big.exit, 1);
  EXPECT_NE(big.err.find("INVALID_ARGUMENT"), std::string::npos) << big.err;

  Result rl = Aictl(s + " reload --json");
  ASSERT_EQ(rl.exit, 0) << rl.err;
  EXPECT_EQ(nlohmann::json::parse(rl.out)["needs_restart"][0], "daemon.socket");
}

TEST_F(AictlTest, DeniedExitsThree) {
  std::string s = StartDaemon();
  daemon_.state.deny_admin = true;
  Result st = Aictl(s + " status");
  EXPECT_EQ(st.exit, 3);
  EXPECT_NE(st.err.find("aictl: status: permission denied: "), std::string::npos) << st.err;
  EXPECT_NE(st.err.find("[audit record #"), std::string::npos) << st.err;
  EXPECT_EQ(Aictl(s + " audit export").exit, 3);
  daemon_.state.unauthenticated = true;
  EXPECT_EQ(Aictl(s + " whoami").exit, 3);
}

TEST_F(AictlTest, AuditExportQueryTail) {
  std::string s = StartDaemon();
  Result e = Aictl(s + " audit export --format jsonl");
  ASSERT_EQ(e.exit, 0) << e.err;
  auto lines = Lines(e.out);
  ASSERT_EQ(lines.size(), 10u);
  EXPECT_EQ(lines[0]["sequence"], 1);
  EXPECT_EQ(lines[0]["hash"].get<std::string>().size(), 64u);
  EXPECT_EQ(lines[1]["prev_hash"], lines[0]["hash"]);
  EXPECT_EQ(lines[2]["decision"], "deny");

  Result q = Aictl(s + " audit query --json --decision deny --principal user:1000");
  ASSERT_EQ(q.exit, 0) << q.err;
  auto arr = nlohmann::json::parse(q.out);
  ASSERT_TRUE(arr.is_array());
  ASSERT_EQ(arr.size(), 1u);
  EXPECT_EQ(arr[0]["sequence"], 6);

  Result empty = Aictl(s + " audit query --json --principal nobody");
  ASSERT_EQ(empty.exit, 0);
  EXPECT_EQ(nlohmann::json::parse(empty.out), nlohmann::json::array());

  Result qs = Aictl(s + " audit query --since 10m --limit 4");
  ASSERT_EQ(qs.exit, 0) << qs.err;
  {
    std::lock_guard<std::mutex> l(daemon_.state.mu);
    int64_t since = daemon_.state.last_query.since().seconds();
    EXPECT_NEAR(since, time(nullptr) - 600, 30);
    EXPECT_EQ(daemon_.state.last_query.limit(), 4u);
  }

  Result t = Aictl(s + " audit tail -n 2");
  ASSERT_EQ(t.exit, 0) << t.err;
  EXPECT_EQ(t.out.substr(0, 3), "SEQ");
  EXPECT_NE(t.out.find("\n9 "), std::string::npos) << t.out;
  EXPECT_NE(t.out.find("\n10 "), std::string::npos) << t.out;
  EXPECT_EQ(t.out.find("\n8 "), std::string::npos) << t.out;

  Result tj = Aictl(s + " audit tail -n 3 --json");
  ASSERT_EQ(tj.exit, 0) << tj.err;
  auto tl = Lines(tj.out);
  ASSERT_EQ(tl.size(), 3u);
  EXPECT_EQ(tl[2]["sequence"], 10);
}

TEST_F(AictlTest, TailFollowStopsCleanlyOnInterrupt) {
  std::string s = StartDaemon();
  Result f = AictlInterruptedWhileFollowing(s + " audit tail -f -n 2 --json", 2);
  EXPECT_EQ(f.exit, 0) << f.err;
  auto lines = Lines(f.out);
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[1]["sequence"], 10);
  // The server notices the cancel on its own thread.
  EXPECT_TRUE(daemon_.state.WaitFollowCancelled(std::chrono::seconds(30)));
}

TEST_F(AictlTest, TailZeroLines) {
  std::string s = StartDaemon();
  Result n = Aictl(s + " audit tail -n 0");
  EXPECT_EQ(n.exit, 0) << n.err;
  EXPECT_EQ(n.out, "");
  // -n 0 -f: only records after the current newest one.
  Result f = AictlInterruptedWhileFollowing(s + " audit tail -f -n 0 --json", 0);
  EXPECT_EQ(f.exit, 0) << f.err;
  EXPECT_EQ(f.out, "");
  std::lock_guard<std::mutex> l(daemon_.state.mu);
  EXPECT_EQ(daemon_.state.last_query.after_sequence(), 10u);
  EXPECT_TRUE(daemon_.state.last_query.follow());
  EXPECT_FALSE(daemon_.state.last_query.last());
}

class VerifyTest : public AictlTest {
 protected:
  void MakeLedger(int n) {
    auto ledger = fx_.Open();
    ASSERT_NE(ledger, nullptr);
    for (int i = 1; i <= n; ++i) {
      auto s = ledger->Append(audit::testutil::MakeRecord(i));
      ASSERT_TRUE(s.ok()) << s.status();
    }
    ledger->Close();
  }
  audit::testutil::Fixture fx_;
};

TEST_F(VerifyTest, GoodLedgerVerifies) {
  MakeLedger(5);
  Result r = Aictl("audit verify --state-dir " + fx_.dir.path());
  EXPECT_EQ(r.exit, 0) << r.err;
  EXPECT_NE(r.out.find("OK"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("keys/node.pub"), std::string::npos) << r.out;
  Result j = Aictl("audit verify --json --db " + fx_.db + " --pubkey " + fx_.dir.file("keys/node.pub"));
  ASSERT_EQ(j.exit, 0) << j.err;
  auto doc = nlohmann::json::parse(j.out);
  EXPECT_TRUE(doc["ok"].get<bool>());
  EXPECT_EQ(doc["records"], 5);
  EXPECT_EQ(doc["head_sequence"], 5);
  EXPECT_FALSE(doc["key_from_ledger"].get<bool>());
}

TEST_F(VerifyTest, TamperedLedgerFailsNamingTheSequence) {
  MakeLedger(5);
  audit::testutil::DropTriggers(fx_.db);
  audit::testutil::RawSql(fx_.db, "UPDATE records SET principal='mallory' WHERE seq=3");
  Result r = Aictl("audit verify --db " + fx_.db + " --pubkey " + fx_.dir.file("keys/node.pub"));
  EXPECT_EQ(r.exit, 1);
  EXPECT_NE(r.err.find("FAILED verification at sequence 3"), std::string::npos) << r.err;
  Result j = Aictl("audit verify --json --db " + fx_.db);
  EXPECT_EQ(j.exit, 1);
  auto doc = nlohmann::json::parse(j.out);
  EXPECT_FALSE(doc["ok"].get<bool>());
  EXPECT_EQ(doc["first_bad_sequence"], 3);
}

TEST_F(VerifyTest, MissingLedgerIsAnError) {
  Result r = Aictl("audit verify --state-dir " + dir_.file("nope"));
  EXPECT_EQ(r.exit, 1);
  EXPECT_NE(r.err.find("cannot open ledger"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("(see --db, --state-dir)"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace aikernel
