#include "policy/parser.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "policy/schema.h"

namespace aikernel::policy {
namespace {

using ::testing::HasSubstr;

TEST(Parser, PolicyScopeAndIds) {
  auto ps = ParsePolicies(R"(
    @approval("needs an operator")
    permit(principal == Agent::"a1", action in [Action::"tool.call", Action::"memory.read"],
           resource is Tool in ToolGroup::"fs")
    when { context.args.path like "/tmp/*" }
    unless { principal.suspended };
    forbid(principal is Agent, action, resource);
  )",
                          "agents.cedar");
  ASSERT_TRUE(ps.ok()) << ps.status();
  ASSERT_EQ(ps->size(), 2u);
  const Policy& p = (*ps)[0];
  EXPECT_EQ(p.id, "policy0");
  EXPECT_EQ((*ps)[1].id, "policy1");
  EXPECT_EQ(p.effect, Effect::kPermit);
  ASSERT_NE(p.Annotation("approval"), nullptr);
  EXPECT_EQ(*p.Annotation("approval"), "needs an operator");
  EXPECT_EQ(p.principal.op, ScopeConstraint::Op::kEq);
  EXPECT_EQ(p.principal.uid, (EntityUid{"Agent", "a1"}));
  EXPECT_EQ(p.action.op, ScopeConstraint::Op::kInSet);
  EXPECT_EQ(p.action.uids.size(), 2u);
  EXPECT_EQ(p.resource.op, ScopeConstraint::Op::kIsIn);
  EXPECT_EQ(p.resource.type, "Tool");
  ASSERT_EQ(p.conditions.size(), 2u);
  EXPECT_TRUE(p.conditions[0].when);
  EXPECT_FALSE(p.conditions[1].when);
  EXPECT_EQ((*ps)[1].effect, Effect::kForbid);
  EXPECT_EQ((*ps)[1].principal.op, ScopeConstraint::Op::kIs);
}

TEST(Parser, IdAnnotationAndPrefix) {
  ParseOptions opt;
  opt.use_id_annotation = true;
  opt.id_prefix = "tools.cedar#";
  auto ps = ParsePolicies(
      "@id(\"allow-read\") permit(principal, action, resource);"
      "permit(principal, action, resource);",
      "tools.cedar", opt);
  ASSERT_TRUE(ps.ok());
  EXPECT_EQ((*ps)[0].id, "allow-read");
  EXPECT_EQ((*ps)[1].id, "tools.cedar#1");
}

TEST(Parser, ErrorsCarryFileLineColumnAndExpectation) {
  auto ps = ParsePolicies("permit(principal, action, resource)\nwhen { 1 + };",
                          "bad.cedar");
  ASSERT_FALSE(ps.ok());
  EXPECT_EQ(ps.status().message(),
            "bad.cedar:2:12: expected an expression, found '}'");

  ps = ParsePolicies("permit(principal action, resource);", "p.cedar");
  ASSERT_FALSE(ps.ok());
  EXPECT_EQ(ps.status().message(),
            "p.cedar:1:18: expected ',', found 'action'");

  ps = ParsePolicies("allow(principal, action, resource);", "p.cedar");
  EXPECT_EQ(ps.status().message(),
            "p.cedar:1:1: expected 'permit' or 'forbid', found 'allow'");

  ps = ParsePolicies("permit(principal, action, resource)", "p.cedar");
  EXPECT_EQ(ps.status().message(),
            "p.cedar:1:36: expected ';', found end of input");

  ps = ParsePolicies("permit(principal == User, action, resource);", "p.cedar");
  EXPECT_THAT(ps.status().message(), HasSubstr("p.cedar:1:25: expected '::'"));
}

TEST(Parser, LexicalErrors) {
  auto ps = ParsePolicies("permit(principal, action, resource) when { \"abc };",
                          "s.cedar");
  EXPECT_EQ(ps.status().message(), "s.cedar:1:44: unterminated string");
  ps = ParsePolicies("permit(principal, action, resource) when { \"\\q\" };",
                     "s.cedar");
  EXPECT_THAT(ps.status().message(), HasSubstr("s.cedar:1:44: invalid escape"));
  ps = ParsePolicies("permit(principal, action, resource) when { 1 # 2 };",
                     "s.cedar");
  EXPECT_THAT(ps.status().message(), HasSubstr("s.cedar:1:46: unexpected"));
}

TEST(Parser, RefusesWhatCedarRefuses) {
  const char* bad[] = {
      "9223372036854775808",      // too large without a minus
      "1 / 2",                    // no division
      "{a: 1, a: 2}",             // duplicate record key
      "foo(1)",                   // unknown function
      "principal.frobnicate()",   // unknown method
      "[1].contains(1, 2)",       // builtin arity
      "x",                        // unknown identifier
      "principal in ?principal",  // templates
      "1 = 1",                    // no assignment
      "!!!!!true",                // at most four unary operators
      "-!true",                   // one kind of unary operator per run
      "!-1",
  };
  for (const char* b : bad) {
    EXPECT_FALSE(ParseExpression(b).ok()) << b;
  }
  EXPECT_TRUE(ParseExpression("-9223372036854775808").ok());
  EXPECT_TRUE(ParseExpression("!!!!true && ----1 == 1 && - -1 == 1").ok());
}

TEST(Parser, DeepNestingIsAnErrorNotACrash) {
  std::string deep(100000, '(');
  auto e = ParseExpression(deep + "1" + std::string(100000, ')'));
  ASSERT_FALSE(e.ok());
  EXPECT_THAT(e.status().message(), HasSubstr("nested more than 128"));
  // Long chains deepen the tree without parentheses; they are bounded too.
  std::string ands, sums = "1", attrs = "context";
  for (int i = 0; i < 100000; ++i) ands += "true && ";
  for (int i = 0; i < 100000; ++i) attrs += ".a";
  for (int i = 0; i < 100000; ++i) sums += " + 1";
  for (const std::string& text : {ands + "true", sums, attrs}) {
    auto c = ParseExpression(text);
    ASSERT_FALSE(c.ok());
    EXPECT_THAT(c.status().message(), HasSubstr("operators deep"));
  }
  EXPECT_TRUE(ParseExpression(ands.substr(0, 8 * 1000) + "true").ok());
  EXPECT_TRUE(
      ParseExpression(std::string(100, '(') + "1" + std::string(100, ')'))
          .ok());
}

// Whether Cedar's parser accepts a policy, as answered by the reference
// engine (@cedar-policy/cedar-wasm 4.13) for each of these texts.
TEST(Parser, AcceptsExactlyWhatCedarAccepts) {
  const struct {
    const char* text;
    bool ok;
  } kCases[] = {
      {"permit(principal,action,resource) when { 1 + if true then 1 else 2 == "
       "2 };",
       false},
      {"permit(principal,action,resource) when { (if true then 1 else 2) == 1 "
       "};",
       true},
      {"permit(principal,action,resource) when { true && if true then true "
       "else false };",
       false},
      {"permit(principal,action,resource) when { principal.if == 1 };", false},
      {"permit(principal,action,resource) when { {if: 1}.if == 1 };", false},
      {"permit(principal,action,resource) when { context has if };", false},
      {"permit(principal,action,resource) when { [1,] == [1] };", true},
      {"permit(principal,action,resource) when { {a: 1,} == {a: 1} };", true},
      {"permit(principal,action,resource) when { ip(\"1.2.3.4\",).isIpv4() };",
       true},
      {"permit(principal, action in [], resource);", true},
      {"permit(principal, action in [Action::\"a\",], resource);", true},
      {"permit(principal is U in [U::\"a\"], action, resource);", false},
      {"permit(principal, action is Action, resource);", false},
      {"permit(principal == principal, action, resource);", false},
      {"permit(principal,action,resource) when { true.foo };", true},
      {"permit(principal,action,resource) when { 1.isEmpty() };", true},
      {"permit(principal,action,resource) when { "
       "__cedar::ip(\"1.2.3.4\").isIpv4() };",
       false},
      {"permit(principal,action,resource) when { principal is __cedar::U };",
       false},
      {"permit(principal,action,resource) when { principal in [] };", true},
      {"permit(principal,action,resource) when { context.true };", false},
      {"permit(principal,action,resource) when { ip(\"1.2.3.4\").isIpv4(1) };",
       true},
      {"permit(principal,action,resource) when { decimal(\"1.0\", \"2.0\") == "
       "1 };",
       true},
      {"permit(principal,action,resource) when { [].contains() };", false},
      {"permit(principal,action,resource) when { principal.contains };", true},
      {"permit(principal,action,resource) when { isIpv4(ip(\"1.2.3.4\")) };",
       false},
      {"permit(principal,action,resource) when { ip == 1 };", false},
      {"permit(principal,action,resource) when { U::\"a\"::\"b\" == 1 };",
       false},
      {"permit(principal,action,resource) when { \"a\" like principal };",
       false},
      {"permit(principal,action,resource) when { principal has a.b.c };", true},
      {"permit(principal,action,resource) when { principal has a.\"b\" };",
       false},
      {"@a @a(\"x\") permit(principal,action,resource);", false},
      {"@if(\"x\") permit(principal,action,resource);", true},
      {"permit(principal,action,resource) unless { false } when { true };",
       true},
      {"permit(principal,action,resource) when { 0x10 == 16 };", false},
      {"permit(principal,action,resource) when { 1 < 2 < 3 };", false},
      {"permit(principal,action,resource) when { - 9223372036854775808 == 1 };",
       true},
      {"permit(principal,action,resource) when { -(9223372036854775808) == 1 "
       "};",
       false},
      {"permit(principal,action,resource) when { \"\\x7f\" == \"\\u{7f}\" };",
       true},
      {"permit(principal,action,resource) when { \"\\x80\" == \"a\" };", false},
      {"permit(principal,action,resource) when { \"\\u{110000}\" == \"a\" };",
       false},
      {"permit(principal,action,resource) when { \"\\u{d800}\" == \"a\" };",
       false},
      {"permit(principal,action,resource) when { \"a\" like \"\\q\" };", false},
      {"permit(principal,action,resource) when { \"a\" == \"\\*\" };", false},
      {"permit(principal,action,resource) when { !!!!!true };", false},
      {"permit(principal,action,resource) when { -!true };", false},
      {"permit(principal,action,resource) when { principal.then == 1 };",
       false},
      {"permit(principal,action,resource) when { principal.else == 1 };",
       false},
      {"permit(principal,action,resource) when { principal.in == 1 };", false},
      {"permit(principal,action,resource) when { principal.is == 1 };", false},
      {"permit(principal,action,resource) when { principal.like == 1 };",
       false},
      {"permit(principal,action,resource) when { principal.has == 1 };", false},
      {"permit(principal,action,resource) when { principal.__cedar == 1 };",
       false},
      {"permit(principal,action,resource) when { principal.permit == 1 };",
       true},
      {"permit(principal,action,resource) when { principal.when == 1 };", true},
      {"permit(principal,action,resource) when { principal.principal == 1 };",
       true},
      {"permit(principal,action,resource) when { principal.false == 1 };",
       false},
      {"permit(principal,action,resource) when { {principal: 1}.principal == 1 "
       "};",
       true},
      {"permit(principal,action,resource) when { {\"if\": 1}[\"if\"] == 1 };",
       true},
      {"permit(principal,action,resource) when { context has \"if\" };", true},
      {"permit(principal,action,resource) when { context has principal };",
       true},
      {"permit(principal,action,resource) when { context has then };", false},
      {"permit(principal,action,resource) when { context has a.if };", false},
      {"permit(principal,action,resource) when { {then: 1} == {} };", false},
      {"permit(principal,action,resource) when { {true: 1} == {} };", false},
      {"permit(principal,action,resource) when { principal is if };", false},
      {"permit(principal,action,resource) when { principal is then };", false},
      {"permit(principal,action,resource) when { principal is principal };",
       true},
      {"permit(principal,action,resource) when { principal is permit };", true},
      {"permit(principal,action,resource) when { then::\"a\" == 1 };", false},
      {"permit(principal,action,resource) when { principal::\"a\" == 1 };",
       true},
      {"permit(principal,action,resource) when { A::then::\"a\" == 1 };",
       false},
      {"permit(principal,action,resource) when { if::\"a\" == 1 };", false},
      {"permit(principal == if::\"a\",action,resource);", false},
      {"permit(principal == permit::\"a\",action,resource);", true},
      {"permit(principal,action,resource) when { [if true then 1 else 2] == "
       "[1] };",
       true},
      {"permit(principal,action,resource) when { {a: if true then 1 else 2} == "
       "{a: 1} };",
       true},
      {"permit(principal,action,resource) when { !if true then true else false "
       "};",
       false},
      {"permit(principal,action,resource) when { if true then 1 else 2 + 1 == "
       "1 };",
       true},
  };
  for (const auto& c : kCases) {
    EXPECT_EQ(ParsePolicies(c.text).ok(), c.ok) << c.text;
  }
}

TEST(Parser, NoPoliciesIsAnEmptySet) {
  auto ps = ParsePolicies("// only a comment\n");
  ASSERT_TRUE(ps.ok());
  EXPECT_TRUE(ps->empty());
}

TEST(Schema, NamespacesActionsAndTypes) {
  auto s = ParseSchema(R"(
    namespace Ak {
      type Args = { path?: String, size: Long };
      entity Group;
      entity Agent in [Group] = { name: String, addr: ipaddr, since: datetime } tags String;
      entity Color enum ["red", "green"];
      action "tool.call" in ["any"] appliesTo {
        principal: [Agent], resource: [Agent], context: { args: Args, at: __cedar::datetime }
      };
      action any;
    }
  )",
                       "ak.cedarschema");
  ASSERT_TRUE(s.ok()) << s.status();
  const EntityTypeDecl* agent = s->FindEntityType("Ak::Agent");
  ASSERT_NE(agent, nullptr);
  ASSERT_EQ(agent->parents.size(), 1u);
  EXPECT_EQ(agent->parents[0], "Ak::Group");
  EXPECT_EQ(agent->attrs->attrs.at("addr").type->kind,
            SchemaType::Kind::kExtension);
  ASSERT_NE(agent->tags, nullptr);
  EXPECT_EQ(s->FindEntityType("Ak::Color")->enum_ids.size(), 2u);
  const ActionDecl* call = s->FindAction({"Ak::Action", "tool.call"});
  ASSERT_NE(call, nullptr);
  ASSERT_EQ(call->parents.size(), 1u);
  EXPECT_EQ(call->parents[0], (EntityUid{"Ak::Action", "any"}));
  const SchemaType& args = *call->context->attrs.at("args").type;
  EXPECT_EQ(args.kind, SchemaType::Kind::kRecord);
  EXPECT_FALSE(args.attrs.at("path").required);
  EXPECT_EQ(call->context->attrs.at("at").type->name, "datetime");
}

