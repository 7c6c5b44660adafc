// The pipelined forwarder (net/forwarder.h) between two real daemons: a
// backlog of several batches streams to the peer, and SIGKILL of the
// sending daemon while batches are on the wire and their markings queued,
// then of the receiving one, loses nothing and delivers nothing twice, in
// order. (The forwarder's pipeline itself: tests/net/forwarder_test.cc.)

#include "net/federation_fixture.h"

namespace aikernel::testing {
namespace {

class PipelineTest : public FederationTest {
 protected:
  std::vector<std::string> NodeNames() const override { return {"na", "nb"}; }
};

TEST_F(PipelineTest, SigkillWithBatchesInFlightLosesAndDuplicatesNothing) {
  constexpr int kMessages = 600;  // the forwarder sends up to 128 per batch
  const std::string bob = FederatePairWithIdleBob();
  ASSERT_FALSE(HasFailure());

  // The backlog: queued while B is down, so that it leaves in full batches.
  ASSERT_EQ(B().d->Stop(), 0);
  RunAgent(A(), "alice", {"send", bob, std::to_string(kMessages), "q-"});
  ASSERT_TRUE(WaitLog(A(), "alice", "send-done", 180s));
  ASSERT_TRUE(B().d->Start());
  // Kill A as soon as the first batch is in B's inbox: the batches after it
  // are on the wire or queued for marking.
  ASSERT_TRUE(WaitUntil([&] { return Inbox(B(), bob).size() > 0; })) << A().d->Log();
  EXPECT_EQ(A().d->Kill(), 137);
  const size_t at_kill_a = Inbox(B(), bob).size();
  ASSERT_TRUE(A().d->Start());
  // And B, once A is streaming again (if everything had arrived before the
  // kill, at once: there is nothing left to stream).
  ASSERT_TRUE(WaitUntil([&] {
    return at_kill_a >= kMessages || Inbox(B(), bob).size() > at_kill_a;
  })) << A().d->Log();
  EXPECT_EQ(B().d->Kill(), 137);
  ASSERT_TRUE(B().d->Start());
  ASSERT_TRUE(WaitUntil([&] { return Inbox(B(), bob).size() >= kMessages; }, 120s))
      << Inbox(B(), bob).size() << "\n" << A().d->Log();
  ::testing::Test::RecordProperty("inbox_when_a_was_killed", static_cast<int>(at_kill_a));

  ExpectOnceInOrder(Inbox(B(), bob), kMessages);
  // Every row ends marked delivered: the outbox empties.
  EXPECT_TRUE(WaitUntil([&] {
    return ParseJson(A().Aictl({"msg", "ls", "--outbox"}).out)["outbox"].empty();
  })) << A().Aictl({"msg", "ls", "--outbox"}).out;
}

}  // namespace
}  // namespace aikernel::testing
