// Federation through real daemons on loopback: three aikerneld processes
// (own state dirs, sockets, peer ports, trust domains "na", "nb", "nc")
// federate with `aictl node bundle` / `aictl node peer add`; agents they spawn
// (aik_msg_agent) message across nodes. Checks: delivery in order, once;
// both ledgers record it with one correlation id; a peer that is down gets
// its messages when it is back; SIGKILL of either daemon mid-delivery loses
// nothing and duplicates nothing; a node that is not federated, or whose
// certificate does not chain to the bundle federated for its trust domain,
// is refused and the refusal is in the ledger. Network namespaces are not
// used (see NetnsSkipped).
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <functional>
#include <set>
#include <thread>

#include "integration/helpers.h"

namespace aikernel::testing {
namespace {

using Clock = std::chrono::steady_clock;

bool WaitUntil(const std::function<bool()>& pred, std::chrono::milliseconds timeout = 60s) {
  auto deadline = Clock::now() + timeout;
  while (Clock::now() < deadline) {
    if (pred()) return true;
    std::this_thread::sleep_for(50ms);
  }
  return pred();
}

// A loopback port nobody listens on now (bound and released), so a daemon
// can be restarted on the same address.
int FreePort() {
  int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(s, reinterpret_cast<sockaddr*>(&a), sizeof(a));
  socklen_t n = sizeof(a);
  getsockname(s, reinterpret_cast<sockaddr*>(&a), &n);
  close(s);
  return ntohs(a.sin_port);
}

struct Node {
  std::string name;  // trust domain too
  int port = 0;
  TempDir tmp;
  std::unique_ptr<DaemonProcess> d;

  std::string address() const { return "127.0.0.1:" + std::to_string(port); }
  CmdResult Aictl(std::vector<std::string> args) const { return AictlJson(*d, std::move(args)); }
  std::string Logs(const std::string& agent) const {
    return RunAictl({"--socket", d->socket(), "agent", "logs", agent}).out;
  }
};

class FederationTest : public ::testing::Test {
 protected:
  // Policies: the shipped set plus the federation rules docs/net.md gives:
  // agents may send to remote agents; agents of peer "a" may deliver here.
  void SetUp() override {
    std::filesystem::create_directories(policy_.path() + "/policies");
    std::filesystem::copy_file(AIK_SOURCE_DIR "/config/policies/default.cedar",
                               policy_.path() + "/policies/default.cedar");
    std::ofstream(policy_.path() + "/policies/federation.cedar")
        << "@id(\"test.send-remote\")\n"
           "permit(principal is Agent, action == Action::\"msg.send\", resource is Agent)\n"
           "  when { context.remote };\n"
           "@id(\"test.receive-from-a\")\n"
           "permit(principal is Agent, action == Action::\"msg.receive\", resource is Agent)\n"
           "  when { context.remote && context.peer == \"a\" };\n";
    for (const char* n : {"na", "nb", "nc"}) {
      auto node = std::make_unique<Node>();
      node->name = n;
      node->port = FreePort();
      node->d = std::make_unique<DaemonProcess>(node->tmp.path());
      node->d->set_policy_dir(policy_.path());
      node->d->WriteConfigText("[node]\nname = \"" + node->name + "\"\n\n[daemon]\nlogs_dir = \"" +
                               node->tmp.path() + "/logs\"\n\n[agents]\nspecs_dir = \"" +
                               node->tmp.path() + "/agents\"\n\n[peer]\nlisten = \"" +
                               node->address() + "\"\n");
      ASSERT_TRUE(node->d->Start());
      nodes_.push_back(std::move(node));
    }
  }

  Node& A() { return *nodes_[0]; }
  Node& B() { return *nodes_[1]; }
  Node& C() { return *nodes_[2]; }

  // `on` federates `peer` under `name`, with the bundle `peer` prints (or
  // `bundle_of`'s, to register a wrong one).
  void Federate(Node& on, const std::string& name, Node& peer, Node* bundle_of = nullptr,
                const std::string& trust_domain = "") {
    Node& src = bundle_of != nullptr ? *bundle_of : peer;
    CmdResult b = RunAictl({"--socket", src.d->socket(), "node", "bundle"});
    ASSERT_EQ(b.exit_code, 0) << b.Describe();
    const std::string file = on.tmp.path() + "/" + name + ".pem";
    std::ofstream(file) << b.out;
    std::vector<std::string> args = {"node", "peer", "add", name, "--address", peer.address(),
                                     "--bundle", file};
    if (!trust_domain.empty()) {
      args.push_back("--trust-domain");
      args.push_back(trust_domain);
    }
    CmdResult r = on.Aictl(args);
    ASSERT_EQ(r.exit_code, 0) << r.Describe();
  }

