// net::Forwarder on real messages.db files at both ends (the peer is a
// PeerTransport that stores each batch in a second Mailbox, as
// rpc/federation_service.cc does): order and exactly once over several
// batches, and the pipeline: the next batch goes out while the commit that
// marks the previous one delivered has not finished.
#include "net/forwarder.h"

#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <mutex>

#include "store/test_temp_dir.h"

namespace aikernel::net {
namespace {

using namespace std::chrono_literals;

int64_t WallNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

constexpr char kBob[] = "spiffe://nb/agent/bob";

// The receiving node: each batch into its own inbox, duplicates answered as
// such. Counts calls and, per call after the first, whether the previous
// batch's rows were still undelivered in the sender's committed state.
class InboxTransport final : public PeerTransport {
 public:
  InboxTransport(Mailbox* inbox, OutboxReader* sender_view)
      : inbox_(inbox), sender_view_(sender_view) {}

  StatusOr<std::vector<DeliveryOutcome>> Deliver(const Peer& peer,
                                                 const std::vector<Envelope>& batch) override {
    {
      std::lock_guard<std::mutex> l(mu_);
      if (calls_ > 0) {
        auto pending = sender_view_->PendingFor(peer.name, 1, 0);
        if (pending.ok() && !pending->empty() && (*pending)[0].seq <= last_seq_) {
          ++overlapped_;
        }
      }
      ++calls_;
    }
    cv_.notify_all();
    AIK_ASSIGN_OR_RETURN(std::vector<PutResult> put, inbox_->DeliverMany(batch));
    std::vector<DeliveryOutcome> out;
    for (const PutResult& p : put) out.push_back({absl::OkStatus(), p.duplicate});
    return out;
  }

  // After Deliver() answers, the forwarder's cursor is the batch's last seq.
  void SetLastSeq(int64_t seq) {
    std::lock_guard<std::mutex> l(mu_);
    last_seq_ = seq;
  }
  bool WaitCalls(int n, std::chrono::milliseconds timeout) {
    std::unique_lock<std::mutex> l(mu_);
    return cv_.wait_for(l, timeout, [&] { return calls_ >= n; });
  }
  int overlapped() {
    std::lock_guard<std::mutex> l(mu_);
    return overlapped_;
  }

 private:
  Mailbox* inbox_;
  OutboxReader* sender_view_;
  std::mutex mu_;
  std::condition_variable cv_;
  int calls_ = 0;         // GUARDED_BY(mu_)
  int overlapped_ = 0;    // GUARDED_BY(mu_)
  int64_t last_seq_ = 0;  // GUARDED_BY(mu_)
};

class ForwarderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    MailboxOptions o;
    o.path = tmp_.file("sender.db");
    o.purge_interval = 0ms;
    // The gate: once armed, the next use of the sender's clock (the commit
    // that marks the first batch delivered: nothing else reads it then)
    // holds that commit until the transport saw the second batch.
    o.now_ns = [this] {
      if (gate_armed_.exchange(false)) {
        if (!transport_->WaitCalls(2, 20s)) gate_timed_out_ = true;
      }
      return WallNs();
    };
    auto s = Mailbox::Open(o);
    ASSERT_TRUE(s.ok()) << s.status();
    sender_ = std::move(*s);
    MailboxOptions r;
    r.path = tmp_.file("receiver.db");
    r.purge_interval = 0ms;
    auto m = Mailbox::Open(r);
    ASSERT_TRUE(m.ok()) << m.status();
    receiver_ = std::move(*m);
    auto view = sender_->OpenOutboxReader();
    ASSERT_TRUE(view.ok()) << view.status();
    view_ = std::move(*view);
    transport_ = std::make_unique<InboxTransport>(receiver_.get(), view_.get());
    MessengerOptions mo;
    mo.node = "na";
    messenger_ = std::make_unique<Messenger>(sender_.get(), mo);
    Peer nb;
    nb.name = "nb";
    nb.trust_domain = "nb";
    nb.address = "127.0.0.1:1";
    nb.added_ns = 1;
    ASSERT_TRUE(messenger_->AddPeer(nb).ok());
  }

