// Unit tests of the Cedar adapter (kernel::CedarAuthorizer), the policy
// store loader, rate counters and approvals on the dispatch path.
#include "kernel/cedar_authorizer.h"
#include "kernel/kernel_test_util.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include "aikernel/v1/admin.pb.h"
#include "aikernel/v1/policy.pb.h"
#include "common/unique_fd.h"
#include "kernel/kernel.h"

namespace aikernel::kernel {
namespace {

namespace fs = std::filesystem;

struct TmpDir {
  TmpDir() {
    char t[] = "/tmp/aik-cedar-XXXXXX";
    path = mkdtemp(t);
    fs::create_directories(path + "/policies");
  }
  ~TmpDir() { fs::remove_all(path); }
  void Write(const std::string& rel, const std::string& text) const {
    std::ofstream(path + "/" + rel) << text;
  }
  std::string path;
};

Principal Operator() {
  Principal p;
  p.kind = Principal::Kind::kOperator;
  p.uid = 0;
  return p;
}
Principal User(uid_t uid = 1000) {
  Principal p;
  p.kind = Principal::Kind::kUser;
  p.uid = uid;
  return p;
}
Principal Agent() {
  Principal p;
  p.kind = Principal::Kind::kAgent;
  p.spiffe_id = "spiffe://n1/agent/web";
  p.instance_id = "i1";
  return p;
}

Decision Decide(const CedarAuthorizer& a, const Principal& p, Syscall s,
                const std::string& resource = "node:n1",
                const google::protobuf::Message* args = nullptr, RateCounts counts = {}) {
  AuthzRequest r;
  r.principal = &p;
  r.call = &Describe(s);
  r.resource = ParseResourceString(resource);
  r.args = args;
  r.node = "n1";
  r.time_ns = 1'700'000'000'000'000'000;
  r.counts = counts;
  return a.Decide(r);
}

std::shared_ptr<const policy::PolicyStore> Store(const std::string& text) {
  TmpDir d;
  d.Write("policies/t.cedar", text);
  auto s = policy::LoadPolicyStore(d.path, kBuiltinPolicies);
  EXPECT_TRUE(s.ok()) << s.status();
  return s.ok() ? *s : nullptr;
}
// Declares an authorizer `a` with `text` as its policies.
#define WITH_POLICIES(a, text) \
  CedarAuthorizer a;           \
  a.Install(Store(text))

TEST(ResourceStringTest, KindBecomesTheCedarType) {
  ResourceRef r = ParseResourceString("node:n1");
  EXPECT_EQ(r.type, "Node");
  EXPECT_EQ(r.id, "n1");
  r = ParseResourceString("agent:web:1");
  EXPECT_EQ(r.type, "Agent");
  EXPECT_EQ(r.id, "web:1");
  r = ParseResourceString("plain");
  EXPECT_EQ(r.type, "Resource");
}

TEST(CedarAuthorizerTest, ShippedDefaultsBehaveLikeTheOldBuiltinRule) {
  auto s = policy::LoadPolicyStore(AIK_SOURCE_DIR "/config", kBuiltinPolicies);
  ASSERT_TRUE(s.ok()) << s.status();
  CedarAuthorizer a;
  a.Install(*s);
  size_t n = 0;
  const SyscallInfo* all = AllSyscalls(&n);
  for (size_t i = 0; i < n; ++i) {
    SCOPED_TRACE(std::string(all[i].action));
    Decision op = Decide(a, Operator(), all[i].id);
    Decision user = Decide(a, User(), all[i].id);
    Decision agent = Decide(a, Agent(), all[i].id);
    if (all[i].id == Syscall::kIdentityFetchX509 || all[i].id == Syscall::kIdentityFetchJwt) {
      // The one exception to "operators may call everything": an SVID is
      // fetched by an agent for itself only (identity_access_test.cc).
      for (const Decision* d : {&op, &user, &agent}) {
        EXPECT_FALSE(d->allow);
        EXPECT_EQ(d->rule_ids, std::vector<std::string>{"default.svids-only-for-self"});
      }
      continue;
    }
    EXPECT_TRUE(op.allow) << op.reason;
    if (all[i].id == Syscall::kWhoami) {
      EXPECT_TRUE(user.allow);
      EXPECT_TRUE(agent.allow);
      EXPECT_EQ(user.rule_ids, std::vector<std::string>{"builtin.whoami"});
    } else {
      EXPECT_FALSE(user.allow);
      EXPECT_FALSE(agent.allow);
      EXPECT_EQ(user.rule_ids, std::vector<std::string>{"default-deny"});
      EXPECT_NE(user.reason.find("user:1000 may not call"), std::string::npos) << user.reason;
    }
  }
  Decision op = Decide(a, Operator(), Syscall::kAdminStatus);
  EXPECT_EQ(op.rule_ids, std::vector<std::string>{"default.operators-administer"});
}

TEST(CedarAuthorizerTest, WithNoPolicyFilesOnlyWhoamiIsAllowed) {
  TmpDir d;
  auto s = policy::LoadPolicyStore(d.path + "/missing", kBuiltinPolicies);
  ASSERT_TRUE(s.ok()) << s.status();
  CedarAuthorizer a;
  a.Install(*s);
  EXPECT_TRUE(Decide(a, Operator(), Syscall::kWhoami).allow);
  EXPECT_TRUE(Decide(a, Agent(), Syscall::kWhoami).allow);
  Decision d2 = Decide(a, Operator(), Syscall::kAdminStatus);
  EXPECT_FALSE(d2.allow);
  EXPECT_NE(d2.reason.find("default-deny"), std::string::npos);
}

TEST(CedarAuthorizerTest, AForbidOverridesAndIsNamed) {
  WITH_POLICIES(a, R"(
    @id("ops") permit(principal is Operator, action, resource);
    @id("no-ping") forbid(principal, action == Action::"admin.ping", resource);
  )");
  EXPECT_TRUE(Decide(a, Operator(), Syscall::kAdminStatus).allow);
  Decision d = Decide(a, Operator(), Syscall::kAdminPing);
  EXPECT_FALSE(d.allow);
  EXPECT_EQ(d.rule_ids, std::vector<std::string>{"no-ping"});
  EXPECT_NE(d.reason.find("forbidden by policy no-ping"), std::string::npos) << d.reason;
}

TEST(CedarAuthorizerTest, UnnamedPoliciesGetFileAndIndexIds) {
  WITH_POLICIES(a, "permit(principal is User, action, resource);\n");
  Decision d = Decide(a, User(), Syscall::kAdminPing);
  EXPECT_TRUE(d.allow);
  EXPECT_EQ(d.rule_ids, std::vector<std::string>{"t.cedar:policy0"});
}

TEST(CedarAuthorizerTest, ContextCarriesArgsNodeTimeAndCounters) {
  WITH_POLICIES(a, R"(
    @id("ping-hi") permit(principal is User, action == Action::"admin.ping", resource == Node::"n1")
      when { context.args.payload == "hi" && context.node == "n1" &&
             context.time > datetime("2023-01-01") && context.counters.minute < 3 };
    @id("query") permit(principal is User, action == Action::"audit.query", resource)
      when { context.args.principal == "[redacted]" && context.args.limit == 5 &&
             !(context.args has since) && context.args.decision == "DECISION_ALLOW" };
  )");
  v1::PingRequest ping;
  ping.set_payload("hi");
  EXPECT_TRUE(Decide(a, User(), Syscall::kAdminPing, "node:n1", &ping).allow);
  EXPECT_FALSE(Decide(a, User(), Syscall::kAdminPing, "node:n2", &ping).allow);
  EXPECT_FALSE(Decide(a, User(), Syscall::kAdminPing, "node:n1", &ping, {3, 3}).allow);
  ping.set_payload("other");
  EXPECT_FALSE(Decide(a, User(), Syscall::kAdminPing, "node:n1", &ping).allow);

  a.SetRedactedFields({"principal"});
  v1::QueryAuditRequest q;
  q.set_principal("secret-value");
  q.set_limit(5);
  q.set_decision(v1::DECISION_ALLOW);
  Decision d = Decide(a, User(), Syscall::kAuditQuery, "ledger:audit", &q);
  EXPECT_TRUE(d.allow) << d.reason;
}

TEST(CedarAuthorizerTest, MessagesBecomeRecords) {
  v1::QueryAuditRequest q;
  q.mutable_since()->set_seconds(1'700'000'000);
  q.set_follow(true);
  policy::Value v = CedarAuthorizer::MessageToValue(q, nullptr);
  ASSERT_TRUE(v.is(policy::Value::Kind::kRecord));
  const policy::Record& r = v.as_record();
  ASSERT_TRUE(r.count("since"));
  EXPECT_TRUE(r.at("since").is(policy::Value::Kind::kDatetime));
  EXPECT_EQ(r.at("since").as_datetime().ms, 1'700'000'000'000);
  EXPECT_FALSE(r.count("until"));
  EXPECT_TRUE(r.at("follow").as_bool());
  EXPECT_EQ(r.at("limit").as_long(), 0);
}

TEST(CedarAuthorizerTest, ErroringPoliciesAreReportedAndNeverAllow) {
  WITH_POLICIES(a, R"(
    @id("bad") permit(principal is User, action, resource) when { context.args.nope == 1 };
  )");
  v1::PingRequest ping;
  Decision d = Decide(a, User(), Syscall::kAdminPing, "node:n1", &ping);
  EXPECT_FALSE(d.allow);
  EXPECT_EQ(d.error_ids, std::vector<std::string>{"bad"});
  EXPECT_NE(d.reason.find("bad"), std::string::npos) << d.reason;
}

TEST(CedarAuthorizerTest, ApprovalAnnotationIsReported) {
  WITH_POLICIES(a, R"(
    @id("ask") @approval("pings need a human")
    permit(principal is User, action == Action::"admin.ping", resource);
  )");
  Decision d = Decide(a, User(), Syscall::kAdminPing);
  EXPECT_TRUE(d.allow);
  ASSERT_TRUE(d.approval.has_value());
  EXPECT_EQ(*d.approval, "pings need a human");
  EXPECT_FALSE(Decide(a, User(), Syscall::kAdminStatus).approval.has_value());
}

TEST(CedarAuthorizerTest, AgentsAreInTheirEntitiesGroups) {
  TmpDir d;
  d.Write("entities.json", R"([{"uid":{"type":"Group","id":"web"},"attrs":{},"parents":[]}])");
  d.Write("policies/a.cedar", R"(
    @id("group-ping") permit(principal in Group::"web", action == Action::"admin.ping", resource);
    @id("agent-attrs") permit(principal is Agent, action == Action::"admin.status", resource)
      when { principal.instance == "i1" };
  )");
  auto s = policy::LoadPolicyStore(d.path, kBuiltinPolicies);
  ASSERT_TRUE(s.ok()) << s.status();
  CedarAuthorizer a;
  a.Install(*s);
  EXPECT_TRUE(Decide(a, Agent(), Syscall::kAdminStatus).allow);
  EXPECT_FALSE(Decide(a, Agent(), Syscall::kAdminPing).allow) << "in no group yet";
  Principal web = Agent();
  web.agent_groups = {"web"};
  Decision d2 = Decide(a, web, Syscall::kAdminPing);
  EXPECT_TRUE(d2.allow) << d2.reason;
  EXPECT_EQ(d2.rule_ids, std::vector<std::string>{"group-ping"});
}

TEST(PolicyStoreTest, ABadFileIsRefusedNamingFileLineAndColumn) {
  TmpDir d;
  d.Write("policies/a.cedar", "permit(principal, action, resource);\n");
  d.Write("policies/b.cedar", "permit(principal,\n  action resource);\n");
  auto s = policy::LoadPolicyStore(d.path, kBuiltinPolicies);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(s.status().message().find("policies/b.cedar:2:10"), std::string::npos)
      << s.status().message();
}

TEST(PolicyStoreTest, DuplicateIdsAcrossFilesAreRefused) {
  TmpDir d;
  d.Write("policies/a.cedar", "@id(\"x\") permit(principal, action, resource);\n");
  d.Write("policies/b.cedar", "@id(\"x\") forbid(principal, action, resource);\n");
  EXPECT_FALSE(policy::LoadPolicyStore(d.path, kBuiltinPolicies).ok());
  d.Write("policies/b.cedar", "@id(\"builtin.whoami\") forbid(principal, action, resource);\n");
  EXPECT_FALSE(policy::LoadPolicyStore(d.path, kBuiltinPolicies).ok());
}

TEST(PolicyStoreTest, DigestFollowsTheContent) {
  TmpDir d;
  d.Write("policies/a.cedar", "permit(principal, action, resource);\n");
  auto s1 = policy::LoadPolicyStore(d.path, kBuiltinPolicies);
  auto s2 = policy::LoadPolicyStore(d.path, kBuiltinPolicies);
  ASSERT_TRUE(s1.ok() && s2.ok());
  EXPECT_EQ((*s1)->digest, (*s2)->digest);
  EXPECT_EQ((*s1)->digest.size(), 64u);
  d.Write("policies/a.cedar", "forbid(principal, action, resource);\n");
  auto s3 = policy::LoadPolicyStore(d.path, kBuiltinPolicies);
  ASSERT_TRUE(s3.ok());
  EXPECT_NE((*s1)->digest, (*s3)->digest);
}

TEST(PolicyStoreTest, ShippedSchemaParsesAndLintFindsUnknownActions) {
  auto s = policy::LoadPolicyStore(AIK_SOURCE_DIR "/config", kBuiltinPolicies);
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_NE((*s)->schema, nullptr);
  policy::PolicySet set;
  ASSERT_TRUE(set.AddText("permit(principal, action == Action::\"admin.pnig\", resource);").ok());
  auto lint = policy::LintPolicies(set, {"admin.ping"});
  ASSERT_EQ(lint.size(), 1u);
  EXPECT_NE(lint[0].find("admin.pnig"), std::string::npos);
}

TEST(RateCountersTest, CountsTheLastMinuteAndHour) {
  RateCounters c;
  EXPECT_EQ(c.Hit("p", "a", 1000).minute, 0);
  EXPECT_EQ(c.Hit("p", "a", 1000).minute, 1);
  EXPECT_EQ(c.Hit("p", "b", 1000).minute, 0);  // per action
  EXPECT_EQ(c.Hit("q", "a", 1000).minute, 0);  // per principal
  RateCounts r = c.Hit("p", "a", 1030);
  EXPECT_EQ(r.minute, 2);
  EXPECT_EQ(r.hour, 2);
  r = c.Peek("p", "a", 1061);
  EXPECT_EQ(r.minute, 1);  // the two at t=1000 left the minute
  EXPECT_EQ(r.hour, 3);
  r = c.Peek("p", "a", 1000 + 3600 + 60);
  EXPECT_EQ(r.hour, 0);
}

// ---------------------------------------------------------------- approvals

using testutil::RecordingSink;

class ApprovalDispatchTest : public ::testing::Test {
 protected:
  ApprovalDispatchTest() : queue(std::chrono::milliseconds(5000)) {
    authz.Install(Store(R"(
      @id("ask") @approval("a human must agree")
      permit(principal, action == Action::"admin.ping", resource);
    )"));
    KernelDeps deps;
    deps.connections = &table;
    deps.authorizer = &authz;
    deps.sink = &sink;
    deps.approvals = &queue;
    kernel = std::make_unique<Kernel>(KernelInfo{"n1", "0", "", "", "", "full"}, deps);
    int sv[2];
    EXPECT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    server.reset(sv[0]);
    client.reset(sv[1]);
    auto creds = ReadPeerCredentials(server.get());
    EXPECT_TRUE(creds.ok());
    EXPECT_TRUE(table.Register(server.get(), *creds).ok());
    peer = "fd:" + std::to_string(server.get());
  }
  // Runs a ping on a thread; returns once it is parked.
  std::thread Ping(CallResult* out, int* executed) {
    std::thread t([=, this] {
      v1::PingRequest req;
      *out = kernel->Dispatch({peer, Syscall::kAdminPing, "node:n1", &req},
                              [&](const Principal&) {
                                ++*executed;
                                return absl::OkStatus();
                              });
    });
    for (int i = 0; i < 5000 && queue.List().empty(); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    return t;
  }

  ConnectionTable table;
  CedarAuthorizer authz;
  RecordingSink sink;
  ApprovalQueue queue;
  std::unique_ptr<Kernel> kernel;
  UniqueFd server, client;
  std::string peer;
};

TEST_F(ApprovalDispatchTest, ApprovedCallRunsAndTheLedgerSaysWho) {
  CallResult r;
  int executed = 0;
  std::thread t = Ping(&r, &executed);
  auto pending = queue.List();
  ASSERT_EQ(pending.size(), 1u);
  EXPECT_EQ(pending[0].action, "admin.ping");
  EXPECT_EQ(pending[0].reason, "a human must agree");
  EXPECT_EQ(executed, 0);
  ASSERT_TRUE(queue.Decide(pending[0].id, true, "operator:0", "").ok());
  t.join();
  EXPECT_TRUE(r.status.ok()) << r.status;
  EXPECT_EQ(executed, 1);
  auto recs = sink.Records();
  ASSERT_EQ(recs.size(), 2u);
  EXPECT_EQ(recs[0].action, "approval.request");
  EXPECT_EQ(recs[1].action, "admin.ping");
  EXPECT_EQ(recs[1].decision, audit::Decision::kAllow);
  EXPECT_EQ(recs[1].rule_ids.back(), "approval:1:approved-by:operator:0");
  EXPECT_FALSE(queue.Decide(pending[0].id, true, "operator:0", "").ok());
}

TEST_F(ApprovalDispatchTest, DeniedCallIsRefusedWithTheOperatorsReason) {
  CallResult r;
  int executed = 0;
  std::thread t = Ping(&r, &executed);
  auto pending = queue.List();
  ASSERT_EQ(pending.size(), 1u);
  ASSERT_TRUE(queue.Decide(pending[0].id, false, "operator:7", "not today").ok());
  t.join();
  EXPECT_EQ(r.status.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_NE(r.status.message().find("denied by operator:7: not today"), std::string::npos)
      << r.status.message();
  EXPECT_EQ(executed, 0);
  EXPECT_EQ(sink.Records().back().decision, audit::Decision::kDeny);
}

TEST_F(ApprovalDispatchTest, TimeoutDenies) {
  queue.SetTimeout(std::chrono::milliseconds(50));
  CallResult r;
  int executed = 0;
  std::thread t = Ping(&r, &executed);
  t.join();
  EXPECT_EQ(r.status.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_NE(r.status.message().find("timed out"), std::string::npos) << r.status.message();
  EXPECT_EQ(executed, 0);
  EXPECT_EQ(sink.Records().back().rule_ids.back(), "approval:1:timed-out");
}

TEST_F(ApprovalDispatchTest, ShutdownCancelsWaitingCalls) {
  CallResult r;
  int executed = 0;
  std::thread t = Ping(&r, &executed);
  kernel->BeginShutdown();
  t.join();
  EXPECT_EQ(r.status.code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(executed, 0);
}

}  // namespace
}  // namespace aikernel::kernel