  void RunAgent(Node& n, const std::string& name, std::vector<std::string> argv) {
    std::vector<std::string> args = {"agent", "run", name, "--", AIK_MSG_AGENT_PATH};
    args.insert(args.end(), argv.begin(), argv.end());
    CmdResult r = n.Aictl(args);
    ASSERT_EQ(r.exit_code, 0) << r.Describe();
  }

  ::testing::AssertionResult WaitLog(Node& n, const std::string& agent, const std::string& needle,
                                     std::chrono::milliseconds timeout = 60s) {
    if (WaitUntil([&] { return n.Logs(agent).find(needle) != std::string::npos; }, timeout)) {
      return ::testing::AssertionSuccess();
    }
    return ::testing::AssertionFailure() << n.name << ": log of " << agent << " never had '"
                                         << needle << "':\n"
                                         << n.Logs(agent) << "\n--- daemon log ---\n"
                                         << n.d->Log();
  }

  // Messages in `n`'s inbox for `agent`, acknowledged or not.
  nlohmann::json Inbox(Node& n, const std::string& agent) {
    CmdResult r = n.Aictl({"msg", "ls", "--agent", agent, "--all", "--limit", "10000"});
    if (r.exit_code != 0) return nlohmann::json::array();
    return ParseJson(r.out)["inbox"];
  }

  std::vector<AuditRecord> Records(Node& n, const std::string& action) {
    auto c = ConnectTo(*n.d);
    if (c == nullptr) return {};
    AuditFilter f;
    f.action = action;
    return Query(*c, f);
  }

