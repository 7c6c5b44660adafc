#include "policy/evaluator.h"

#include <gtest/gtest.h>

#include "test_util.h"

namespace aikernel::policy {
namespace {

using testing::MakeEntities;
using testing::MakeRequest;
using testing::Show;

TEST(Evaluator, ArithmeticAndOverflow) {
  EXPECT_EQ(Show("1 + 2 * 3 - 4"), "3");
  EXPECT_EQ(Show("-9223372036854775808"), "-9223372036854775808");
  EXPECT_EQ(Show("9223372036854775807 + 1"), "error");
  EXPECT_EQ(Show("-9223372036854775807 - 2"), "error");
  EXPECT_EQ(Show("4611686018427387904 * 2"), "error");
  EXPECT_EQ(Show("-(-9223372036854775807 - 1)"), "error");
  EXPECT_EQ(Show("--1"), "1");
  EXPECT_EQ(Show("1 + \"a\""), "error");
  EXPECT_EQ(Show("1 < 2 && 2 <= 2 && 3 > 2 && 3 >= 3"), "true");
  EXPECT_EQ(Show("\"a\" < \"b\""), "error");
}

TEST(Evaluator, ShortCircuit) {
  EXPECT_EQ(Show("false && (1 + 9223372036854775807 == 0)"), "false");
  EXPECT_EQ(Show("true || context.missing"), "true");
  EXPECT_EQ(Show("true && context.missing"), "error");
  EXPECT_EQ(Show("if true then 1 else context.missing"), "1");
  EXPECT_EQ(Show("if 1 then 2 else 3"), "error");
  // Operands must be booleans, even where the answer would be known.
  EXPECT_EQ(Show("true && 1"), "error");
  EXPECT_EQ(Show("1 && false"), "error");
  EXPECT_EQ(Show("!1"), "error");
}

TEST(Evaluator, EqualityIsStructuralAndNeverErrors) {
  EXPECT_EQ(Show("1 == \"1\""), "false");
  EXPECT_EQ(Show("[1, 2, 2] == [2, 1]"), "true");
  EXPECT_EQ(Show("{a: 1, b: [true]} == {b: [true], a: 1}"), "true");
  EXPECT_EQ(Show("User::\"a\" != User::\"b\""), "true");
  EXPECT_EQ(Show("decimal(\"1.0\") == decimal(\"1.0000\")"), "true");
  EXPECT_EQ(Show("ip(\"10.0.0.1\") == ip(\"10.0.0.1/32\")"), "true");
}

TEST(Evaluator, LikeWithEscapes) {
  EXPECT_EQ(Show(R"("hello world" like "hello*")"), "true");
  EXPECT_EQ(Show(R"("hello world" like "*o w*")"), "true");
  EXPECT_EQ(Show(R"("hello" like "h*l*o")"), "true");
  EXPECT_EQ(Show(R"("hello" like "h*x*o")"), "false");
  EXPECT_EQ(Show(R"("a*b" like "a\*b")"), "true");
  EXPECT_EQ(Show(R"("axb" like "a\*b")"), "false");
  EXPECT_EQ(Show(R"("" like "*")"), "true");
  EXPECT_EQ(Show(R"("" like "")"), "true");
  EXPECT_EQ(Show(R"("aba" like "ab*ba")"), "false");
  EXPECT_EQ(Show(R"("tab\there" like "tab\t*")"), "true");
  EXPECT_EQ(Show(R"("\u{e9}t\u{e9}" like "*\u{e9}")"), "true");
  EXPECT_EQ(Show(R"(1 like "*")"), "error");
}

constexpr const char* kHierarchy = R"([
  {"uid": {"type": "User", "id": "alice"},
   "attrs": {"age": 30, "team": {"__entity": {"type": "Team", "id": "t"}},
             "profile": {"email": "a@x", "tags": ["x", "y"]}},
   "parents": [{"type": "Group", "id": "eng"}],
   "tags": {"clearance": "high"}},
  {"uid": {"type": "Group", "id": "eng"}, "parents": [{"type": "Group", "id": "all"}]},
  {"uid": {"type": "Group", "id": "all"}, "parents": [{"type": "Group", "id": "eng"}]},
  {"uid": {"type": "Group", "id": "loop"}, "parents": [{"type": "Group", "id": "loop"}]}
])";

TEST(Evaluator, InOverHierarchyWithCycles) {
  Entities es = MakeEntities(kHierarchy);
  EXPECT_EQ(Show("principal in Group::\"eng\"", es), "true");
  EXPECT_EQ(Show("principal in Group::\"all\"", es), "true");  // transitive
  EXPECT_EQ(Show("Group::\"all\" in Group::\"eng\"", es), "true");  // cycle
  EXPECT_EQ(Show("Group::\"eng\" in Group::\"all\"", es), "true");
  EXPECT_EQ(Show("Group::\"loop\" in Group::\"eng\"", es), "false");
  EXPECT_EQ(Show("principal in principal", es), "true");
  EXPECT_EQ(Show("principal in [Group::\"x\", Group::\"all\"]", es), "true");
  EXPECT_EQ(Show("principal in []", es), "false");
  EXPECT_EQ(Show("principal in [Group::\"all\", 1]", es), "error");
  EXPECT_EQ(Show("User::\"ghost\" in Group::\"eng\"", es), "false");
  EXPECT_EQ(Show("User::\"ghost\" in User::\"ghost\"", es), "true");
  EXPECT_EQ(Show("1 in Group::\"eng\"", es), "error");
}

