// Tests of the dispatch path with a real ConnectionTable (over socketpairs,
// so credentials come from the OS) and a Sink that can be told to fail.
#include "kernel/kernel.h"
#include "kernel/cedar_authorizer.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <mutex>

#include "aikernel/v1/admin.pb.h"
#include "common/unique_fd.h"
#include "kernel/kernel_test_util.h"

namespace aikernel::kernel {
namespace {

using testutil::Conn;
using testutil::Connect;
using testutil::RecordingSink;

class FixedClock : public Clock {
 public:
  int64_t RealtimeNs() const override { return 1'700'000'000'000'000'000; }
  int64_t MonotonicNs() const override { return mono += 1000; }
  mutable int64_t mono = 0;
};

class KernelTest : public ::testing::Test {
 protected:
  KernelTest() {
    // The shipped default policy set (config/policies/default.cedar).
    auto store = policy::LoadPolicyStore(AIK_SOURCE_DIR "/config", kBuiltinPolicies);
    EXPECT_TRUE(store.ok()) << store.status();
    if (store.ok()) authz.Install(*store);
    KernelDeps deps;
    deps.connections = &table;
    deps.authorizer = &authz;
    deps.sink = &sink;
    deps.clock = &clock;
    kernel = std::make_unique<Kernel>(KernelInfo{"node-t", "0", "", "", "", "full"}, deps);
  }

  std::string Register(const Conn& c, uid_t uid_override = 0, bool override_uid = false) {
    auto creds = ReadPeerCredentials(c.server.get());
    EXPECT_TRUE(creds.ok()) << creds.status();
    if (override_uid) creds->uid = uid_override;
    EXPECT_TRUE(table.Register(c.server.get(), *creds).ok());
    return "fd:" + std::to_string(c.server.get());
  }

