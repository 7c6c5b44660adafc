// The federation tests' fixture: three real aikerneld processes on
// loopback (own state dirs, sockets, peer ports, trust domains "na", "nb",
// "nc"), each with the shipped default policies plus the federation rules
// docs/net.md gives (and what a test adds through ExtraPolicies), and
// helpers to federate them with `aictl node`, run aik_msg_agent agents and
// read logs, inboxes and ledgers.
#pragma once

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

using Clock = std::chrono::steady_clock;

inline bool WaitUntil(const std::function<bool()>& pred, std::chrono::milliseconds timeout = 60s) {
  auto deadline = Clock::now() + timeout;
  while (Clock::now() < deadline) {
    if (pred()) return true;
    std::this_thread::sleep_for(50ms);
  }
  return pred();
}

// A loopback port nobody listens on now (bound and released), so a daemon
// can be restarted on the same address.
inline int FreePort() {
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
  std::string host = "127.0.0.1";
  int port = 0;
  TempDir tmp;
  std::unique_ptr<DaemonProcess> d;

  std::string address() const { return host + ":" + std::to_string(port); }
  CmdResult Aictl(std::vector<std::string> args) const { return AictlJson(*d, std::move(args)); }
  std::string Logs(const std::string& agent) const {
    return RunAictl({"--socket", d->socket(), "agent", "logs", agent}).out;
  }
};

class FederationTest : public ::testing::Test {
 protected:
  // The nodes to start (trust domains), A(), B(), C() in this order.
  virtual std::vector<std::string> NodeNames() const { return {"na", "nb", "nc"}; }
  // Before node `n` is configured and started (its own address, a network
  // namespace: tests/net/netns_test.cc).
  virtual void Prepare(Node& n) { (void)n; }
  // Added to the shared policy directory (tests/net/remote_tools_test.cc).
  virtual std::string ExtraPolicies() const { return ""; }
  // Appended to node `n`'s configuration.
  virtual std::string ExtraConfig(const Node& n) const {
    (void)n;
    return "";
  }

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
           "  when { context.remote && context.peer == \"a\" };\n"
        << ExtraPolicies();
    for (const std::string& n : NodeNames()) {
      auto node = std::make_unique<Node>();
      node->name = n;
      node->port = FreePort();
      node->d = std::make_unique<DaemonProcess>(node->tmp.path());
      Prepare(*node);
      node->d->set_policy_dir(policy_.path());
      node->d->WriteConfigText("[node]\nname = \"" + node->name + "\"\n\n[daemon]\nlogs_dir = \"" +
                               node->tmp.path() + "/logs\"\n\n[agents]\nspecs_dir = \"" +
                               node->tmp.path() + "/agents\"\n\n[peer]\nlisten = \"" +
                               node->address() + "\"\n" + ExtraConfig(*node));
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

  // A and B federated both ways, and agent bob on B who exists (his
  // instance ran) but does not read, so his inbox is what a test checks.
  // Returns bob's SPIFFE id.
  std::string FederatePairWithIdleBob() {
    Federate(A(), "b", B());
    Federate(B(), "a", A());
    RunAgent(B(), "bob", {"send", "spiffe://nb/agent/nobody", "0"});
    EXPECT_TRUE(WaitLog(B(), "bob", "send-done"));
    return "spiffe://nb/agent/bob";
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

  // `inbox` holds each message once, in the order sent (ids "<prefix><n>"
  // with n rising), and `count` of them.
  static void ExpectOnceInOrder(const nlohmann::json& inbox, size_t count) {
    std::set<std::string> ids;
    int last = -1;
    for (const auto& m : inbox) {
      EXPECT_TRUE(ids.insert(m["message_id"].get<std::string>()).second) << m.dump();
      int i = std::stoi(m["message_id"].get<std::string>().substr(1));
      EXPECT_GT(i, last) << "out of order at " << m.dump() << " in " << inbox.dump();
      last = i;
    }
    EXPECT_EQ(ids.size(), count) << inbox.dump();
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

// The "corr:<id>" of a record, or "".
inline std::string Corr(const AuditRecord& r) {
  for (const std::string& id : r.rule_ids) {
    if (id.rfind("corr:", 0) == 0) return id;
  }
  return "";
}

}  // namespace aikernel::testing