TEST(Evaluator, AttributesAndHas) {
  Entities es = MakeEntities(kHierarchy);
  Request req = MakeRequest(R"({"args": {"path": "/tmp/x"}, "n": 3})");
  EXPECT_EQ(Show("principal.age", es, req), "30");
  EXPECT_EQ(Show("principal[\"age\"] + context.n", es, req), "33");
  EXPECT_EQ(Show("principal.profile.tags.contains(\"y\")", es, req), "true");
  EXPECT_EQ(Show("principal.team", es, req), "Team::\"t\"");
  EXPECT_EQ(Show("principal.team.name", es, req), "error");  // no such entity
  EXPECT_EQ(Show("principal.team has name", es, req), "false");
  EXPECT_EQ(Show("principal has age", es, req), "true");
  EXPECT_EQ(Show("principal has \"profile\"", es, req), "true");
  EXPECT_EQ(Show("principal has profile.email", es, req), "true");
  EXPECT_EQ(Show("principal has profile.phone", es, req), "false");
  EXPECT_EQ(Show("principal.nope", es, req), "error");
  EXPECT_EQ(
      Show("context has args && context.args.path like \"/tmp/*\"", es, req),
      "true");
  EXPECT_EQ(Show("1 has a", es, req), "error");
  EXPECT_EQ(Show("principal is User && !(principal is Group)", es, req),
            "true");
  EXPECT_EQ(Show("principal is User in Group::\"all\"", es, req), "true");
  EXPECT_EQ(Show("principal is Group in 1", es, req),
            "false");  // short-circuit
  EXPECT_EQ(Show("1 is User", es, req), "error");
}

TEST(Evaluator, SetsAndRecords) {
  EXPECT_EQ(Show("[1, 2, 3].containsAll([3, 1])"), "true");
  EXPECT_EQ(Show("[1, 2, 3].containsAll([4])"), "false");
  EXPECT_EQ(Show("[1, 2].containsAny([4, 2])"), "true");
  EXPECT_EQ(Show("[].containsAny([])"), "false");
  EXPECT_EQ(Show("[].isEmpty() && ![1].isEmpty()"), "true");
  EXPECT_EQ(Show("[[1], {a: 2}].contains({a: 2})"), "true");
  EXPECT_EQ(Show("1.contains(1)"), "error");
  EXPECT_EQ(Show("[1].containsAll(1)"), "error");
  EXPECT_EQ(Show("{a: {b: 1}}.a.b"), "1");
  EXPECT_EQ(Show("{a: 1}.b"), "error");
  EXPECT_EQ(Show("[1, 1 + 9223372036854775807]"), "error");
}

TEST(Evaluator, Tags) {
  Entities es = MakeEntities(kHierarchy);
  EXPECT_EQ(Show("principal.getTag(\"clearance\")", es), "\"high\"");
  EXPECT_EQ(Show("principal.hasTag(\"clearance\")", es), "true");
  EXPECT_EQ(Show("principal.hasTag(\"other\")", es), "false");
  EXPECT_EQ(Show("principal.getTag(\"other\")", es), "error");
  EXPECT_EQ(Show("User::\"ghost\".hasTag(\"x\")", es), "false");
  EXPECT_EQ(Show("User::\"ghost\".getTag(\"x\")", es), "error");
  EXPECT_EQ(Show("principal.getTag(1)", es), "error");
  EXPECT_EQ(Show("{a: 1}.hasTag(\"a\")", es), "error");
}

TEST(Evaluator, PolicySatisfaction) {
  Entities es = MakeEntities(kHierarchy);
  Request req = MakeRequest();
  auto ps = ParsePolicies(R"(
    permit(principal in Group::"all", action == Action::"view", resource)
      when { principal.age > 18 } unless { principal.age > 60 };
    permit(principal, action, resource) when { principal.missing };
    permit(principal, action, resource) when { 1 };
    permit(principal == User::"bob", action, resource) when { principal.missing };
  )");
  ASSERT_TRUE(ps.ok()) << ps.status();
  Evaluator ev(req, es);
  EXPECT_EQ(*ev.Satisfied((*ps)[0]), true);
  EXPECT_FALSE(ev.Satisfied((*ps)[1]).ok());
  EXPECT_FALSE(ev.Satisfied((*ps)[2]).ok());  // non-boolean condition
  EXPECT_EQ(*ev.Satisfied((*ps)[3]), false);  // scope fails first
}

}  // namespace
}  // namespace aikernel::policy
