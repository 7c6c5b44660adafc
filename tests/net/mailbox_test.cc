// net::Mailbox on a real messages.db: exactly once into an inbox, order,
// visibility and redelivery, acknowledgement, TTL, the outbox, peers, and
// that a reopened file keeps all of it.
#include "net/mailbox.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "store/test_temp_dir.h"

namespace aikernel::net {
namespace {

using namespace std::chrono_literals;

class MailboxTest : public ::testing::Test {
 protected:
  void SetUp() override { Open(); }

  void Open() {
    MailboxOptions o;
    o.path = tmp_.file("messages.db");
    o.now_ns = [this] { return now_.load(); };
    o.purge_interval = 0ms;  // purges are tested explicitly through expiry
    auto m = Mailbox::Open(o);
    ASSERT_TRUE(m.ok()) << m.status();
    mb_ = std::move(*m);
  }

  Envelope Env(const std::string& id, const std::string& payload,
               const std::string& sender = "spiffe://a/agent/alice") {
    Envelope e;
    e.message_id = id;
    e.sender = sender;
    e.recipient = "spiffe://a/agent/bob";
    e.topic = "t";
    e.payload = payload;
    e.sent_ns = now_.load();
    e.correlation = "c-" + id;
    return e;
  }

  std::vector<StoredMessage> Take(size_t max = 100, std::chrono::nanoseconds vis = 30s) {
    auto r = mb_->Receive("spiffe://a/agent/bob", max, vis, 0ns, nullptr);
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *r : std::vector<StoredMessage>{};
  }

  testing::TempDir tmp_;
  std::atomic<int64_t> now_{1'000'000'000'000};
  std::unique_ptr<Mailbox> mb_;
};

TEST_F(MailboxTest, ExactlyOnceInOrderAcrossReopen) {
  for (int i = 0; i < 3; ++i) {
    auto r = mb_->Deliver(Env("m" + std::to_string(i), "p" + std::to_string(i)));
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_FALSE(r->duplicate);
  }
  auto dup = mb_->Deliver(Env("m1", "other payload"));
  ASSERT_TRUE(dup.ok());
  EXPECT_TRUE(dup->duplicate);
  EXPECT_EQ(dup->correlation, "c-m1");
  // The same id from another sender is another message.
  ASSERT_FALSE(mb_->Deliver(Env("m1", "x", "spiffe://a/agent/carol"))->duplicate);

  mb_->Close();
  Open();
  std::vector<StoredMessage> got = Take();
  ASSERT_EQ(got.size(), 4u);
  EXPECT_EQ(got[0].env.payload, "p0");
  EXPECT_EQ(got[1].env.payload, "p1");
  EXPECT_EQ(got[2].env.payload, "p2");
  EXPECT_EQ(got[3].env.sender, "spiffe://a/agent/carol");
  EXPECT_LT(got[0].seq, got[1].seq);
  EXPECT_EQ(got[0].deliveries, 1);
}

TEST_F(MailboxTest, UnackedComesBackAfterVisibilityAckedNeverAndStaysDeduplicated) {
  ASSERT_TRUE(mb_->Deliver(Env("a", "1")).ok());
  ASSERT_TRUE(mb_->Deliver(Env("b", "2")).ok());
  std::vector<StoredMessage> first = Take(100, 10s);
  ASSERT_EQ(first.size(), 2u);
  EXPECT_TRUE(Take().empty());  // invisible while leased
  auto acked = mb_->Ack("spiffe://a/agent/bob", {first[0].seq});
  ASSERT_TRUE(acked.ok());
  EXPECT_EQ(*acked, 1);
  // Someone else's ack of bob's seq changes nothing.
  EXPECT_EQ(*mb_->Ack("spiffe://a/agent/eve", {first[1].seq}), 0);
  now_ += 11'000'000'000;
  std::vector<StoredMessage> again = Take();
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(again[0].env.message_id, "b");
  EXPECT_EQ(again[0].deliveries, 2);
  // A retry of an acknowledged message is still a duplicate.
  EXPECT_TRUE(mb_->Deliver(Env("a", "1"))->duplicate);
}

TEST_F(MailboxTest, ExpiredMessagesAreNeitherStoredNorHandedOut) {
  Envelope late = Env("late", "x");
  late.expires_ns = now_.load() - 1;
  auto r = mb_->Deliver(late);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->expired);
  Envelope soon = Env("soon", "y");
  soon.expires_ns = now_.load() + 5'000'000'000;
  ASSERT_FALSE(mb_->Deliver(soon)->expired);
  now_ += 6'000'000'000;
  EXPECT_TRUE(Take().empty());
}

TEST_F(MailboxTest, ReceiveWaitsForADeliveryAndGivesUpAtItsDeadline) {
  auto t0 = std::chrono::steady_clock::now();
  auto none = mb_->Receive("spiffe://a/agent/bob", 10, 30s, 300ms, nullptr);
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
  EXPECT_GE(std::chrono::steady_clock::now() - t0, 300ms);

  std::thread sender([&] { ASSERT_TRUE(mb_->Deliver(Env("w", "woke")).ok()); });
  auto got = mb_->Receive("spiffe://a/agent/bob", 10, 30s, 20s, nullptr);
  sender.join();
  ASSERT_TRUE(got.ok());
  ASSERT_EQ(got->size(), 1u);
  EXPECT_EQ((*got)[0].env.payload, "woke");
}

TEST_F(MailboxTest, OutboxKeepsOrderPerPeerUntilDelivered) {
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(mb_->Enqueue(Env("o" + std::to_string(i), "x"), "nb").ok());
  }
  EXPECT_TRUE(mb_->Enqueue(Env("o1", "x"), "nb")->duplicate);
  ASSERT_TRUE(mb_->Enqueue(Env("z", "x"), "nc").ok());
  auto peers = mb_->PeersWithPending();
  ASSERT_TRUE(peers.ok());
  EXPECT_EQ(peers->size(), 2u);
  auto pending = mb_->PendingFor("nb", 10);
  ASSERT_TRUE(pending.ok());
  ASSERT_EQ(pending->size(), 3u);
  EXPECT_EQ((*pending)[0].env.message_id, "o0");
  ASSERT_TRUE(mb_->MarkFailed({(*pending)[0].seq}, 42, "peer down").ok());
  ASSERT_TRUE(mb_->MarkDelivered({(*pending)[0].seq, (*pending)[1].seq}).ok());
  pending = mb_->PendingFor("nb", 10);
  ASSERT_EQ(pending->size(), 1u);
  EXPECT_EQ((*pending)[0].env.message_id, "o2");
  auto all = mb_->ListOutbox("", true, 10);
  ASSERT_TRUE(all.ok());
  EXPECT_EQ((*all)[0].attempts, 2);
}

TEST_F(MailboxTest, PeersAreUniquePerTrustDomain) {
  Peer p{"b", "nb", "127.0.0.1:1", "PEM", "aictl", 0};
  ASSERT_TRUE(mb_->PutPeer(p).ok());
  Peer q{"b2", "nb", "127.0.0.1:2", "PEM", "aictl", 0};
  Status st = mb_->PutPeer(q);
  EXPECT_TRUE(absl::IsAlreadyExists(st)) << st;
  auto peers = mb_->ListPeers();
  ASSERT_EQ(peers->size(), 1u);
  EXPECT_EQ((*peers)[0].address, "127.0.0.1:1");
  EXPECT_TRUE(*mb_->RemovePeer("b"));
  EXPECT_FALSE(*mb_->RemovePeer("b"));
}

}  // namespace
}  // namespace aikernel::net