  ConnectionTable table;
  CedarAuthorizer authz;
  RecordingSink sink;
  FixedClock clock;
  std::unique_ptr<Kernel> kernel;
};

TEST_F(KernelTest, OperatorMayCallAdminAndItIsAudited) {
  Conn c = Connect();
  std::string peer = Register(c);  // this test runs as root in CI
  if (getuid() != 0) GTEST_SKIP() << "needs uid 0 to be an operator";
  v1::PingRequest req;
  int executed = 0;
  CallResult r = kernel->Dispatch({peer, Syscall::kAdminPing, "node:node-t", &req},
                                  [&](const Principal& p) {
                                    EXPECT_EQ(p.kind, Principal::Kind::kOperator);
                                    ++executed;
                                    return absl::OkStatus();
                                  });
  EXPECT_TRUE(r.status.ok()) << r.status;
  EXPECT_EQ(executed, 1);
  EXPECT_EQ(r.audit_sequence, 1u);
  ASSERT_EQ(sink.records.size(), 1u);
  EXPECT_EQ(sink.records[0].principal, "operator:0");
  EXPECT_EQ(sink.records[0].action, "admin.ping");
  EXPECT_EQ(sink.records[0].decision, audit::Decision::kAllow);
  EXPECT_EQ(sink.records[0].rule_ids, std::vector<std::string>{"default.operators-administer"});
  EXPECT_EQ(sink.records[0].code, 0);
}

TEST_F(KernelTest, NonOperatorIsDeniedAdminNamingTheRuleAndNotExecuted) {
  Conn c = Connect();
  std::string peer = Register(c, 4242, true);
  v1::StatusRequest req;
  bool executed = false;
  CallResult r = kernel->Dispatch({peer, Syscall::kAdminStatus, "node:node-t", &req},
                                  [&](const Principal&) {
                                    executed = true;
                                    return absl::OkStatus();
                                  });
  EXPECT_FALSE(executed);
  EXPECT_EQ(r.status.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_NE(r.status.message().find("default-deny"), std::string::npos)
      << r.status.message();
  EXPECT_NE(r.status.message().find("user:4242"), std::string::npos);
  ASSERT_EQ(sink.records.size(), 1u);
  EXPECT_EQ(sink.records[0].decision, audit::Decision::kDeny);
  EXPECT_EQ(sink.records[0].code, static_cast<int>(absl::StatusCode::kPermissionDenied));
}

TEST_F(KernelTest, NonOperatorMayCallWhoami) {
  Conn c = Connect();
  std::string peer = Register(c, 4242, true);
  v1::StatusRequest req;
  CallResult r = kernel->Dispatch({peer, Syscall::kWhoami, "node:node-t", &req},
                                  [&](const Principal& p) {
                                    EXPECT_EQ(p.Id(), "user:4242");
                                    return absl::OkStatus();
                                  });
  EXPECT_TRUE(r.status.ok());
  ASSERT_EQ(sink.records.size(), 1u);
  EXPECT_EQ(sink.records[0].decision, audit::Decision::kAllow);
}

TEST_F(KernelTest, AdminGroupMembersAreOperators) {
  Conn c = Connect();
  auto creds = ReadPeerCredentials(c.server.get());
  ASSERT_TRUE(creds.ok());
  creds->uid = 5000;
  creds->groups = {100, 777};
  ASSERT_TRUE(table.Register(c.server.get(), *creds).ok());
  std::string peer = "fd:" + std::to_string(c.server.get());
  EXPECT_EQ(table.Authenticate(peer)->kind, Principal::Kind::kUser);
  table.SetAdminGroup(777);
  EXPECT_EQ(table.Authenticate(peer)->kind, Principal::Kind::kOperator);
  EXPECT_EQ(table.Authenticate(peer)->Id(), "operator:5000");
}

TEST_F(KernelTest, UnknownOrReusedConnectionIsUnauthenticatedAndAudited) {
  v1::PingRequest req;
  bool executed = false;
  auto exec = [&](const Principal&) {
    executed = true;
    return absl::OkStatus();
  };
  CallResult r = kernel->Dispatch({"ipv4:1.2.3.4:5", Syscall::kAdminPing, "", &req}, exec);
  EXPECT_EQ(r.status.code(), absl::StatusCode::kUnauthenticated);

  // Register a connection, close it, and put a different socket on the same
  // fd number: the table must notice it is not the registered socket.
  Conn a = Connect();
  std::string peer = Register(a);
  int fd = a.server.get();
  a.server.reset();
  Conn b = Connect();
  if (b.server.get() != fd) {
    ASSERT_EQ(dup2(b.server.get(), fd), fd);
  }
  UniqueFd reused(fd == b.server.get() ? b.server.release() : fd);
  r = kernel->Dispatch({peer, Syscall::kAdminPing, "", &req}, exec);
  EXPECT_EQ(r.status.code(), absl::StatusCode::kUnauthenticated) << r.status;
  EXPECT_NE(r.status.message().find("no longer the registered socket"), std::string::npos);
  EXPECT_FALSE(executed);
  ASSERT_EQ(sink.records.size(), 2u);
  EXPECT_EQ(sink.records[1].principal, "unauthenticated");
  EXPECT_EQ(sink.records[1].decision, audit::Decision::kDeny);
}

TEST_F(KernelTest, FailsClosedWhenTheLedgerIsNotAccepting) {
  Conn c = Connect();
  std::string peer = Register(c, 0, true);
  sink.accepting = false;
  v1::PingRequest req;
  bool executed = false;
  CallResult r = kernel->Dispatch({peer, Syscall::kAdminPing, "", &req},
                                  [&](const Principal&) {
                                    executed = true;
                                    return absl::OkStatus();
                                  });
  EXPECT_FALSE(executed);
  EXPECT_EQ(r.status.code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(r.audit_sequence, 0u);
}

TEST_F(KernelTest, AFailedAuditWriteIsUnavailableNotOk) {
  Conn c = Connect();
  std::string peer = Register(c, 0, true);
  sink.fail_appends = true;
  v1::PingRequest req;
  CallResult r = kernel->Dispatch({peer, Syscall::kAdminPing, "", &req},
                                  [&](const Principal&) { return absl::OkStatus(); });
  EXPECT_EQ(r.status.code(), absl::StatusCode::kUnavailable);
  EXPECT_NE(r.status.message().find("disk on fire"), std::string::npos);
}

TEST_F(KernelTest, ExecutionErrorsAreAuditedWithTheirCode) {
  Conn c = Connect();
  std::string peer = Register(c, 0, true);
  v1::PingRequest req;
  CallResult r = kernel->Dispatch({peer, Syscall::kAdminPing, "", &req}, [&](const Principal&) {
    return absl::InvalidArgumentError("payload: too big");
  });
  EXPECT_EQ(r.status.code(), absl::StatusCode::kInvalidArgument);
  ASSERT_EQ(sink.records.size(), 1u);
  EXPECT_EQ(sink.records[0].decision, audit::Decision::kAllow);
  EXPECT_EQ(sink.records[0].code, static_cast<int>(absl::StatusCode::kInvalidArgument));
  EXPECT_EQ(kernel->counters().failed, 1u);
}

TEST(RequestDigestTest, RedactedFieldsDoNotChangeTheDigest) {
  RequestDigester d;
  v1::QueryAuditRequest a, b;
  a.set_principal("hunter2");
  b.set_principal("correct horse");
  EXPECT_NE(d.Digest(a), d.Digest(b));
  d.SetRedactedFields({"principal"});
  EXPECT_EQ(d.Digest(a), d.Digest(b));
  a.set_action("x");
  EXPECT_NE(d.Digest(a), d.Digest(b));  // other fields still count
}

TEST(RequestDigestTest, TypeNameIsPartOfTheDigest) {
  RequestDigester d;
  v1::StatusRequest s;
  v1::ReloadRequest r;  // both empty messages
  EXPECT_NE(d.Digest(s), d.Digest(r));
}

}  // namespace
}  // namespace aikernel::kernel