  // `n` messages m0..m<n-1> from alice to bob, queued for peer nb.
  std::vector<int64_t> Queue(int n) {
    std::vector<int64_t> seqs;
    for (int i = 0; i < n; ++i) {
      Envelope e;
      e.message_id = "m" + std::to_string(i);
      e.sender = "spiffe://na/agent/alice";
      e.recipient = kBob;
      e.topic = "t";
      e.payload = "p" + std::to_string(i);
      e.sent_ns = WallNs();
      auto put = sender_->Enqueue(e, "nb");
      EXPECT_TRUE(put.ok()) << put.status();
      if (put.ok()) seqs.push_back(put->seq);
    }
    return seqs;
  }

  // The receiver's inbox holds m0..m<n-1> once each, in order.
  void ExpectInboxInOrder(int n) {
    auto got = receiver_->ListInbox(kBob, true, 100000);
    ASSERT_TRUE(got.ok()) << got.status();
    ASSERT_EQ(got->size(), static_cast<size_t>(n));
    for (int i = 0; i < n; ++i) EXPECT_EQ((*got)[i].env.message_id, "m" + std::to_string(i));
  }

  testing::TempDir tmp_;
  std::atomic<bool> gate_armed_{false};
  std::atomic<bool> gate_timed_out_{false};
  std::unique_ptr<Mailbox> sender_, receiver_;
  std::unique_ptr<OutboxReader> view_;
  std::unique_ptr<InboxTransport> transport_;
  std::unique_ptr<Messenger> messenger_;
};

TEST_F(ForwarderTest, TheNextBatchGoesOutWhileThePreviousOneIsBeingMarkedDelivered) {
  constexpr int kBatch = 16;
  const std::vector<int64_t> seqs = Queue(5 * kBatch);
  ASSERT_EQ(seqs.size(), 5u * kBatch);
  transport_->SetLastSeq(seqs[kBatch - 1]);
  gate_armed_ = true;
  {
    Forwarder f(sender_.get(), messenger_.get(), transport_.get(),
                ForwarderOptions{.batch = kBatch});
    f.Start();
    // Without the pipeline the second batch would wait for the first one's
    // marking, which waits for the second batch: the gate gives up.
    ASSERT_TRUE(transport_->WaitCalls(2, 30s));
    EXPECT_FALSE(gate_timed_out_.load()) << "batch 2 was not sent before batch 1 was marked";
    EXPECT_GE(transport_->overlapped(), 1);
    ASSERT_TRUE(transport_->WaitCalls(5, 30s));
    f.Stop();  // waits for the markings it queued
  }
  ExpectInboxInOrder(5 * kBatch);
  auto left = sender_->PendingFor("nb", 1000);
  ASSERT_TRUE(left.ok()) << left.status();
  EXPECT_TRUE(left->empty()) << left->size() << " rows not marked delivered";
}

TEST_F(ForwarderTest, RowsSentButNotMarkedAreSentAgainAfterARestartAndLandOnce) {
  // A daemon killed with markings in flight: the receiver stored the rows,
  // the sender's outbox still has them. Here: the receiver got the first
  // two batches; the sender never marked them.
  constexpr int kBatch = 8;
  const std::vector<int64_t> seqs = Queue(4 * kBatch);
  ASSERT_EQ(seqs.size(), 4u * kBatch);
  auto first = view_->PendingFor("nb", 2 * kBatch, 0);
  ASSERT_TRUE(first.ok()) << first.status();
  std::vector<Envelope> sent;
  for (const OutboxRow& r : *first) sent.push_back(r.env);
  ASSERT_TRUE(receiver_->DeliverMany(sent).ok());
  {
    Forwarder f(sender_.get(), messenger_.get(), transport_.get(),
                ForwarderOptions{.batch = kBatch});
    f.Start();
    ASSERT_TRUE(transport_->WaitCalls(4, 30s));
    f.Stop();
  }
  ExpectInboxInOrder(4 * kBatch);
  auto outbox = sender_->ListOutbox("", true, 1000);
  ASSERT_TRUE(outbox.ok()) << outbox.status();
  ASSERT_EQ(outbox->size(), 4u * kBatch);
  for (const OutboxRow& r : *outbox) {
    EXPECT_NE(r.delivered_ns, 0) << r.env.message_id;
    EXPECT_EQ(r.last_error, "") << r.env.message_id;
  }
}

}  // namespace
}  // namespace aikernel::net