TEST(Schema, ValidateRequest) {
  auto s = ParseSchema(R"(
    entity Agent;
    entity Tool;
    action "tool.call" appliesTo {
      principal: Agent, resource: Tool,
      context: { args: { path?: String }, calls: Long, tags: Set<String> }
    };
  )");
  ASSERT_TRUE(s.ok()) << s.status();
  EntityUid agent{"Agent", "a"}, tool{"Tool", "t"}, call{"Action", "tool.call"};
  Record args;
  args.emplace("path", Value::String("/tmp"));
  Record ctx;
  ctx.emplace("args", Value::MakeRecord(args));
  ctx.emplace("calls", Value::Long(3));
  ctx.emplace("tags", Value::Set({Value::String("x")}));
  Value good = Value::MakeRecord(ctx);
  EXPECT_TRUE(ValidateRequest(*s, agent, call, tool, good).ok());
  EXPECT_THAT(ValidateRequest(*s, tool, call, tool, good).message(),
              HasSubstr("principal type Tool does not apply"));
  EXPECT_THAT(ValidateRequest(*s, agent, {"Action", "x"}, tool, good).message(),
              HasSubstr("not declared"));
  Record bad = ctx;
  bad["tags"] = Value::Set({Value::Long(1)});
  EXPECT_EQ(
      ValidateRequest(*s, agent, call, tool, Value::MakeRecord(bad)).message(),
      "context.tags[]: expected String, got long");
  bad = ctx;
  bad.erase("calls");
  EXPECT_THAT(
      ValidateRequest(*s, agent, call, tool, Value::MakeRecord(bad)).message(),
      HasSubstr("required attribute \"calls\""));
}

TEST(Schema, SyntaxErrorHasPosition) {
  auto s = ParseSchema("entity User = { name String };", "x.cedarschema");
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().message(),
            "x.cedarschema:1:22: expected ':', found 'String'");
}

}  // namespace
}  // namespace aikernel::policy
