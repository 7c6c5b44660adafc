// Federation through real daemons on loopback: three aikerneld processes
// (own state dirs, sockets, peer ports, trust domains "na", "nb", "nc")
// federate with `aictl node bundle` / `aictl node peer add`; agents they spawn
// (aik_msg_agent) message across nodes. Checks: delivery in order, once;
// both ledgers record it with one correlation id; a peer that is down gets
// its messages when it is back; SIGKILL of either daemon mid-delivery loses
// nothing and duplicates nothing; a node that is not federated, or whose
// certificate does not chain to the bundle federated for its trust domain,
// is refused and the refusal is in the ledger. Cutting a link between
// network namespaces: netns_test.cc; remote tool calls: remote_tools_test.cc.
#include "net/federation_fixture.h"

namespace aikernel::testing {
namespace {


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
  const std::string bob = FederatePairWithIdleBob();
  ASSERT_FALSE(HasFailure());

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
  ExpectOnceInOrder(Inbox(B(), bob), 40);
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

}  // namespace
}  // namespace aikernel::testing
