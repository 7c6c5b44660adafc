// Misbehaving clients do not disturb the others: garbage bytes, a truncated
// HTTP/2 conversation, an idle connection, calls abandoned by their
// deadline, and a `follow` stream whose client is SIGKILLed mid-stream.
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <cstring>
#include <random>
#include <stop_token>
#include <thread>

#include "integration/helpers.h"

namespace aikernel::testing {
namespace {

int ConnectRaw(const std::string& path) {
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    ADD_FAILURE() << "connect " << path << ": " << std::strerror(errno);
    close(fd);
    return -1;
  }
  return fd;
}

void SendAll(int fd, const std::string& bytes) {
  size_t off = 0;
  while (off < bytes.size()) {
    ssize_t n = send(fd, bytes.data() + off, bytes.size() - off, MSG_NOSIGNAL);
    if (n <= 0) return;  // the daemon may close on us mid-garbage: fine
    off += static_cast<size_t>(n);
  }
}

// True once the peer closed (EOF or reset) within `timeout`; anything it
// sends first (a GOAWAY) is read and dropped.
bool PeerCloses(int fd, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return false;
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
    char buf[4096];
    ssize_t n = recv(fd, buf, sizeof(buf), 0);
    if (n <= 0) return true;
  }
}

// A client that keeps pinging and checks every answer while the test
// misbehaves around it.
class SteadyClient {
 public:
  explicit SteadyClient(const DaemonProcess& d) : client_(ConnectTo(d)) {
    if (!client_) return;
    thread_ = std::jthread([this](std::stop_token st) {
      uint64_t last_seq = 0;
      for (uint64_t i = 0; !st.stop_requested(); ++i) {
        std::string payload = "steady-" + std::to_string(i);
        auto r = client_->Ping(payload);
        if (!r.ok()) {
          errors_.push_back(r.status().ToString());
          if (errors_.size() >= 100) return;  // the daemon is gone: stop hammering
        } else if (r->payload != payload) {
          errors_.push_back("payload mismatch: " + r->payload);
        } else if (r->audit_sequence <= last_seq) {
          errors_.push_back("audit sequence went backwards");
        } else {
          last_seq = r->audit_sequence;
          std::lock_guard<std::mutex> lock(mu_);
          ok_.fetch_add(1);
          cv_.notify_all();
        }
      }
    });
  }
  // Waits until `n` more answers came back correctly (false after 60 s).
  bool AnswersMore(uint64_t n) {
    std::unique_lock<std::mutex> lock(mu_);
    uint64_t target = ok_.load() + n;
    return cv_.wait_for(lock, std::chrono::seconds(60), [&] { return ok_.load() >= target; });
  }
  std::vector<std::string> Finish() {
    thread_.request_stop();
    if (thread_.joinable()) thread_.join();
    return errors_;
  }
  uint64_t ok() const { return ok_.load(); }
  bool connected() const { return client_ != nullptr; }

 private:
  std::unique_ptr<Client> client_;
  std::atomic<uint64_t> ok_{0};
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::string> errors_;  // written by the thread only, read after join
  std::jthread thread_;
};