  TempDir policy_;
  std::vector<std::unique_ptr<Node>> nodes_;
};

std::string Corr(const AuditRecord& r) {
  for (const std::string& id : r.rule_ids) {
    if (id.rfind("corr:", 0) == 0) return id;
  }
  return "";
}

TEST_F(FederationTest, AgentsOnTwoNodesMessageInOrderOnceAndBothLedgersShareTheCorrelation) {
  Federate(A(), "b", B());
  Federate(B(), "a", A());
  CmdResult ls = A().Aictl({"node", "peer", "ls"});
  ASSERT_EQ(ls.exit_code, 0) << ls.Describe();
  EXPECT_EQ(ParseJson(ls.out)["peers"][0]["trust_domain"], "nb");

  const std::string bob = "spiffe://nb/agent/bob";
  RunAgent(B(), "bob", {"recv", "5"});
  RunAgent(A(), "alice", {"send", bob, "5", "x-"});
  ASSERT_TRUE(WaitLog(A(), "alice", "send-done"));
  ASSERT_TRUE(WaitLog(B(), "bob", "recv-done"));
  const std::string log = B().Logs("bob");
  size_t at = 0;
  for (int i = 0; i < 5; ++i) {
    const std::string line = "got from=spiffe://na/agent/alice payload=x-" + std::to_string(i) + "\n";
    size_t next = log.find(line, at);
    ASSERT_NE(next, std::string::npos) << line << " missing or out of order:\n" << log;
    EXPECT_EQ(log.find(line, next + 1), std::string::npos) << "twice: " << line;
    at = next;
  }
  EXPECT_NE(A().Logs("alice").find("dup=1 code=OK"), std::string::npos);
  EXPECT_EQ(Inbox(B(), bob).size(), 5u);

  // One correlation id per message, on both nodes.
  std::set<std::string> sent, received;
  for (const AuditRecord& r : Records(A(), "msg.send")) {
    if (r.decision == Decision::kAllow && r.code == 0) sent.insert(Corr(r));
  }
  for (const AuditRecord& r : Records(B(), "msg.receive")) {
    if (r.principal.rfind("agent:spiffe://na/agent/alice#peer:a", 0) != 0) continue;
    EXPECT_EQ(r.resource, "agent:" + bob);
    EXPECT_EQ(r.decision, Decision::kAllow);
    ASSERT_FALSE(r.rule_ids.empty());
    EXPECT_EQ(r.rule_ids[0], "test.receive-from-a");
    received.insert(Corr(r));
  }
  EXPECT_EQ(sent.size(), 6u);  // five and the duplicate (its own record)
  for (const std::string& c : received) EXPECT_EQ(sent.count(c), 1u) << c;
  EXPECT_GE(received.size(), 5u);
}

TEST_F(FederationTest, MessagesWaitForAPeerThatIsDownAndSurviveSigkillOfEitherSide) {
  Federate(A(), "b", B());
  Federate(B(), "a", A());
  const std::string bob = "spiffe://nb/agent/bob";
  // bob exists on B but does not read: the inbox is what we check.
  RunAgent(B(), "bob", {"send", "spiffe://nb/agent/nobody", "0"});
  ASSERT_TRUE(WaitLog(B(), "bob", "send-done"));

  ASSERT_EQ(B().d->Stop(), 0);
  RunAgent(A(), "alice", {"send", bob, "40", "q-"});
  ASSERT_TRUE(WaitLog(A(), "alice", "send-done"));
  // Queued with the error while B is down.
  ASSERT_TRUE(WaitUntil([&] {
    CmdResult r = A().Aictl({"msg", "ls", "--outbox"});
    return r.exit_code == 0 && !ParseJson(r.out)["outbox"].empty() &&
           !ParseJson(r.out)["outbox"][0]["last_error"].get<std::string>().empty();
  })) << A().Aictl({"msg", "ls", "--outbox"}).out;

  // B returns; kill A while it forwards, then restart it: it goes on.
  ASSERT_TRUE(B().d->Start());
  ASSERT_TRUE(WaitUntil([&] { return Inbox(B(), bob).size() > 0; })) << A().d->Log();
  EXPECT_EQ(A().d->Kill(), 137);
  ASSERT_TRUE(A().d->Start());
  // And kill B while A may still be delivering.
  EXPECT_EQ(B().d->Kill(), 137);
  ASSERT_TRUE(B().d->Start());
  ASSERT_TRUE(WaitUntil([&] { return Inbox(B(), bob).size() >= 40; }))
      << Inbox(B(), bob).size() << "\n" << A().d->Log();
  // Nothing lost (q-0..q-39 and the first message re-sent as m0 = duplicate),
  // nothing twice, in order.
  nlohmann::json inbox = Inbox(B(), bob);
  std::set<std::string> ids;
  int last = -1;
  for (const auto& m : inbox) {
    EXPECT_TRUE(ids.insert(m["message_id"].get<std::string>()).second) << m.dump();
    int i = std::stoi(m["message_id"].get<std::string>().substr(1));
    EXPECT_GT(i, last) << inbox.dump();
    last = i;
  }
  EXPECT_EQ(ids.size(), 40u) << inbox.dump();
  CmdResult out = A().Aictl({"msg", "ls", "--outbox"});
  EXPECT_TRUE(WaitUntil([&] {
    return ParseJson(A().Aictl({"msg", "ls", "--outbox"}).out)["outbox"].empty();
  })) << out.out;
}

TEST_F(FederationTest, AForeignOrMisregisteredNodeIsRefusedAndTheRefusalRecorded) {
  // C knows B, B does not know C: foreign trust domain.
  Federate(C(), "b", B());
  Federate(B(), "a", A());
  RunAgent(B(), "bob", {"send", "spiffe://nb/agent/nobody", "0"});
  ASSERT_TRUE(WaitLog(B(), "bob", "send-done"));
  RunAgent(C(), "carol", {"send", "spiffe://nb/agent/bob", "1"});
  ASSERT_TRUE(WaitLog(C(), "carol", "send-done"));
  auto refused_with = [&](const std::string& reason) {
    for (const AuditRecord& r : Records(B(), "peer.refused")) {
      if (r.principal == "peer:spiffe://nc/aikernel/node" && r.rule_ids.size() == 2 &&
          r.rule_ids[1].rfind(reason, 0) == 0 && r.decision == Decision::kDeny) {
        return true;
      }
    }
    return false;
  };
  ASSERT_TRUE(WaitUntil([&] { return refused_with("foreign trust domain"); }))
      << B().d->Log();
  // C's outbox keeps the message, with the refusal as its error.
  CmdResult ob = C().Aictl({"msg", "ls", "--outbox"});
  ASSERT_EQ(ob.exit_code, 0);
  ASSERT_EQ(ParseJson(ob.out)["outbox"].size(), 1u);

  // B now registers "nc" but with A's bundle: C's certificate does not chain.
  Federate(B(), "c", C(), &A(), "nc");
  ASSERT_TRUE(WaitUntil([&] { return refused_with("untrusted"); })) << B().d->Log();
  EXPECT_TRUE(Inbox(B(), "spiffe://nb/agent/bob").empty());

  // With the right bundle, C's agent is authenticated, and B's policy (only
  // peer "a" may deliver) denies it: recorded as a msg.receive deny.
  CmdResult rm = B().Aictl({"node", "peer", "rm", "c"});
  ASSERT_EQ(rm.exit_code, 0) << rm.Describe();
  Federate(B(), "c", C());
  ASSERT_TRUE(WaitUntil([&] {
    for (const AuditRecord& r : Records(B(), "msg.receive")) {
      if (r.principal == "agent:spiffe://nc/agent/carol#peer:c" &&
          r.decision == Decision::kDeny) {
        return true;
      }
    }
    return false;
  })) << B().d->Log();
  EXPECT_TRUE(Inbox(B(), "spiffe://nb/agent/bob").empty());
}

TEST(FederationNetns, NetnsSkipped) {
  GTEST_SKIP() << "cutting a link with network namespaces + veth is not implemented: the "
                  "peer-down case is covered by stopping the peer daemon instead";
}

}  // namespace
}  // namespace aikernel::testing
