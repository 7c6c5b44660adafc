// The identity.* syscalls through the kernel's dispatch path, with a real
// ConnectionTable (socketpairs, credentials from the OS), the Cedar
// authorizer with the shipped policy set (config/), a real NodeCA and RevocationList in a temp dir, and a
// recording audit sink. An agent connection is registered the way the
// supervisor does it (ConnectionTable::RegisterAgent on the daemon end of a
// socketpair); every other connection is registered as accepted from the
// socket (Register), which can never make an agent.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <ctime>
#include <mutex>

#include "aikernel/v1/identity.pb.h"
#include "common/unique_fd.h"
#include "identity/identity_test_util.h"
#include "kernel/cedar_authorizer.h"
#include "kernel/identity_calls.h"
#include "kernel/kernel.h"
#include "kernel/kernel_test_util.h"
#include "rpc/server.h"
#include "sandbox/sandbox.h"

namespace aikernel::kernel {
namespace {

using identity::testing::FakeClock;
using identity::testing::RunCommand;
using testutil::Conn;
using testutil::RecordingSink;
using testutil::Connect;

// The kernel's Clock over the test's settable clock.
class TestClock : public Clock {
 public:
  explicit TestClock(FakeClock* c) : c_(c) {}
  int64_t RealtimeNs() const override { return c_->NowNs(); }
  int64_t MonotonicNs() const override { return mono_ += 1000; }

 private:
  FakeClock* c_;
  mutable std::atomic<int64_t> mono_{0};
};

const char kTd[] = "node-a.example";
const char kAgentA[] = "spiffe://node-a.example/agent/alpha";
const char kAgentB[] = "spiffe://node-a.example/agent/beta";

class IdentityCallsTest : public ::testing::Test {
 protected:
  IdentityCallsTest() : kclock(&clock) {
    identity::NodeCA::Options o;
    o.keys_dir = tmp.file("keys");
    o.trust_domain = kTd;
    o.now_ns = clock.Fn();
    o.revocations = &revocations;
    auto ca_or = identity::NodeCA::Open(o);
    EXPECT_TRUE(ca_or.ok()) << ca_or.status();
    ca = std::move(*ca_or);
    IdentitySettings s;
    s.x509_svid_ttl = std::chrono::hours(1);
    s.jwt_svid_ttl = std::chrono::minutes(5);
    calls = std::make_unique<IdentityCalls>(ca.get(), &revocations, &table, s, &kclock);
    auto store = policy::LoadPolicyStore(AIK_SOURCE_DIR "/config", kBuiltinPolicies);
    EXPECT_TRUE(store.ok()) << store.status();
    if (store.ok()) authz.Install(*store);
    KernelDeps deps;
    deps.connections = &table;
    deps.authorizer = &authz;
    deps.sink = &sink;
    deps.clock = &kclock;
    deps.identity = calls.get();
    kernel = std::make_unique<Kernel>(KernelInfo{"node-a", "0", "", "", "", "full"}, deps);
  }

  // The daemon end of a socketpair registered as an agent instance.
  std::string RegisterAgent(const Conn& c, const std::string& spiffe_id,
                            const std::string& instance) {
    AgentIdentity a;
    a.name = spiffe_id.substr(spiffe_id.rfind('/') + 1);
    a.instance_id = instance;
    a.spiffe_id = spiffe_id;
    a.pid = getpid();
    a.uid = 65534;
    a.gid = 65534;
    EXPECT_TRUE(table.RegisterAgent(c.server.get(), a).ok());
    return "fd:" + std::to_string(c.server.get());
  }
  // A connection accepted from the socket: credentials from SO_PEERCRED.
  std::string RegisterSocket(const Conn& c) {
    auto creds = ReadPeerCredentials(c.server.get());
    EXPECT_TRUE(creds.ok()) << creds.status();
    EXPECT_TRUE(table.Register(c.server.get(), *creds).ok());
    return "fd:" + std::to_string(c.server.get());
  }

