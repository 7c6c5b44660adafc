// Step 2 of the dispatch path: an agent's hard quotas (spec [quotas]) are
// enforced before policy is evaluated, refused calls are audited as
// denied-by-quota, and the budgets reach policies as context.budgets. Real
// ConnectionTable over socketpairs, real CedarAuthorizer.
#include <gtest/gtest.h>
#include <sys/socket.h>

#include <atomic>
#include <mutex>
#include <thread>

#include "aikernel/v1/admin.pb.h"
#include "aikernel/v1/kernel.pb.h"
#include "common/unique_fd.h"
#include "kernel/cedar_authorizer.h"
#include "kernel/kernel.h"
#include "kernel/kernel_test_util.h"
#include "kernel/quota.h"

namespace aikernel::kernel {
namespace {

using Sink = testutil::RecordingSink;

class SettableClock : public Clock {
 public:
  int64_t RealtimeNs() const override { return now_s * 1'000'000'000; }
  int64_t MonotonicNs() const override { return mono += 1000; }
  int64_t now_s = 1'700'000'000;
  mutable int64_t mono = 0;
};

// Counts how often policy is evaluated.
class CountingAuthorizer : public Authorizer {
 public:
  explicit CountingAuthorizer(const Authorizer* inner) : inner_(inner) {}
  Decision Decide(const AuthzRequest& r) const override {
    ++decisions;
    return inner_->Decide(r);
  }
  mutable std::atomic<int> decisions{0};

 private:
  const Authorizer* inner_;
};

class QuotaTest : public ::testing::Test {
 protected:
  QuotaTest() {
    KernelDeps deps;
    deps.connections = &table;
    deps.authorizer = &counting;
    deps.sink = &sink;
    deps.clock = &clock;
    kernel = std::make_unique<Kernel>(KernelInfo{"n1", "0", "", "", "", "full"}, deps);
  }

  void Policies(const std::string& text) {
    auto store = policy::LoadPolicyStore("", text);
    ASSERT_TRUE(store.ok()) << store.status();
    authz.Install(*store);
  }

  // An agent connection whose spec declares `q`.
  std::string Agent(const agents::Quotas& q) {
    int sv[2];
    EXPECT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    fds.emplace_back(sv[0]);
    fds.emplace_back(sv[1]);
    AgentIdentity id{"worker", "inst" + std::to_string(sv[0]), "spiffe://n1/agent/worker", {},
                     getpid(), 1000, 1000, nullptr};
    id.quotas = std::make_shared<const agents::Quotas>(q);
    EXPECT_TRUE(table.RegisterAgent(sv[0], id).ok());
    return "fd:" + std::to_string(sv[0]);
  }

  CallResult Call(const std::string& peer, Syscall s = Syscall::kWhoami,
                  const google::protobuf::Message* req = nullptr) {
    v1::WhoamiRequest whoami;
    return kernel->Dispatch({peer, s, "node:n1", req ? req : &whoami}, [&](const Principal&) {
      ++executed;
      return absl::OkStatus();
    });
  }

