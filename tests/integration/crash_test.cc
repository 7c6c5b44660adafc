// kill -9 of the daemon during a burst of calls: every call whose reply a
// client received is in the ledger after a restart, and the chain verifies.
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <set>
#include <thread>

#include "integration/helpers.h"

namespace aikernel::testing {
namespace {

struct Burst {
  std::mutex mu;
  std::condition_variable cv;
  std::vector<uint64_t> acked;  // audit sequences of OK replies
  std::vector<std::string> errors;
  int running = 0;
};

void RunBurst(DaemonProcess& d, int threads, size_t kill_after, const char* mode,
              std::vector<uint64_t>* acked_out) {
  Burst b;
  std::atomic<bool> stop{false};
  std::vector<std::thread> pool;
  b.running = threads;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      auto c = ConnectTo(d);  // one Client (channel) per thread
      for (uint64_t i = 0; c && !stop.load(); ++i) {
        auto r = c->Ping("burst-" + std::to_string(t) + "-" + std::to_string(i));
        std::lock_guard<std::mutex> lock(b.mu);
        if (!r.ok()) {
          b.errors.push_back(r.status().ToString());
          break;
        }
        if (r->audit_sequence == 0) b.errors.push_back("OK reply without an audit sequence");
        b.acked.push_back(r->audit_sequence);
        b.cv.notify_all();
      }
      std::lock_guard<std::mutex> lock(b.mu);
      --b.running;
      b.cv.notify_all();
    });
  }
  {
    std::unique_lock<std::mutex> lock(b.mu);
    bool reached = b.cv.wait_for(lock, std::chrono::seconds(120), [&] {
      return b.acked.size() >= kill_after || b.running == 0;
    });
    EXPECT_TRUE(reached) << "burst made no progress";
    EXPECT_GE(b.acked.size(), kill_after) << "clients stopped early: "
                                          << (b.errors.empty() ? "" : b.errors.front());
  }
  // Mid-burst: the clients are still calling.
  EXPECT_EQ(d.Kill(), 128 + SIGKILL);
  stop = true;
  for (auto& t : pool) t.join();
  std::printf("[%s] %zu calls acknowledged by %d threads before SIGKILL; %zu failed after it\n",
              mode, b.acked.size(), threads, b.errors.size());
  *acked_out = std::move(b.acked);
}

void CheckAfterRestart(DaemonProcess& d, const std::vector<uint64_t>& acked) {
  ASSERT_TRUE(d.Start()) << "restart on the same state dir after SIGKILL";
  auto c = ConnectTo(d);
  ASSERT_NE(c, nullptr);
  AuditFilter f;
  f.action = "admin.ping";
  f.principal = "operator:0";
  std::set<uint64_t> in_ledger;
  for (const AuditRecord& r : Query(*c, f)) {
    EXPECT_EQ(r.decision, Decision::kAllow);
    EXPECT_EQ(r.code, 0);
    in_ledger.insert(r.sequence);
  }
  size_t missing = 0;
  for (uint64_t s : acked) {
    if (!in_ledger.count(s)) {
      if (++missing <= 10) ADD_FAILURE() << "acknowledged call #" << s << " is not in the ledger";
    }
  }
  EXPECT_EQ(missing, 0u) << "of " << acked.size() << " acknowledged calls";
  std::set<uint64_t> unique(acked.begin(), acked.end());
  EXPECT_EQ(unique.size(), acked.size()) << "two replies carried the same audit sequence";

  // New calls chain on: the restarted daemon continues the sequence.
  auto p = c->Ping("after restart");
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  EXPECT_GT(p->audit_sequence, *unique.rbegin());
  c.reset();
  EXPECT_EQ(d.Stop(), 0) << d.Log();

  CmdResult v = RunAictl({"audit", "verify", "--db", d.audit_db(), "--pubkey", d.pubkey()});
  EXPECT_EQ(v.exit_code, 0) << v.Describe();
}

class KillDuringBurst : public ::testing::TestWithParam<const char*> {};

TEST_P(KillDuringBurst, NoAcknowledgedCallIsLostAndTheChainVerifies) {
  TempDir tmp;
  DaemonProcess d(tmp.path());
  d.WriteConfig(DaemonConfig::With(
      "", std::string("synchronous = \"") + GetParam() + "\"\ncheckpoint_every_records = 50\n"));
  ASSERT_TRUE(d.Start());
  std::vector<uint64_t> acked;
  RunBurst(d, 4, 400, GetParam(), &acked);
  CheckAfterRestart(d, acked);
}

INSTANTIATE_TEST_SUITE_P(Synchronous, KillDuringBurst, ::testing::Values("full", "normal"),
                         [](const auto& info) { return std::string(info.param); });

}  // namespace
}  // namespace aikernel::testing
