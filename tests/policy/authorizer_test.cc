#include "policy/authorizer.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "test_util.h"

namespace aikernel::policy {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;
using testing::MakeEntities;

constexpr const char* kEntities = R"([
  {"uid": {"type": "Agent", "id": "a1"}, "attrs": {"budget": 5},
   "parents": [{"type": "Group", "id": "writers"}]},
  {"uid": {"type": "Agent", "id": "a2"}, "attrs": {}, "parents": []},
  {"uid": {"type": "Tool", "id": "fs.read"}, "parents": [{"type": "ToolGroup", "id": "fs"}]},
  {"uid": {"type": "Tool", "id": "fs.write"}, "parents": [{"type": "ToolGroup", "id": "fs"}]},
  {"uid": {"type": "Action", "id": "tool.call"}, "parents": [{"type": "Action", "id": "any"}]}
])";

Request Req(const char* agent, const char* tool) {
  Request r;
  r.principal = {"Agent", agent};
  r.action = {"Action", "tool.call"};
  r.resource = {"Tool", tool};
  return r;
}

std::vector<std::string> ErrorIds(const Response& r) {
  std::vector<std::string> out;
  for (const auto& e : r.errors) out.push_back(e.policy_id);
  return out;
}

TEST(Authorizer, ForbidOverridesPermitDefaultDenyAndErrors) {
  PolicySet ps;
  ASSERT_TRUE(ps.AddText(R"(
    permit(principal in Group::"writers", action == Action::"tool.call",
           resource in ToolGroup::"fs");                                   // policy0
    forbid(principal, action, resource == Tool::"fs.write")
      unless { principal.budget > 0 };                                    // policy1
    permit(principal == Agent::"a2", action in Action::"any", resource)
      when { resource.missing };                                          // policy2
    permit(principal is Agent, action, resource is Tool)
      when { principal has budget && principal.budget > 3 };              // policy3
  )")
                  .ok());
  Entities es = MakeEntities(kEntities);

  Response r = Authorize(ps, Req("a1", "fs.read"), es);
  EXPECT_EQ(r.decision, Decision::kAllow);
  EXPECT_THAT(r.reasons, ElementsAre("policy0", "policy3"));
  EXPECT_THAT(r.errors, IsEmpty());

  // a2 has no budget: the forbid's `unless` errors (skipped), the permit
  // errors on a missing attribute; nothing is satisfied -> default deny.
  r = Authorize(ps, Req("a2", "fs.write"), es);
  EXPECT_EQ(r.decision, Decision::kDeny);
  EXPECT_THAT(r.reasons, IsEmpty());
  EXPECT_THAT(ErrorIds(r), ElementsAre("policy1", "policy2"));
  EXPECT_THAT(r.errors[0].message, ::testing::HasSubstr("budget"));

  // Forbid wins over permits.
  ASSERT_TRUE(
      ps.AddText("forbid(principal == Agent::\"a1\", action, resource);",
                 "extra.cedar", {.id_prefix = "extra"})
          .ok());
  r = Authorize(ps, Req("a1", "fs.read"), es);
  EXPECT_EQ(r.decision, Decision::kDeny);
  EXPECT_THAT(r.reasons, ElementsAre("extra0"));
}

TEST(Authorizer, ConcurrentDecisionsOnSharedInputs) {
  PolicySet ps;
  ASSERT_TRUE(ps.AddText(R"(
    permit(principal in Group::"writers", action, resource in ToolGroup::"fs");
    forbid(principal, action, resource == Tool::"fs.write")
      unless { principal has budget && principal.budget > 0 };
  )")
                  .ok());
  const Entities es = MakeEntities(kEntities);
  const Request reqs[] = {Req("a1", "fs.read"), Req("a1", "fs.write"),
                          Req("a2", "fs.read"), Req("a2", "fs.write")};
  std::vector<Decision> want;
  for (const Request& r : reqs) want.push_back(Authorize(ps, r, es).decision);
  EXPECT_EQ(want[0], Decision::kAllow);
  EXPECT_EQ(want[3], Decision::kDeny);
  std::atomic<int> mismatches{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 20000; ++i) {
        size_t k = (i + t) % 4;
        if (Authorize(ps, reqs[k], es).decision != want[k]) ++mismatches;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(mismatches.load(), 0);
}

TEST(Authorizer, EmptySetDenies) {
  PolicySet ps;
  Response r = Authorize(ps, Req("a1", "fs.read"), MakeEntities(kEntities));
  EXPECT_EQ(r.decision, Decision::kDeny);
  EXPECT_THAT(r.reasons, IsEmpty());
}

TEST(PolicySet, DuplicateIdsAndParseErrorsLeaveSetUnchanged) {
  PolicySet ps;
  ASSERT_TRUE(ps.AddText("permit(principal, action, resource);").ok());
  EXPECT_FALSE(ps.AddText("permit(principal, action, resource);").ok());
  EXPECT_FALSE(ps.AddText("permit(principal, action, resource); oops",
                          "b.cedar", {.id_prefix = "b"})
                   .ok());
  EXPECT_EQ(ps.size(), 1u);
  EXPECT_NE(ps.Find("policy0"), nullptr);
}

TEST(PolicySet, IndexVisitsOnlyPoliciesThatCanMatch) {
  PolicySet ps;
  std::string text;
  for (int i = 0; i < 1000; ++i) {
    text += "permit(principal == Agent::\"agent" + std::to_string(i) +
            "\", action == Action::\"tool.call\", resource == Tool::\"t" +
            std::to_string(i % 7) + "\");\n";
  }
  text += "permit(principal in Group::\"writers\", action, resource);\n";
  text += "forbid(principal, action, resource == Tool::\"fs.write\");\n";
  text += "permit(principal is Agent, action, resource) when { false };\n";
  text += "permit(principal, action in [Action::\"any\"], resource);\n";
  text += "permit(principal, action, resource) when { false };\n";
  ASSERT_TRUE(ps.AddText(text).ok());
  Entities es = MakeEntities(kEntities);
  std::vector<uint32_t> c;
  ps.Candidates(Req("agent5", "t5"), es, &c);
  // agent5's own policy, `is Agent`, the action group, the unscoped one.
  EXPECT_THAT(c, ElementsAre(5, 1002, 1003, 1004));
  ps.Candidates(Req("a1", "fs.write"), es, &c);
  EXPECT_THAT(c, ElementsAre(1000, 1001, 1002, 1003, 1004));
}

}  // namespace
}  // namespace aikernel::policy
