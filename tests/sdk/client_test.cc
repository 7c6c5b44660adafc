// SDK tests against FakeDaemon (no aikerneld needed): endpoint selection,
// connect errors, typed results, audit sequence trailers, error mapping,
// streaming with cancel, deadlines, and AIKERNEL_FD over a socketpair.
#include "aikernel/client.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>

#include <thread>

#include "sdk/fake_daemon.h"
#include "store/test_temp_dir.h"

namespace aikernel {
namespace {

using namespace std::chrono_literals;
using aikernel::testing::FakeDaemon;

class EnvGuard {
 public:
  EnvGuard() {
    unsetenv("AIKERNEL_FD");
    unsetenv("AIKERNEL_SOCKET");
  }
  ~EnvGuard() {
    unsetenv("AIKERNEL_FD");
    unsetenv("AIKERNEL_SOCKET");
  }
};

TEST(ResolveEndpoint, DefaultWhenNothingSet) {
  EnvGuard env;
  auto ep = ResolveEndpoint({});
  ASSERT_TRUE(ep.ok()) << ep.status().ToString();
  EXPECT_EQ(ep->source, Endpoint::Source::kDefault);
  EXPECT_EQ(ep->path, "/run/aikernel/aikernel.sock");
  EXPECT_EQ(ep->fd, -1);
}

TEST(ResolveEndpoint, OrderOptionThenFdThenSocketThenDefault) {
  EnvGuard env;
  setenv("AIKERNEL_SOCKET", "/tmp/env.sock", 1);
  auto ep = ResolveEndpoint({});
  ASSERT_TRUE(ep.ok());
  EXPECT_EQ(ep->source, Endpoint::Source::kEnvSocket);
  EXPECT_EQ(ep->path, "/tmp/env.sock");

  setenv("AIKERNEL_FD", "7", 1);
  ep = ResolveEndpoint({});
  ASSERT_TRUE(ep.ok());
  EXPECT_EQ(ep->source, Endpoint::Source::kEnvFd);
  EXPECT_EQ(ep->fd, 7);
  EXPECT_EQ(ep->ToString(), "fd 7 (AIKERNEL_FD)");

  ClientOptions o;
  o.socket_path = "/tmp/opt.sock";
  ep = ResolveEndpoint(o);
  ASSERT_TRUE(ep.ok());
  EXPECT_EQ(ep->source, Endpoint::Source::kOption);
  EXPECT_EQ(ep->path, "/tmp/opt.sock");

  ClientOptions f;
  f.fd = 9;
  ep = ResolveEndpoint(f);
  ASSERT_TRUE(ep.ok());
  EXPECT_EQ(ep->source, Endpoint::Source::kOption);
  EXPECT_EQ(ep->fd, 9);
}

TEST(ResolveEndpoint, EmptyVariablesAreUnset) {
  EnvGuard env;
  setenv("AIKERNEL_FD", "", 1);
  setenv("AIKERNEL_SOCKET", "", 1);
  auto ep = ResolveEndpoint({});
  ASSERT_TRUE(ep.ok());
  EXPECT_EQ(ep->source, Endpoint::Source::kDefault);
}

TEST(ResolveEndpoint, RejectsBadFdAndBothOptions) {
  EnvGuard env;
  for (const char* bad : {"abc", "-1", "3x", "99999999999"}) {
    setenv("AIKERNEL_FD", bad, 1);
    auto ep = ResolveEndpoint({});
    ASSERT_FALSE(ep.ok()) << bad;
    EXPECT_EQ(ep.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(ep.status().message().find("AIKERNEL_FD"), std::string::npos);
  }
  ClientOptions o;
  o.fd = 3;
  o.socket_path = "/x";
  EXPECT_EQ(ResolveEndpoint(o).status().code(), StatusCode::kInvalidArgument);
}

TEST(Status, NamesAndToString) {
  EXPECT_STREQ(StatusCodeName(StatusCode::kPermissionDenied), "PERMISSION_DENIED");
  EXPECT_STREQ(StatusCodeName(StatusCode::kUnauthenticated), "UNAUTHENTICATED");
  EXPECT_STREQ(StatusCodeName(static_cast<StatusCode>(99)), "UNKNOWN");
  EXPECT_EQ(StatusCodeFromInt(14), StatusCode::kUnavailable);
  EXPECT_EQ(StatusCodeFromInt(-3), StatusCode::kUnknown);
  EXPECT_EQ(Status().ToString(), "OK");
  Status s(StatusCode::kNotFound, "no such agent", 12);
  EXPECT_EQ(s.ToString(), "NOT_FOUND: no such agent");
  EXPECT_EQ(s.audit_sequence(), 12u);
  EXPECT_FALSE(s.denied());
  EXPECT_TRUE(Status(StatusCode::kUnauthenticated, "").denied());
  Result<int> r = Status();  // an OK status cannot make a Result without value
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInternal);
  Result<int> v = 5;
  EXPECT_TRUE(v.ok());
  EXPECT_EQ(*v, 5);
  EXPECT_EQ(HexEncode(std::string("\x00\xff\x10", 3)), "00ff10");
}

TEST(Connect, MissingSocketNamesTheCause) {
  EnvGuard env;
  ClientOptions o;
  o.socket_path = "/nonexistent-dir/aikernel.sock";
  auto c = Client::Connect(o);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), StatusCode::kUnavailable);
  EXPECT_EQ(c.status().message(),
            "cannot connect to /nonexistent-dir/aikernel.sock: No such file or directory — is "
            "aikerneld running?");
}