  // The same closures the RPC layer runs (rpc/identity_service.cc).
  CallResult FetchX509(const std::string& peer, identity::X509Svid* out) {
    v1::FetchX509SVIDRequest req;
    CallRequest call{peer, Syscall::kIdentityFetchX509, "", &req};
    call.bind = &IdentityCalls::BindFetch;
    return kernel->Dispatch(call, [&](const Principal& p) -> Status {
      AIK_ASSIGN_OR_RETURN(*out, calls->FetchX509(p));
      return absl::OkStatus();
    });
  }
  CallResult FetchJwt(const std::string& peer, const std::vector<std::string>& aud,
                      identity::JwtSvid* out) {
    v1::FetchJWTSVIDRequest req;
    CallRequest call{peer, Syscall::kIdentityFetchJwt, "", &req};
    call.bind = &IdentityCalls::BindFetch;
    return kernel->Dispatch(call, [&](const Principal& p) -> Status {
      AIK_ASSIGN_OR_RETURN(*out, calls->FetchJwt(p, aud));
      return absl::OkStatus();
    });
  }
  // Returns "" if valid, else the rejection reason.
  std::string Validate(const std::string& peer, const std::string& token,
                       const std::string& aud, CallResult* result = nullptr) {
    v1::ValidateJWTSVIDRequest req;
    Status rejection;
    std::string reason = "(not executed)";
    CallRequest call{peer, Syscall::kIdentityValidateJwt, "jwt-audience:" + aud, &req};
    call.audited_outcome = &rejection;
    CallResult r = kernel->Dispatch(call, [&](const Principal&) -> Status {
      auto claims = calls->Validate(token, aud);
      if (!claims.ok()) {
        if (claims.status().code() != absl::StatusCode::kUnauthenticated) return claims.status();
        rejection = claims.status();
        reason = std::string(claims.status().message());
      } else {
        reason = "";
      }
      return absl::OkStatus();
    });
    EXPECT_TRUE(r.status.ok()) << "a refused token is a result, not a call error: " << r.status;
    if (result) *result = r;
    return reason;
  }
  const audit::Record& Last() { return sink.records.back(); }

