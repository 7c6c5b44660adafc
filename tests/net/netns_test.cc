// Federation across a link the test cuts: two aikerneld, each in a network
// namespace of its own (made here with `ip netns`, joined with nsenter), on
// the two ends of a veth pair (10.77.0.1 and 10.77.0.2). Once a message has
// crossed (so the mTLS connection is up), the link is taken down; messages
// sent meanwhile wait in the sender's outbox with the error of the failed
// attempt; once the link is back they arrive, exactly once and in order.
// Skipped, saying why, when namespaces cannot be made (not root, no ip or
// nsenter).
#include <unistd.h>

#include <filesystem>

#include "net/federation_fixture.h"

namespace aikernel::testing {
namespace {

std::string Find(std::initializer_list<const char*> paths) {
  for (const char* p : paths) {
    if (access(p, X_OK) == 0) return p;
  }
  return "";
}

class NetnsTest : public FederationTest {
 protected:
  std::vector<std::string> NodeNames() const override { return {"na", "nb"}; }

  void Prepare(Node& n) override {
    const bool a = n.name == "na";
    n.host = a ? "10.77.0.1" : "10.77.0.2";
    n.port = 7443;  // its own namespace: no one else listens there
    n.d->set_exec_prefix({nsenter_, "--net=/run/netns/" + (a ? ns_a_ : ns_b_), "--"});
  }

  void SetUp() override {
    const std::string why = MakeNamespaces();
    if (!why.empty()) GTEST_SKIP() << "network namespaces cannot be made here: " << why;
    FederationTest::SetUp();
  }

  void TearDown() override {
    nodes_.clear();  // the daemons first, then their namespaces
    for (const std::string& ns : made_) RunCommand({ip_, "netns", "del", ns});
  }

  // "" once both namespaces and the veth pair are up, else why not.
  std::string MakeNamespaces() {
    if (geteuid() != 0) return "not running as root";
    ip_ = Find({"/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip", "/bin/ip"});
    nsenter_ = Find({"/usr/bin/nsenter", "/bin/nsenter", "/usr/sbin/nsenter"});
    if (ip_.empty()) return "no ip (iproute2) binary";
    if (nsenter_.empty()) return "no nsenter (util-linux) binary";
    const std::string tag = "aik" + std::to_string(getpid());
    ns_a_ = tag + "a";
    ns_b_ = tag + "b";
    veth_a_ = tag + "va";
    const std::string veth_b = tag + "vb";
    for (const std::string& ns : {ns_a_, ns_b_}) {
      CmdResult r = RunCommand({ip_, "netns", "add", ns});
      if (r.exit_code != 0) return "ip netns add " + ns + ": " + r.err;
      made_.push_back(ns);
    }
    const std::vector<std::vector<std::string>> steps = {
        {ip_, "-n", ns_a_, "link", "add", veth_a_, "type", "veth", "peer", "name", veth_b,
         "netns", ns_b_},
        {ip_, "-n", ns_a_, "addr", "add", "10.77.0.1/24", "dev", veth_a_},
        {ip_, "-n", ns_b_, "addr", "add", "10.77.0.2/24", "dev", veth_b},
        {ip_, "-n", ns_a_, "link", "set", "lo", "up"},
        {ip_, "-n", ns_b_, "link", "set", "lo", "up"},
        {ip_, "-n", ns_a_, "link", "set", veth_a_, "up"},
        {ip_, "-n", ns_b_, "link", "set", veth_b, "up"},
    };
    for (const auto& step : steps) {
      CmdResult r = RunCommand(step);
      if (r.exit_code != 0) {
        std::string cmd;
        for (const std::string& s : step) cmd += s + " ";
        return cmd + ": " + r.err;
      }
    }
    return "";
  }

  ::testing::AssertionResult Link(const char* state) {
    CmdResult r = RunCommand({ip_, "-n", ns_a_, "link", "set", veth_a_, state});
    if (r.exit_code == 0) return ::testing::AssertionSuccess();
    return ::testing::AssertionFailure() << "link " << state << ": " << r.Describe();
  }

  nlohmann::json Outbox(Node& n) {
    CmdResult r = n.Aictl({"msg", "ls", "--outbox"});
    return r.exit_code == 0 ? ParseJson(r.out)["outbox"] : nlohmann::json::array();
  }

  std::string ip_, nsenter_, ns_a_, ns_b_, veth_a_;
  std::vector<std::string> made_;
};

TEST_F(NetnsTest, MessagesWaitWhileTheLinkIsCutAndArriveOnceInOrderWhenItIsBack) {
  Federate(A(), "b", B());
  Federate(B(), "a", A());
  const std::string bob = "spiffe://nb/agent/bob";
  RunAgent(B(), "bob", {"send", "spiffe://nb/agent/nobody", "0"});  // exists; does not read
  ASSERT_TRUE(WaitLog(B(), "bob", "send-done"));
  RunAgent(A(), "warm", {"send", bob, "1", "w-"});
  ASSERT_TRUE(WaitUntil([&] { return Inbox(B(), bob).size() == 1; }))
      << "nothing crossed the veth link\n--- na ---\n" << A().d->Log();

  ASSERT_TRUE(Link("down"));
  RunAgent(A(), "alice", {"send", bob, "20", "c-"});
  ASSERT_TRUE(WaitLog(A(), "alice", "send-done"));
  ASSERT_TRUE(WaitUntil(
      [&] {
        nlohmann::json o = Outbox(A());
        return o.size() == 20 && !o[0]["last_error"].get<std::string>().empty();
      },
      120s))
      << Outbox(A()).dump();
  EXPECT_EQ(Inbox(B(), bob).size(), 1u) << "a message crossed a link that is down";

  ASSERT_TRUE(Link("up"));
  ASSERT_TRUE(WaitUntil([&] { return Inbox(B(), bob).size() >= 21; }, 180s))
      << Outbox(A()).dump() << "\n--- na ---\n" << A().d->Log();
  std::vector<int> order;
  for (const auto& m : Inbox(B(), bob)) {
    if (m["sender"] != "spiffe://na/agent/alice") continue;
    order.push_back(std::stoi(m["message_id"].get<std::string>().substr(1)));
  }
  std::vector<int> want(20);
  for (int i = 0; i < 20; ++i) want[i] = i;
  EXPECT_EQ(order, want) << Inbox(B(), bob).dump();
  EXPECT_TRUE(WaitUntil([&] { return Outbox(A()).empty(); })) << Outbox(A()).dump();
}

}  // namespace
}  // namespace aikernel::testing
