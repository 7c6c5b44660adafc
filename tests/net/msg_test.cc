// Agent messaging through the real daemon: aikerneld spawns aik_msg_agent
// (msg_agent.cc) as confined agents that send and receive through the SDK;
// aictl and the SDK drive and check as the operator. Waiting is on the
// agents' logs and the daemon's answers, polled with a deadline.
#include <chrono>
#include <functional>
#include <thread>

#include "integration/helpers.h"

namespace aikernel::testing {
namespace {

using Clock = std::chrono::steady_clock;

bool WaitUntil(const std::function<bool()>& pred, std::chrono::milliseconds timeout = 30s) {
  auto deadline = Clock::now() + timeout;
  while (Clock::now() < deadline) {
    if (pred()) return true;
    std::this_thread::sleep_for(20ms);
  }
  return pred();
}

class MsgTest : public ::testing::Test {
 protected:
  void SetUp() override {
    daemon_ = std::make_unique<DaemonProcess>(tmp_.path());
    daemon_->WriteConfigText("[node]\nname = \"na\"\n\n[daemon]\nlogs_dir = \"" + tmp_.path() +
                             "/logs\"\n\n[audit]\nsynchronous = \"normal\"\n\n[agents]\n"
                             "specs_dir = \"" +
                             tmp_.path() + "/agents\"\n");
    ASSERT_TRUE(daemon_->Start());
  }

  CmdResult Aictl(std::vector<std::string> args) { return AictlJson(*daemon_, std::move(args)); }

  std::string Logs(const std::string& name) {
    return RunAictl({"--socket", daemon_->socket(), "agent", "logs", name}).out;
  }

  ::testing::AssertionResult WaitLog(const std::string& name, const std::string& needle) {
    if (WaitUntil([&] { return Logs(name).find(needle) != std::string::npos; })) {
      return ::testing::AssertionSuccess();
    }
    return ::testing::AssertionFailure() << "log of " << name << " never had '" << needle
                                         << "':\n"
                                         << Logs(name) << "\n--- daemon log ---\n"
                                         << daemon_->Log();
  }

  void RunAgent(const std::string& name, const std::vector<std::string>& groups,
                std::vector<std::string> argv) {
    std::vector<std::string> args = {"agent", "run", name};
    for (const auto& g : groups) {
      args.push_back("--group");
      args.push_back(g);
    }
    args.push_back("--");
    args.push_back(AIK_MSG_AGENT_PATH);
    args.insert(args.end(), argv.begin(), argv.end());
    CmdResult r = Aictl(args);
    ASSERT_EQ(r.exit_code, 0) << r.Describe();
  }