  aikernel::testing::TempDir tmp;
  FakeClock clock;
  TestClock kclock;
  identity::RevocationList revocations;
  std::unique_ptr<identity::NodeCA> ca;
  std::unique_ptr<IdentityCalls> calls;
  ConnectionTable table;
  CedarAuthorizer authz;
  RecordingSink sink;
  std::unique_ptr<Kernel> kernel;
};

TEST_F(IdentityCallsTest, AgentGetsItsOwnX509SvidAndOpensslVerifiesItAgainstTheBundle) {
  Conn c = Connect();
  std::string peer = RegisterAgent(c, kAgentA, "i-1");
  identity::X509Svid svid;
  CallResult r = FetchX509(peer, &svid);
  ASSERT_TRUE(r.status.ok()) << r.status;
  EXPECT_EQ(svid.spiffe_id, kAgentA);
  EXPECT_EQ(svid.instance, "i-1");
  EXPECT_EQ(svid.expires_at_s - svid.issued_at_s, 3600);
  ASSERT_EQ(sink.records.size(), 1u);
  EXPECT_EQ(Last().action, "identity.fetch_x509");
  EXPECT_EQ(Last().resource, std::string("spiffe-id:") + kAgentA)
      << "issue records name the SPIFFE ID";
  EXPECT_EQ(Last().principal, std::string("agent:") + kAgentA + "#i-1");
  EXPECT_EQ(Last().rule_ids, std::vector<std::string>{"default.agents-own-svids"});
  EXPECT_EQ(Last().decision, audit::Decision::kAllow);

  // The bundle as a CA file for the openssl CLI.
  const std::string bundle = tmp.file("bundle.pem"), cert = tmp.file("svid.pem");
  identity::testing::WriteFile(bundle, calls->Bundle().pem);
  identity::testing::WriteFile(cert, svid.cert_pem);
  auto v = RunCommand("openssl verify -purpose sslclient -CAfile " + bundle + " " + cert);
  EXPECT_EQ(v.exit_code, 0) << v.output;
  auto san = RunCommand("openssl x509 -in " + cert + " -noout -ext subjectAltName");
  EXPECT_NE(san.output.find(kAgentA), std::string::npos) << san.output;

  // Rotation: the old CA issued something unexpired, so it stays in the
  // bundle and the SVID still verifies against the new bundle.
  auto kids = calls->RotateCA();
  ASSERT_TRUE(kids.ok()) << kids.status();
  EXPECT_NE(kids->first, kids->second);
  identity::TrustBundle after = calls->Bundle();
  ASSERT_EQ(after.cas.size(), 2u) << "the retired CA stays during the overlap";
  EXPECT_EQ(after.cas[0].kid, kids->first);
  EXPECT_TRUE(after.cas[0].active);
  EXPECT_EQ(after.cas[1].kid, kids->second);
  identity::testing::WriteFile(bundle, after.pem);
  v = RunCommand("openssl verify -CAfile " + bundle + " " + cert);
  EXPECT_EQ(v.exit_code, 0) << "old SVID during the overlap: " << v.output;

  // Beyond the overlap (everything the old CA issued has expired) it drops
  // out, and an SVID it issued no longer chains to the bundle.
  clock.Advance(3600 + 1);
  identity::TrustBundle later = calls->Bundle();
  ASSERT_EQ(later.cas.size(), 1u);
  EXPECT_EQ(later.cas[0].kid, kids->first);
  identity::testing::WriteFile(bundle, later.pem);
  v = RunCommand("openssl verify -CAfile " + bundle + " " + cert);
  EXPECT_NE(v.exit_code, 0) << "an old-CA SVID must be rejected after the overlap: " << v.output;
}

TEST_F(IdentityCallsTest, AConnectionFromTheSocketIsNeverAnAgentAndIsDeniedSvids) {
  Conn c = Connect();
  std::string peer = RegisterSocket(c);  // this process: root (operator) or a user
  auto p = table.Authenticate(peer);
  ASSERT_TRUE(p.ok());
  EXPECT_NE(p->kind, Principal::Kind::kAgent);
  EXPECT_TRUE(p->spiffe_id.empty());
  identity::X509Svid svid;
  CallResult r = FetchX509(peer, &svid);
  EXPECT_EQ(r.status.code(), absl::StatusCode::kPermissionDenied) << r.status;
  EXPECT_NE(r.status.message().find("default.svids-only-for-self"), std::string::npos)
      << r.status;
  EXPECT_TRUE(svid.cert_pem.empty());
  ASSERT_EQ(sink.records.size(), 1u);
  EXPECT_EQ(Last().decision, audit::Decision::kDeny);
  EXPECT_EQ(Last().resource, "spiffe-id:none");
  identity::JwtSvid jwt;
  r = FetchJwt(peer, {"svc"}, &jwt);
  EXPECT_EQ(r.status.code(), absl::StatusCode::kPermissionDenied);
  // And the second wall: IdentityCalls itself refuses a non-agent.
  EXPECT_EQ(calls->FetchX509(*p).status().code(), absl::StatusCode::kPermissionDenied);
}

TEST_F(IdentityCallsTest, RefusedTokensAreResultsAndEveryRefusalIsAudited) {
  Conn a = Connect(), b = Connect();
  std::string pa = RegisterAgent(a, kAgentA, "i-1");
  std::string pb = RegisterAgent(b, kAgentB, "i-7");
  identity::JwtSvid jwt;
  ASSERT_TRUE(FetchJwt(pa, {"svc-b"}, &jwt).status.ok());
  EXPECT_EQ(Last().resource, std::string("spiffe-id:") + kAgentA);
  EXPECT_EQ(Last().action, "identity.fetch_jwt");

  // B validates A's token for its own audience: good.
  CallResult r;
  EXPECT_EQ(Validate(pb, jwt.token, "svc-b", &r), "");
  EXPECT_EQ(Last().code, 0);
  EXPECT_EQ(Last().action, "identity.validate_jwt");

  // Wrong audience.
  EXPECT_EQ(Validate(pb, jwt.token, "svc-c").rfind("wrong audience:", 0), 0u);
  EXPECT_EQ(Last().code, static_cast<int>(absl::StatusCode::kUnauthenticated))
      << "the ledger shows the refusal";
  EXPECT_EQ(Last().decision, audit::Decision::kAllow);

  // Tampered: a payload byte changed, signature kept.
  std::string tampered = jwt.token;
  size_t dot = tampered.find('.');
  tampered[dot + 5] = tampered[dot + 5] == 'A' ? 'B' : 'A';
  std::string why = Validate(pb, tampered, "svc-b");
  EXPECT_TRUE(why.rfind("bad signature:", 0) == 0 || why.rfind("malformed:", 0) == 0) << why;
  EXPECT_EQ(Last().code, static_cast<int>(absl::StatusCode::kUnauthenticated));
  // Signature from another token.
  identity::JwtSvid other;
  ASSERT_TRUE(FetchJwt(pb, {"svc-b"}, &other).status.ok());
  std::string spliced = jwt.token.substr(0, jwt.token.rfind('.')) +
                        other.token.substr(other.token.rfind('.'));
  EXPECT_EQ(Validate(pb, spliced, "svc-b").rfind("bad signature:", 0), 0u);
  EXPECT_EQ(Validate(pb, "not.a.token", "svc-b").rfind("malformed:", 0), 0u);

  // Revoked: the instance ended.
  EXPECT_EQ(calls->EndInstance(kAgentA, "i-1").code, 0);
  EXPECT_EQ(Validate(pb, jwt.token, "svc-b").rfind("revoked:", 0), 0u);
  EXPECT_EQ(Validate(pb, other.token, "svc-b"), "") << "B's own token is untouched";

  // Expired.
  clock.Advance(5 * 60 + 1);
  EXPECT_EQ(Validate(pb, other.token, "svc-b").rfind("expired:", 0), 0u);
  EXPECT_EQ(Last().code, static_cast<int>(absl::StatusCode::kUnauthenticated));
}

TEST_F(IdentityCallsTest, ARevokedInstanceGetsNoNewCredentials) {
  Conn c = Connect();
  std::string peer = RegisterAgent(c, kAgentA, "i-1");
  ASSERT_TRUE(revocations.RevokeInstance(kAgentA, "i-1", clock.NowNs() / 1'000'000'000).ok());
  identity::X509Svid svid;
  CallResult r = FetchX509(peer, &svid);
  EXPECT_EQ(r.status.code(), absl::StatusCode::kPermissionDenied) << r.status;
  EXPECT_EQ(Last().decision, audit::Decision::kAllow) << "policy allows, the CA refuses";
  EXPECT_EQ(Last().code, static_cast<int>(absl::StatusCode::kPermissionDenied));
  identity::JwtSvid jwt;
  EXPECT_EQ(FetchJwt(peer, {"svc"}, &jwt).status.code(), absl::StatusCode::kPermissionDenied);
}

// EndInstance (what the daemon runs when an agent is stopped, killed or
// exits): its connection is closed at once, every call on it is
// UNAUTHENTICATED, its tokens are refused, and the revocation is a record.
TEST_F(IdentityCallsTest, EndInstanceClosesTheConnectionAndRevokesAtOnce) {
  Conn c = Connect(), other = Connect();
  std::string peer = RegisterAgent(c, kAgentA, "i-1");
  std::string pb = RegisterAgent(other, kAgentB, "i-7");
  identity::JwtSvid jwt;
  ASSERT_TRUE(FetchJwt(peer, {"svc"}, &jwt).status.ok());
  ASSERT_EQ(Validate(pb, jwt.token, "svc"), "");

  audit::Record rec = calls->EndInstance(kAgentA, "i-1");
  EXPECT_EQ(rec.principal, "kernel");
  EXPECT_EQ(rec.action, "identity.revoke");
  EXPECT_EQ(rec.resource, std::string("spiffe-id:") + kAgentA + "#i-1");
  EXPECT_EQ(rec.decision, audit::Decision::kAllow);
  EXPECT_EQ(rec.code, 0);

  // The agent's end sees the connection closed now: read() returns 0 (EOF)
  // without waiting (non-blocking; EAGAIN would mean it is still open).
  ASSERT_EQ(fcntl(c.client.get(), F_SETFL, O_NONBLOCK), 0);
  char byte;
  EXPECT_EQ(read(c.client.get(), &byte, 1), 0) << "connection still open: " << strerror(errno);
  EXPECT_EQ(send(c.client.get(), "x", 1, MSG_NOSIGNAL), -1) << "writes must fail too";
  EXPECT_EQ(errno, EPIPE);

  identity::X509Svid svid;
  CallResult r = FetchX509(peer, &svid);
  // A call still arriving on it is a failed authentication naming whose
  // connection it was.
  EXPECT_EQ(r.status.code(), absl::StatusCode::kUnauthenticated);
  EXPECT_NE(r.status.message().find(std::string("was agent:") + kAgentA + "#i-1's and is revoked"),
            std::string::npos)
      << r.status;
  EXPECT_EQ(Last().principal, "unauthenticated");
  EXPECT_EQ(Last().decision, audit::Decision::kDeny);
  EXPECT_EQ(Last().code, static_cast<int32_t>(absl::StatusCode::kUnauthenticated));
  EXPECT_EQ(Last().rule_ids,
            (std::vector<std::string>{"authn", std::string("revoked:agent:") + kAgentA + "#i-1"}));
  EXPECT_EQ(Validate(pb, jwt.token, "svc").rfind("revoked:", 0), 0u);
  // The other agent's connection is untouched.
  ASSERT_EQ(fcntl(other.client.get(), F_SETFL, O_NONBLOCK), 0);
  EXPECT_EQ(read(other.client.get(), &byte, 1), -1);
  EXPECT_EQ(errno, EAGAIN);
}

// A call that presents a token ("authorization: Bearer <JWT-SVID>") is
// still the connection's: the token must be the connection's own, or the
// call is a failed authentication, audited under the connection's
// principal, and does not run.
TEST_F(IdentityCallsTest, APresentedTokenMustBeTheConnectionsOwn) {
  Conn a = Connect(), b = Connect(), a2 = Connect(), op = Connect();
  const std::string pa = RegisterAgent(a, kAgentA, "i-1");
  const std::string pb = RegisterAgent(b, kAgentB, "i-7");
  const std::string pa2 = RegisterAgent(a2, kAgentA, "i-2");  // a later instance of A
  const std::string pop = RegisterSocket(op);                 // this test process
  const std::string node = calls->NodeSpiffeId();
  EXPECT_EQ(node, std::string("spiffe://") + kTd + "/node");
  identity::JwtSvid ta, tb, ta_svc;
  ASSERT_TRUE(FetchJwt(pa, {node}, &ta).status.ok());
  ASSERT_TRUE(FetchJwt(pb, {node}, &tb).status.ok());
  ASSERT_TRUE(FetchJwt(pa, {"svc"}, &ta_svc).status.ok());

  int ran = 0;
  auto whoami = [&](const std::string& peer, const std::string& authorization) {
    v1::FetchJWTSVIDRequest req;
    CallRequest call{Caller{peer, authorization}, Syscall::kWhoami, "node:node-a", &req};
    return kernel->Dispatch(call, [&](const Principal&) {
      ++ran;
      return absl::OkStatus();
    });
  };
  auto refused = [&](const std::string& peer, const std::string& authorization,
                     const std::string& message) {
    const int before = ran;
    CallResult r = whoami(peer, authorization);
    EXPECT_EQ(r.status.code(), absl::StatusCode::kUnauthenticated) << r.status;
    EXPECT_NE(r.status.message().find(message), std::string::npos) << r.status;
    EXPECT_EQ(ran, before) << "a refused call does not run";
    EXPECT_EQ(Last().decision, audit::Decision::kDeny);
    EXPECT_EQ(Last().code, static_cast<int32_t>(absl::StatusCode::kUnauthenticated));
    EXPECT_EQ(Last().rule_ids.at(0), "authn");
    EXPECT_EQ(Last().rule_ids.at(1), "authn:bearer");
  };

  // A presenting B's token.
  refused(pa, "Bearer " + tb.token,
          std::string("token subject ") + kAgentB + " is not this connection's identity " +
              kAgentA);
  EXPECT_EQ(Last().principal, std::string("agent:") + kAgentA + "#i-1");
  EXPECT_EQ(Last().rule_ids, (std::vector<std::string>{"authn", "authn:bearer",
                                                       std::string("bearer-sub:") + kAgentB}));
  // A process the daemon did not spawn presenting A's token.
  refused(pop, "Bearer " + ta.token,
          std::string("token subject ") + kAgentA + " is not this connection's identity " +
              table.Authenticate(pop)->Id());
  EXPECT_EQ(Last().principal, table.Authenticate(pop)->Id());
  // A later instance of A presenting the earlier instance's token.
  refused(pa2, "Bearer " + ta.token,
          "token instance i-1 of " + std::string(kAgentA) + " is not this connection's instance i-2");
  // Tokens this node does not accept as identity, and headers that are not one token.
  refused(pa, "Bearer " + ta_svc.token, "authorization: bearer token refused: wrong audience:");
  EXPECT_EQ(Last().rule_ids, (std::vector<std::string>{"authn", "authn:bearer"}))
      << "the subject is named only for a token this node validated";
  refused(pa, "Bearer " + ta.token + "x", "authorization: bearer token refused: bad signature:");
  refused(pa, "Basic YTpi", "authorization: only 'Bearer <JWT-SVID>' is accepted");
  refused(pa, "Bearer " + ta.token + ", Bearer " + ta.token,
          "authorization: more than one credential presented");

  // A's own token: accepted, and it changes nothing.
  const int before = ran;
  CallResult ok = whoami(pa, "bearer " + ta.token);
  EXPECT_TRUE(ok.status.ok()) << ok.status;
  EXPECT_EQ(ran, before + 1);
  EXPECT_EQ(Last().principal, std::string("agent:") + kAgentA + "#i-1");
  EXPECT_EQ(Last().decision, audit::Decision::kAllow);

  // After A's instance ends its own token is revoked, and its connection too.
  calls->EndInstance(kAgentA, "i-1");
  CallResult gone = whoami(pa2, "Bearer " + ta.token);
  EXPECT_EQ(gone.status.code(), absl::StatusCode::kUnauthenticated);
  EXPECT_NE(gone.status.message().find("bearer token refused: revoked:"), std::string::npos)
      << gone.status;

  // A kernel without identity accepts no token.
  KernelDeps deps;
  deps.connections = &table;
  deps.authorizer = &authz;
  deps.sink = &sink;
  Kernel bare(KernelInfo{"node-a", "0", "", "", "", "full"}, deps);
  CallRequest call{Caller{pb, "Bearer " + tb.token}, Syscall::kWhoami, "node:node-a"};
  CallResult r = bare.Dispatch(call, [](const Principal&) { return absl::OkStatus(); });
  EXPECT_EQ(r.status.code(), absl::StatusCode::kUnauthenticated);
  EXPECT_NE(r.status.message().find("identity is not enabled"), std::string::npos) << r.status;
}

// A connection the daemon accepted but could not authenticate (its peer
// credentials cannot be read: here, not a socket at all) is closed, and the
// failed authentication is a ledger record.
TEST_F(IdentityCallsTest, AConnectionWhoseCredentialsCannotBeReadIsAFailedAuthentication) {
  auto server = rpc::RpcServer::Start(kernel.get(), &table, rpc::ServerOptions{});
  ASSERT_TRUE(server.ok()) << server.status();
  int p[2];
  ASSERT_EQ(pipe2(p, O_CLOEXEC | O_NONBLOCK), 0);
  UniqueFd writer(p[1]);
  const std::string resource = "connection:fd:" + std::to_string(p[0]);
  const size_t before = sink.records.size();
  (*server)->Adopt(UniqueFd(p[0]));
  ASSERT_EQ(sink.records.size(), before + 1);
  EXPECT_EQ(Last().principal, "unauthenticated");
  EXPECT_EQ(Last().action, "connection.accept");
  EXPECT_EQ(Last().resource, resource);
  EXPECT_EQ(Last().decision, audit::Decision::kDeny);
  EXPECT_EQ(Last().rule_ids, std::vector<std::string>{"authn"});
  EXPECT_EQ(Last().code, static_cast<int32_t>(absl::StatusCode::kUnauthenticated));
  EXPECT_EQ(Last().node, "node-a");
  // The fd was closed, not handed to gRPC: the pipe has no reader now.
  signal(SIGPIPE, SIG_IGN);
  EXPECT_EQ(write(writer.get(), "x", 1), -1);
  EXPECT_EQ(errno, EPIPE);
  (*server)->Shutdown(std::chrono::milliseconds(0));
}

TEST_F(IdentityCallsTest, RemoveAgentRevokesEverythingIssuedToItsSpiffeIdSoFar) {
  // rm: every credential of the SPIFFE ID issued up to now is refused, and
  // a new instance's credentials (from the next second) are good.
  Conn d = Connect();
  std::string peer2 = RegisterAgent(d, kAgentA, "i-2");
  identity::JwtSvid before;
  ASSERT_TRUE(FetchJwt(peer2, {"x"}, &before).status.ok());
  audit::Record rec = calls->RemoveAgent(kAgentA);
  EXPECT_EQ(rec.resource, std::string("spiffe-id:") + kAgentA);
  EXPECT_EQ(rec.code, 0);
  EXPECT_EQ(Validate(peer2, before.token, "x").rfind("revoked:", 0), 0u);
  clock.Advance(1);
  identity::JwtSvid after;
  ASSERT_TRUE(FetchJwt(peer2, {"x"}, &after).status.ok());
  EXPECT_EQ(Validate(peer2, after.token, "x"), "");
}

TEST_F(IdentityCallsTest, TheNodeGetsItsOwnSvidForTls) {
  EXPECT_EQ(calls->NodeSpiffeId(), "spiffe://node-a.example/node");
  auto svid = calls->IssueNodeSvid(std::chrono::hours(48));
  ASSERT_TRUE(svid.ok()) << svid.status();
  EXPECT_EQ(svid->spiffe_id, "spiffe://node-a.example/node");
  EXPECT_EQ(svid->expires_at_s - svid->issued_at_s, 24 * 3600) << "capped at max_svid_ttl";
  const std::string bundle = tmp.file("nb.pem"), cert = tmp.file("node.pem");
  identity::testing::WriteFile(bundle, calls->Bundle().pem);
  identity::testing::WriteFile(cert, svid->cert_pem);
  auto v = RunCommand("openssl verify -purpose sslserver -CAfile " + bundle + " " + cert);
  EXPECT_EQ(v.exit_code, 0) << v.output;
}

// PID reuse: an agent's pid, once it is dead and handed to another process,
// must not carry the agent's identity. Agent connections are bound to the
// socketpair the kernel made, never to a pid; a connection from the socket
// whose SO_PEERCRED pid is a dead agent's is an ordinary principal; and
// sandbox::Adopt (re-adopting an agent by pid after a restart) checks the
// start time, so the reused pid is refused. The test makes the pid come
// back with /proc/sys/kernel/ns_last_pid (root; other processes forking at
// the same moment can take it, so it retries).
TEST_F(IdentityCallsTest, AReusedPidIsRefused) {
  if (geteuid() != 0) {
    GTEST_SKIP() << "needs root to write /proc/sys/kernel/ns_last_pid (tests run as root in CI)";
  }
  for (int attempt = 0; attempt < 20; ++attempt) {
    pid_t first = fork();
    ASSERT_GE(first, 0);
    if (first == 0) _exit(0);
    auto first_start = sandbox::ProcStartTime(first);
    int st;
    ASSERT_EQ(waitpid(first, &st, 0), first);
    // The dead agent's identity, as the supervisor recorded it.
    const pid_t dead = first;

    // Start times have clock-tick resolution (10 ms): let the tick pass, as
    // it always has by the time a real pid comes round again (a pid reused
    // within the same tick would pass a start-time check).
    if (first_start.ok()) {
      const int64_t hz = sysconf(_SC_CLK_TCK);
      for (;;) {
        timespec ts{};
        clock_gettime(CLOCK_BOOTTIME, &ts);
        const uint64_t ticks = static_cast<uint64_t>(ts.tv_sec * hz + ts.tv_nsec / (1'000'000'000 / hz));
        if (ticks > *first_start + 1) break;
        usleep(1000);
      }
    }
    // The impostor connects to a listening socket itself, so SO_PEERCRED
    // names it (a socketpair would name its creator).
    const std::string path = tmp.file("l.sock");
    unlink(path.c_str());
    UniqueFd listener(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
    ASSERT_EQ(bind(listener.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
    ASSERT_EQ(listen(listener.get(), 1), 0);

    int fd = open("/proc/sys/kernel/ns_last_pid", O_WRONLY | O_CLOEXEC);
    ASSERT_GE(fd, 0) << strerror(errno);
    std::string last = std::to_string(dead - 1);
    ASSERT_EQ(write(fd, last.data(), last.size()), static_cast<ssize_t>(last.size()));
    close(fd);
    pid_t again = fork();
    ASSERT_GE(again, 0);
    if (again == 0) {
      // The impostor: only system calls between fork and _exit.
      int s = socket(AF_UNIX, SOCK_STREAM, 0);
      if (s < 0 || connect(s, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) _exit(1);
      pause();
      _exit(0);
    }
    if (again != dead) {
      kill(again, SIGKILL);
      waitpid(again, &st, 0);
      continue;  // someone else forked in between; try again
    }
    UniqueFd server(accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC));
    ASSERT_TRUE(server.get() >= 0) << strerror(errno);
    // Same pid, different process.
    if (first_start.ok()) {
      EXPECT_EQ(sandbox::Adopt(dead, *first_start).status().code(), absl::StatusCode::kNotFound)
          << "re-adopting by pid must check the start time";
    }
    // The impostor's connection, accepted like any other (here: a
    // socketpair whose peer is the impostor), is not the agent.
    auto creds = ReadPeerCredentials(server.get());
    ASSERT_TRUE(creds.ok());
    EXPECT_EQ(creds->pid, dead);
    ASSERT_TRUE(table.Register(server.get(), *creds).ok());
    std::string peer = "fd:" + std::to_string(server.get());
    auto p = table.Authenticate(peer);
    ASSERT_TRUE(p.ok());
    EXPECT_NE(p->kind, Principal::Kind::kAgent);
    identity::X509Svid svid;
    EXPECT_EQ(FetchX509(peer, &svid).status.code(), absl::StatusCode::kPermissionDenied);
    kill(again, SIGKILL);
    waitpid(again, &st, 0);
    return;
  }
  GTEST_SKIP() << "could not get the dead pid back in 20 attempts (busy host); the "
                  "socket-never-an-agent rule is tested above";
}

}  // namespace
}  // namespace aikernel::kernel