TEST(Connect, RefusedSocketNamesTheCause) {
  aikernel::testing::TempDir dir;
  std::string path = dir.file("dead.sock");
  // A socket file nobody listens on.
  int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  strcpy(a.sun_path, path.c_str());
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0);
  ::close(fd);
  ClientOptions o;
  o.socket_path = path;
  auto c = Client::Connect(o);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(c.status().message().find("Connection refused"), std::string::npos)
      << c.status().message();
}

TEST(Connect, TooLongPath) {
  ClientOptions o;
  o.socket_path = "/tmp/" + std::string(200, 'x');
  auto c = Client::Connect(o);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), StatusCode::kInvalidArgument);
}

TEST(Connect, FdThatIsNotASocket) {
  int p[2];
  ASSERT_EQ(::pipe(p), 0);
  ClientOptions o;
  o.fd = p[0];
  auto c = Client::Connect(o);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(c.status().message().find("not a socket"), std::string::npos);
  ::close(p[0]);
  ::close(p[1]);
  o.fd = 1000;  // not open
  c = Client::Connect(o);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), StatusCode::kInvalidArgument);
}

class OverUnixSocket : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = dir_.file("s.sock");
    ASSERT_TRUE(daemon_.ListenUnix(path_));
    ClientOptions o;
    o.socket_path = path_;
    auto c = Client::Connect(o);
    ASSERT_TRUE(c.ok()) << c.status().ToString();
    client_ = std::move(c).value();
  }
  aikernel::testing::TempDir dir_;
  std::string path_;
  FakeDaemon daemon_;
  std::unique_ptr<Client> client_;
};

TEST_F(OverUnixSocket, Whoami) {
  auto r = client_->Whoami();
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->principal.kind, PrincipalKind::kOperator);
  EXPECT_EQ(r->principal.id, "operator:0");
  EXPECT_EQ(r->principal.pid, 4242);
  EXPECT_EQ(r->node, "node-test");
  EXPECT_EQ(r->audit_sequence, 100u);
  auto r2 = client_->Whoami();
  ASSERT_TRUE(r2.ok());
  EXPECT_EQ(r2->audit_sequence, 101u);
  EXPECT_EQ(client_->endpoint().path, path_);
}

TEST_F(OverUnixSocket, StatusPingReload) {
  auto s = client_->Status();
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ(s->version, "0.1.0");
  EXPECT_EQ(s->uptime, 3723s);
  EXPECT_EQ(s->started_at.time_since_epoch(), std::chrono::seconds(1'700'000'000));
  EXPECT_EQ(s->ledger.sequence, 99u);
  EXPECT_EQ(HexEncode(s->ledger.hash).substr(0, 4), "abab");
  EXPECT_EQ(s->calls.denied, 2u);
  EXPECT_EQ(s->audit_sequence, 100u);

  auto p = client_->Ping("hello");
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->payload, "hello");
  EXPECT_GT(p->round_trip.count(), 0);
  EXPECT_EQ(p->audit_sequence, 101u);

  auto big = client_->Ping(std::string(5000, 'x'));
  ASSERT_FALSE(big.ok());
  EXPECT_EQ(big.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(big.status().audit_sequence(), 102u);

  auto r = client_->Reload();
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->applied, std::vector<std::string>{"daemon.log_level"});
  EXPECT_EQ(r->needs_restart, std::vector<std::string>{"daemon.socket"});
}

TEST_F(OverUnixSocket, DeniedCarriesCodeMessageAndAuditSequence) {
  daemon_.state.deny_admin = true;
  auto s = client_->Status();
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), StatusCode::kPermissionDenied);
  EXPECT_TRUE(s.status().denied());
  EXPECT_NE(s.status().message().find("admin-operators-only"), std::string::npos);
  EXPECT_EQ(s.status().audit_sequence(), 100u);
  daemon_.state.deny_admin = false;
  daemon_.state.unauthenticated = true;
  auto w = client_->Whoami();
  ASSERT_FALSE(w.ok());
  EXPECT_EQ(w.status().code(), StatusCode::kUnauthenticated);
}

TEST_F(OverUnixSocket, MissingTrailerMeansZero) {
  daemon_.state.omit_seq = true;
  auto r = client_->Whoami();
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->audit_sequence, 0u);
}

TEST_F(OverUnixSocket, Deadline) {
  daemon_.state.stall_ms = 500;
  CallOptions call;
  call.timeout = 50ms;
  auto r = client_->Whoami(call);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kDeadlineExceeded);
  EXPECT_NE(r.status().message().find("50 ms"), std::string::npos);
}