  TempDir tmp_;
  std::unique_ptr<DaemonProcess> daemon_;
};

TEST_F(MsgTest, AgentsOfAGroupMessageEachOtherExactlyOnceInOrderOthersAreDenied) {
  const std::string bob = "spiffe://na/agent/bob";
  const std::string alice = "spiffe://na/agent/alice";
  RunAgent("bob", {"team"}, {"recv", "5", alice});
  ASSERT_TRUE(WaitUntil([&] {
    CmdResult r = Aictl({"agent", "inspect", "bob"});
    return r.exit_code == 0 && ParseJson(r.out)["state"] == "running";
  }));
  RunAgent("alice", {"team"}, {"send", bob, "5", "hello-"});
  RunAgent("carol", {"other"}, {"send", bob, "1", "spam-"});

  ASSERT_TRUE(WaitLog("alice", "send-done"));
  ASSERT_TRUE(WaitLog("carol", "send-done"));
  ASSERT_TRUE(WaitLog("bob", "other-inbox="));
  const std::string alog = Logs("alice");
  for (int i = 0; i < 5; ++i) {
    EXPECT_NE(alog.find("send i=" + std::to_string(i) + " code=OK"), std::string::npos) << alog;
  }
  EXPECT_NE(alog.find("dup=1 code=OK"), std::string::npos) << alog;
  EXPECT_NE(Logs("carol").find("send i=0 code=PERMISSION_DENIED"), std::string::npos);

  // bob got alice's five, in order, each once, and nothing from carol.
  const std::string blog = Logs("bob");
  size_t at = 0;
  for (int i = 0; i < 5; ++i) {
    const std::string line = "got from=" + alice + " payload=hello-" + std::to_string(i) + "\n";
    size_t next = blog.find(line, at);
    ASSERT_NE(next, std::string::npos) << "no '" << line << "' after offset " << at << ":\n"
                                       << blog;
    EXPECT_EQ(blog.find(line, next + 1), std::string::npos) << "twice: " << line;
    at = next;
  }
  EXPECT_EQ(blog.find("spam-"), std::string::npos) << blog;
  EXPECT_NE(blog.find("recv-done"), std::string::npos);
  EXPECT_NE(blog.find("other-inbox=PERMISSION_DENIED"), std::string::npos) << blog;

  // The operator's view: five acknowledged in bob's inbox, none pending.
  CmdResult ls = Aictl({"msg", "ls", "--agent", bob, "--all"});
  ASSERT_EQ(ls.exit_code, 0) << ls.Describe();
  EXPECT_EQ(ParseJson(ls.out)["inbox"].size(), 5u) << ls.out;
  ls = Aictl({"msg", "ls", "--agent", bob});
  EXPECT_EQ(ParseJson(ls.out)["inbox"].size(), 0u) << ls.out;

  // The ledger: alice's sends allowed by the group rule, each with its
  // correlation id; carol's denied by default.
  auto c = ConnectTo(*daemon_);
  ASSERT_NE(c, nullptr);
  AuditFilter f;
  f.action = "msg.send";
  size_t allowed = 0, denied = 0;
  for (const AuditRecord& rec : Query(*c, f)) {
    EXPECT_EQ(rec.resource, "agent:" + bob);
    ASSERT_GE(rec.rule_ids.size(), 2u);
    EXPECT_EQ(rec.rule_ids.back().rfind("corr:", 0), 0u);
    if (rec.principal.find("/agent/alice#") != std::string::npos) {
      EXPECT_EQ(rec.rule_ids[0], "default.agents-message-group");
      EXPECT_EQ(rec.decision, Decision::kAllow);
      ++allowed;
    } else {
      EXPECT_EQ(rec.rule_ids[0], "default-deny");
      EXPECT_EQ(rec.decision, Decision::kDeny);
      ++denied;
    }
  }
  EXPECT_EQ(allowed, 6u);  // five and the duplicate
  EXPECT_EQ(denied, 2u);  // carol's one and its resend
}

TEST_F(MsgTest, OperatorsSendReceiveAndAckNamingTheInboxAndBadInputIsNamed) {
  RunAgent("bob", {}, {"send", "spiffe://na/agent/bob", "0"});  // idle after send-done
  ASSERT_TRUE(WaitLog("bob", "send-done"));
  const std::string bob = "spiffe://na/agent/bob";
  CmdResult r = Aictl({"msg", "send", bob, "greeting", "hi", "--id", "op-1"});
  ASSERT_EQ(r.exit_code, 0) << r.Describe();
  EXPECT_EQ(ParseJson(r.out)["duplicate"], false);
  r = Aictl({"msg", "send", bob, "greeting", "hi", "--id", "op-1"});
  EXPECT_EQ(ParseJson(r.out)["duplicate"], true);

  r = Aictl({"msg", "recv", "--inbox", bob});
  ASSERT_EQ(r.exit_code, 0) << r.Describe();
  nlohmann::json got = ParseJson(r.out)["messages"];
  ASSERT_EQ(got.size(), 1u) << r.out;
  EXPECT_EQ(got[0]["sender"], "operator:0");
  EXPECT_EQ(got[0]["payload"], "hi");
  // Leased: not handed out again until its visibility passes; acked: never.
  r = Aictl({"msg", "recv", "--inbox", bob});
  EXPECT_EQ(ParseJson(r.out)["messages"].size(), 0u);
  r = Aictl({"msg", "ack", "--inbox", bob, std::to_string(got[0]["seq"].get<uint64_t>())});
  ASSERT_EQ(r.exit_code, 0) << r.Describe();
  EXPECT_EQ(ParseJson(r.out)["acked"], 1);

  struct Bad {
    std::vector<std::string> args;
    std::string says;
  };
  for (const Bad& b : std::vector<Bad>{
           {{"msg", "send", "nobody", "t", "x"}, "to: "},
           {{"msg", "send", "spiffe://na/agent/ghost", "t", "x"}, "no agent named 'ghost'"},
           {{"msg", "send", "spiffe://elsewhere/agent/x", "t", "x"}, "trust domain 'elsewhere'"},
           {{"msg", "send", bob, "", "x"}, "topic: "},
           {{"msg", "send", bob, "t", "x", "--id", "bad id"}, "message_id: "},
           {{"msg", "recv"}, "inbox: required"},
       }) {
    CmdResult e = Aictl(b.args);
    EXPECT_NE(e.exit_code, 0) << e.Describe();
    EXPECT_NE(e.err.find(b.says), std::string::npos) << e.Describe();
  }
}

}  // namespace
}  // namespace aikernel::testing