TEST(Robustness, GarbageTruncatedAndVanishingClientsDoNotDisturbOthers) {
  TempDir tmp;
  DaemonProcess d(tmp.path());
  ASSERT_TRUE(d.Start());
  SteadyClient steady(d);
  ASSERT_TRUE(steady.connected());
  ASSERT_TRUE(steady.AnswersMore(20)) << d.Log();

  // 1. Random garbage instead of the HTTP/2 preface.
  std::mt19937 rng(42);
  std::string garbage(8192, '\0');
  for (char& ch : garbage) ch = static_cast<char>(rng());
  int g = ConnectRaw(d.socket());
  ASSERT_GE(g, 0);
  SendAll(g, garbage);
  EXPECT_TRUE(PeerCloses(g, std::chrono::seconds(30)))
      << "the daemon should drop a connection that speaks garbage";
  close(g);

  // 2. A valid preface, then a frame header announcing 16 MiB and nothing
  //    more, then a close mid-frame.
  int h = ConnectRaw(d.socket());
  ASSERT_GE(h, 0);
  SendAll(h, std::string("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n") +
                 std::string("\x00\x00\x00\x04\x00\x00\x00\x00\x00", 9) +  // empty SETTINGS
                 std::string("\xff\xff\xff\x01\x04\x00\x00\x00\x01", 9) + "partial");
  close(h);

  // 3. A connection that never says anything (kept open through Stop()).
  int idle = ConnectRaw(d.socket());
  ASSERT_GE(idle, 0);

  // 4. A burst of connect-and-close.
  for (int i = 0; i < 200; ++i) {
    int fd = ConnectRaw(d.socket());
    if (fd >= 0) close(fd);
  }

  // 5. Calls abandoned by their own (impossible) deadline.
  {
    auto c = ConnectTo(d);
    ASSERT_NE(c, nullptr);
    int expired = 0;
    CallOptions late;
    late.timeout = std::chrono::milliseconds(1);
    for (int i = 0; i < 50; ++i) {
      auto r = c->Ping("late", late);
      if (!r.ok()) {
        ++expired;
        EXPECT_EQ(r.status().code(), StatusCode::kDeadlineExceeded) << r.status().ToString();
      }
    }
    std::printf("[robustness] %d of 50 pings with a 1 ms deadline expired\n", expired);
  }
  ASSERT_TRUE(steady.AnswersMore(20)) << d.Log();

  // 6. A follow stream whose client is SIGKILLed mid-stream.
  for (int round = 0; round < 3; ++round) {
    Subprocess tail({AIK_AICTL_PATH, "--socket", d.socket(), "--json", "audit", "tail", "-f",
                     "-n", "1", "--action", "admin.ping"});
    ASSERT_TRUE(tail.started());
    std::string line;
    ASSERT_TRUE(tail.ReadLine(&line)) << "tail -f printed nothing\n" << tail.Stderr();
    nlohmann::json first = ParseJson(line);
    ASSERT_TRUE(tail.ReadLine(&line)) << "tail -f streamed nothing new\n" << tail.Stderr();
    nlohmann::json next = ParseJson(line);
    EXPECT_GT(next["sequence"].get<uint64_t>(), first["sequence"].get<uint64_t>());
    EXPECT_EQ(tail.Kill(), 128 + SIGKILL);
  }
  ASSERT_TRUE(steady.AnswersMore(20)) << d.Log();

  // 7. A follow stream through the SDK, cancelled by its stop token.
  {
    auto c = ConnectTo(d);
    ASSERT_NE(c, nullptr);
    std::stop_source stop;
    AuditFilter f;
    f.follow = true;
    f.after_sequence = 0;
    uint64_t seen = 0;
    CallOptions call;
    call.stop = stop.get_token();
    auto r = c->QueryAudit(
        f,
        [&](const AuditRecord&) {
          if (++seen == 100) stop.request_stop();
          return true;
        },
        call);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_TRUE(r->cancelled);
  }

  std::vector<std::string> errors = steady.Finish();
  EXPECT_TRUE(errors.empty()) << errors.size() << " steady calls failed, first: " << errors[0];
  std::printf("[robustness] steady client: %llu correct answers meanwhile\n",
              static_cast<unsigned long long>(steady.ok()));

  // Still serving, counts intact, and stops cleanly with the idle
  // connection still open.
  auto c = ConnectTo(d);
  ASSERT_NE(c, nullptr);
  auto st = c->Status();
  ASSERT_TRUE(st.ok()) << st.status().ToString();
  EXPECT_GE(st->calls.connections, 200u);
  c.reset();
  auto t0 = std::chrono::steady_clock::now();
  EXPECT_EQ(d.Stop(), 0) << d.Log();
  auto stop_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                     std::chrono::steady_clock::now() - t0)
                     .count();
  std::printf("[robustness] SIGTERM to exit: %lld ms\n", static_cast<long long>(stop_ms));
  close(idle);
  CmdResult v = RunAictl({"audit", "verify", "--db", d.audit_db(), "--pubkey", d.pubkey()});
  EXPECT_EQ(v.exit_code, 0) << v.Describe();
}

}  // namespace
}  // namespace aikernel::testing