TEST_F(OverUnixSocket, QueryAuditPassesFilterAndStreams) {
  daemon_.state.records = aikernel::testing::MakeRecords(10);
  AuditFilter f;
  f.principal = "operator:0";
  f.action = "admin.status";
  f.decision = Decision::kAllow;
  f.since = Timestamp(std::chrono::seconds(1'700'000'001) + 5ns);
  f.until = Timestamp(std::chrono::seconds(1'800'000'000));
  f.limit = 50;
  f.after_sequence = 0;
  std::vector<AuditRecord> got;
  auto r = client_->QueryAudit(f, [&](const AuditRecord& rec) {
    got.push_back(rec);
    return true;
  });
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_FALSE(r->cancelled);
  EXPECT_EQ(r->records, got.size());
  EXPECT_EQ(r->audit_sequence, 100u);
  // operator:0 records are the odd ones; 3 and 9 are denied.
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[0].sequence, 1u);
  EXPECT_EQ(got[1].sequence, 5u);
  EXPECT_EQ(got[0].time.time_since_epoch(), std::chrono::seconds(1'700'000'001) + 123'456'789ns);
  EXPECT_EQ(got[0].decision, Decision::kAllow);
  EXPECT_EQ(got[0].latency, 45'001ns);
  EXPECT_EQ(got[0].hash.size(), 32u);
  EXPECT_EQ(got[1].prev_hash, std::string(32, static_cast<char>(0x14)));

  std::lock_guard<std::mutex> l(daemon_.state.mu);
  const auto& q = daemon_.state.last_query;
  EXPECT_EQ(q.principal(), "operator:0");
  EXPECT_EQ(q.action(), "admin.status");
  EXPECT_EQ(q.decision(), v1::DECISION_ALLOW);
  EXPECT_EQ(q.since().seconds(), 1'700'000'001);
  EXPECT_EQ(q.since().nanos(), 5);
  EXPECT_EQ(q.until().seconds(), 1'800'000'000);
  EXPECT_EQ(q.limit(), 50u);
  EXPECT_FALSE(q.follow());
}

TEST_F(OverUnixSocket, QueryAuditCallbackFalseCancels) {
  daemon_.state.records = aikernel::testing::MakeRecords(10);
  int seen = 0;
  auto r = client_->QueryAudit({}, [&](const AuditRecord&) { return ++seen < 3; });
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_TRUE(r->cancelled);
  EXPECT_EQ(seen, 3);
  EXPECT_EQ(r->records, 3u);
}

TEST_F(OverUnixSocket, FollowEndsOnStopToken) {
  daemon_.state.records = aikernel::testing::MakeRecords(4);
  AuditFilter f;
  f.last = true;
  f.limit = 2;
  f.follow = true;
  std::stop_source stop;
  CallOptions call;
  call.stop = stop.get_token();
  std::vector<uint64_t> seqs;
  auto r = client_->QueryAudit(
      f,
      [&](const AuditRecord& rec) {
        seqs.push_back(rec.sequence);
        if (seqs.size() == 2) {
          std::thread([&stop] {
            std::this_thread::sleep_for(50ms);
            stop.request_stop();
          }).detach();
        }
        return true;
      },
      call);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_TRUE(r->cancelled);
  EXPECT_EQ(seqs, (std::vector<uint64_t>{3, 4}));
  std::lock_guard<std::mutex> l(daemon_.state.mu);
  EXPECT_TRUE(daemon_.state.last_query.last());
  EXPECT_TRUE(daemon_.state.last_query.follow());
}

TEST(OverFd, ExplicitFdWorksAndIsMadeNonBlocking) {
  FakeDaemon daemon;
  int fd = daemon.ServeSocketpair();
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::fcntl(fd, F_GETFL) & O_NONBLOCK, 0);
  ClientOptions o;
  o.fd = fd;
  auto c = Client::Connect(o);
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_NE(::fcntl(fd, F_GETFL) & O_NONBLOCK, 0);
  EXPECT_NE(::fcntl(fd, F_GETFD) & FD_CLOEXEC, 0);
  auto r = (*c)->Whoami();
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->principal.id, "operator:0");
  EXPECT_EQ(r->audit_sequence, 100u);
  auto s = (*c)->Status();
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->audit_sequence, 101u);
}

// The only test that uses AIKERNEL_FD: the first Connect takes it, a second
// one in the same process is refused.
TEST(OverFd, EnvFdIsTakenOnce) {
  EnvGuard env;
  FakeDaemon daemon;
  int fd = daemon.ServeSocketpair();
  ASSERT_GE(fd, 0);
  setenv("AIKERNEL_SOCKET", "/nonexistent.sock", 1);  // AIKERNEL_FD wins
  setenv("AIKERNEL_FD", std::to_string(fd).c_str(), 1);
  auto c = Client::Connect({});
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ((*c)->endpoint().source, Endpoint::Source::kEnvFd);
  auto r = (*c)->Whoami();
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->node, "node-test");
  auto again = Client::Connect({});
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.status().code(), StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace aikernel