  ConnectionTable table;
  CedarAuthorizer authz;
  CountingAuthorizer counting{&authz};
  Sink sink;
  SettableClock clock;
  std::unique_ptr<Kernel> kernel;
  std::vector<UniqueFd> fds;
  int executed = 0;
};

TEST_F(QuotaTest, CallsPerMinuteRefusesBeforePolicyAndAuditsTheQuota) {
  agents::Quotas q;
  q.calls.per_minute = 3;
  const std::string peer = Agent(q);
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(Call(peer).status.ok()) << i;
  ASSERT_EQ(counting.decisions.load(), 3);

  CallResult r = Call(peer);
  EXPECT_EQ(r.status.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_NE(r.status.message().find("calls_per_minute"), std::string::npos) << r.status;
  EXPECT_NE(r.status.message().find("3 calls per minute"), std::string::npos) << r.status;
  EXPECT_EQ(counting.decisions.load(), 3) << "policy must not be evaluated over quota";
  EXPECT_EQ(executed, 3);
  ASSERT_EQ(sink.records.size(), 4u);
  EXPECT_EQ(sink.records[3].decision, audit::Decision::kDeny);
  EXPECT_EQ(sink.records[3].rule_ids, std::vector<std::string>{"quota:calls_per_minute"});
  EXPECT_EQ(sink.records[3].code, static_cast<int>(absl::StatusCode::kResourceExhausted));
  EXPECT_EQ(kernel->counters().denied, 1u);

  // Refused calls are not counted: once the minute has passed, the agent
  // has its whole quota again.
  clock.now_s += 61;
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(Call(peer).status.ok()) << i;
  EXPECT_EQ(Call(peer).status.code(), absl::StatusCode::kResourceExhausted);
}

TEST_F(QuotaTest, PerActionTotalIsALifetimeBudgetOfThatActionOnly) {
  agents::Quotas q;
  q.actions["kernel.whoami"].total = 2;
  const std::string peer = Agent(q);
  EXPECT_TRUE(Call(peer).status.ok());
  clock.now_s += 7200;  // a lifetime budget does not refill
  EXPECT_TRUE(Call(peer).status.ok());
  CallResult r = Call(peer);
  EXPECT_EQ(r.status.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_NE(r.status.message().find("actions.kernel.whoami.total"), std::string::npos);
  EXPECT_EQ(sink.records.back().rule_ids,
            std::vector<std::string>{"quota:actions.kernel.whoami.total"});
  // Other actions are not covered by it (admin.ping is denied by policy,
  // not by the quota).
  v1::PingRequest ping;
  r = Call(peer, Syscall::kAdminPing, &ping);
  EXPECT_EQ(r.status.code(), absl::StatusCode::kPermissionDenied) << r.status;
  // Another instance starts with its own count.
  EXPECT_TRUE(Call(Agent(q)).status.ok());
}

TEST_F(QuotaTest, RequestBytesPerMinute) {
  agents::Quotas q;
  q.bytes_per_minute = 100;
  const std::string peer = Agent(q);
  v1::PingRequest ping;
  ping.set_payload(std::string(60, 'x'));  // 62 bytes on the wire
  EXPECT_EQ(Call(peer, Syscall::kAdminPing, &ping).status.code(),
            absl::StatusCode::kPermissionDenied);  // admitted, then denied by policy
  CallResult r = Call(peer, Syscall::kAdminPing, &ping);
  EXPECT_EQ(r.status.code(), absl::StatusCode::kResourceExhausted) << r.status;
  EXPECT_NE(r.status.message().find("bytes_per_minute"), std::string::npos) << r.status;
  EXPECT_TRUE(Call(peer).status.ok()) << "an empty request still fits";
}

TEST_F(QuotaTest, BudgetsAreInTheCedarContext) {
  Policies(
      "@id(\"allow\") permit(principal is Agent, action, resource);\n"
      "@id(\"keep-one\") forbid(principal, action, resource) when {\n"
      "  context.budgets has calls_total && context.budgets.calls_total.remaining < 1 };\n"
      "@id(\"saw-used\") forbid(principal, action == Action::\"admin.ping\", resource) when {\n"
      "  context.budgets.calls_total.used != 1 || context.budgets.calls_total.limit != 3 ||\n"
      "  context.counters.total != 0 };\n");
  agents::Quotas q;
  q.calls.total = 3;
  const std::string peer = Agent(q);
  EXPECT_TRUE(Call(peer).status.ok());  // used 0, remaining 2
  v1::PingRequest ping;
  CallResult r = Call(peer, Syscall::kAdminPing, &ping);  // used 1, remaining 1
  EXPECT_TRUE(r.status.ok()) << r.status;
  r = Call(peer);  // used 2, remaining 0: the policy keeps the last one
  EXPECT_EQ(r.status.code(), absl::StatusCode::kPermissionDenied) << r.status;
  EXPECT_EQ(sink.records.back().rule_ids, std::vector<std::string>{"keep-one"});
  r = Call(peer);  // used 3: the quota, before policy
  EXPECT_EQ(r.status.code(), absl::StatusCode::kResourceExhausted) << r.status;
  EXPECT_EQ(counting.decisions.load(), 3);
}

TEST_F(QuotaTest, PrincipalsWithoutQuotasAreNotLimited) {
  int sv[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
  fds.emplace_back(sv[0]);
  fds.emplace_back(sv[1]);
  AgentIdentity id{"free", "i1", "spiffe://n1/agent/free", {}, getpid(), 1000, 1000, nullptr};
  ASSERT_TRUE(table.RegisterAgent(sv[0], id).ok());
  for (int i = 0; i < 200; ++i) ASSERT_TRUE(Call("fd:" + std::to_string(sv[0])).status.ok());
}

TEST_F(QuotaTest, ConcurrentCallsDoNotOverrunAQuota) {
  agents::Quotas q;
  q.calls.per_minute = 50;
  const std::string peer = Agent(q);
  std::atomic<int> ok{0}, exhausted{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 40; ++i) {
        v1::WhoamiRequest req;
        CallResult r = kernel->Dispatch({peer, Syscall::kWhoami, "node:n1", &req},
                                        [](const Principal&) { return absl::OkStatus(); });
        (r.status.ok() ? ok : exhausted).fetch_add(1);
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), 50);
  EXPECT_EQ(exhausted.load(), 110);
}

TEST(ApplicableQuotasTest, ToolCallBudgetCoversToolCallOnly) {
  agents::Quotas q;
  q.tool_calls = 10;
  q.calls.per_hour = 100;
  Usage u;
  u.action.total = 9;
  u.all.hour = 20;
  std::vector<QuotaUse> tool = ApplicableQuotas(q, kToolCallAction, u, 0);
  ASSERT_EQ(tool.size(), 2u);
  EXPECT_EQ(tool[0].name, "calls_per_hour");
  EXPECT_EQ(tool[1].name, "tool_calls");
  EXPECT_EQ(tool[1].remaining(), 0);
  EXPECT_FALSE(tool[1].exceeded());
  u.action.total = 10;
  EXPECT_TRUE(ApplicableQuotas(q, kToolCallAction, u, 0)[1].exceeded());
  EXPECT_EQ(ApplicableQuotas(q, "memory.write", u, 0).size(), 1u);
  QuotaUse a{"actions.memory.write.per_hour", 5, 1, 1};
  EXPECT_EQ(BudgetKey(a), "action_per_hour");
  EXPECT_EQ(BudgetKey(tool[1]), "tool_calls");
}

TEST(ApplicableQuotasTest, UnknownActionsAreRefusedNamingThem) {
  agents::Quotas q;
  q.actions["memory.write"].per_minute = 1;
  EXPECT_TRUE(CheckQuotaActions(q).ok());
  q.actions["memory.wrte"].per_minute = 1;
  Status s = CheckQuotaActions(q);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("memory.wrte"), std::string::npos) << s;
}

TEST_F(QuotaTest, RecordsDecidedByAnUnrecordedSetNameIt) {
  Policies("@id(\"allow\") permit(principal, action, resource);");
  const std::string digest = authz.store()->digest;
  const std::string peer = Agent({});
  // No load recorded at all: nothing to tie to, no tag.
  ASSERT_TRUE(Call(peer).status.ok());
  EXPECT_EQ(sink.records.back().rule_ids, std::vector<std::string>{"allow"});
  audit::Record load;
  load.action = "policy.load";
  ASSERT_TRUE(kernel->NotePolicyLoad(std::string(64, 'b'), load).ok());
  ASSERT_TRUE(Call(peer).status.ok());
  EXPECT_EQ(sink.records.back().rule_ids,
            (std::vector<std::string>{"allow", "policyset:" + digest.substr(0, 16)}));
  ASSERT_TRUE(kernel->NotePolicyLoad(digest, load).ok());
  ASSERT_TRUE(Call(peer).status.ok());
  EXPECT_EQ(sink.records.back().rule_ids, std::vector<std::string>{"allow"});
}

}  // namespace
}  // namespace aikernel::kernel
