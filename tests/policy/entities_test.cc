#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "policy/authorizer.h"
#include "policy/json.h"

namespace aikernel::policy {
namespace {

using ::testing::HasSubstr;

TEST(EntitiesJson, EscapesParentsAndTags) {
  auto es = EntitiesFromJsonText(R"([
    {"uid": {"__entity": {"type": "Agent", "id": "a1"}},
     "attrs": {"addr": {"__extn": {"fn": "ip", "arg": "10.0.0.1"}},
               "since": {"__extn": {"fn": "offset", "args": [
                   {"__extn": {"fn": "datetime", "arg": "2024-01-01"}},
                   {"__extn": {"fn": "duration", "arg": "1h"}}]}},
               "owner": {"__entity": {"type": "Operator", "id": "0"}},
               "plain": {"type": "Operator", "id": "0"}},
     "parents": [{"__entity": {"type": "Group", "id": "g"}}],
     "tags": {"tier": 2}}
  ])");
  ASSERT_TRUE(es.ok()) << es.status();
  const Entities::Node* a = es->Find({"Agent", "a1"});
  ASSERT_NE(a, nullptr);
  EXPECT_TRUE(a->entity.attrs.at("addr").is(Value::Kind::kIp));
  EXPECT_EQ(a->entity.attrs.at("since").as_datetime().ms,
            1'704'067'200'000 + 3'600'000);
  EXPECT_TRUE(a->entity.attrs.at("owner").is(Value::Kind::kEntity));
  // Without a schema, {"type","id"} stays a record.
  EXPECT_TRUE(a->entity.attrs.at("plain").is(Value::Kind::kRecord));
  EXPECT_EQ(a->entity.tags.at("tier").as_long(), 2);
  EXPECT_TRUE(es->InHierarchy({"Agent", "a1"}, {"Group", "g"}));
}

TEST(EntitiesJson, SchemaConformanceIsChecked) {
  auto schema = ParseSchema(R"(
    entity Group;
    entity Agent in [Group] = { name: String, addr?: ipaddr };
    entity Color enum ["red"];
    action read appliesTo { principal: Agent, resource: Agent, context: { n: Long } };
  )");
  ASSERT_TRUE(schema.ok()) << schema.status();
  auto bad = [&](const char* json) {
    auto es = EntitiesFromJsonText(json, &*schema);
    return es.ok() ? std::string("ok") : std::string(es.status().message());
  };
  EXPECT_EQ(
      bad(R"([{"uid": {"type": "Agent", "id": "a"}, "attrs": {"name": "x"}}])"),
      "ok");
  EXPECT_THAT(bad(R"([{"uid": {"type": "Agent", "id": "a"}, "attrs": {}}])"),
              HasSubstr("required attribute \"name\" is missing"));
  EXPECT_THAT(
      bad(R"([{"uid": {"type": "Agent", "id": "a"}, "attrs": {"name": 1}}])"),
      HasSubstr("schema expects String"));
  EXPECT_THAT(bad(R"([{"uid": {"type": "Agent", "id": "a"},
                       "attrs": {"name": "x", "extra": 1}}])"),
              HasSubstr("\"extra\" is not declared"));
  EXPECT_THAT(bad(R"([{"uid": {"type": "Agent", "id": "a"},
                       "attrs": {"name": "x", "addr": "nope"}}])"),
              HasSubstr("invalid IP address"));
  EXPECT_THAT(
      bad(R"([{"uid": {"type": "Agent", "id": "a"}, "attrs": {"name": "x"},
                       "parents": [{"type": "Agent", "id": "b"}]}])"),
      HasSubstr("does not allow a parent of type Agent"));
  EXPECT_THAT(bad(R"([{"uid": {"type": "Robot", "id": "r"}}])"),
              HasSubstr("entity type not declared"));
  EXPECT_THAT(bad(R"([{"uid": {"type": "Action", "id": "write"}}])"),
              HasSubstr("action not declared"));
  EXPECT_THAT(bad(R"([{"uid": {"type": "Color", "id": "blue"}}])"),
              HasSubstr("enumerated"));
  EXPECT_THAT(
      bad(R"([{"uid": {"type": "Group", "id": "g"}, "tags": {"a": "b"}}])"),
      HasSubstr("declares no tags"));

  EntityUid read{"Action", "read"};
  auto ctx = [&](const char* json) {
    auto c = ContextFromJson(*ParseJsonText(json), &*schema, &read);
    return c.ok() ? std::string("ok") : std::string(c.status().message());
  };
  EXPECT_EQ(ctx(R"({"n": 1})"), "ok");
  EXPECT_THAT(ctx(R"({})"), HasSubstr("required attribute \"n\""));
  EXPECT_THAT(ctx(R"({"n": 1, "m": 2})"), HasSubstr("\"m\" is not declared"));
}

TEST(Entities, LayerOverSharedBase) {
  auto base = EntitiesFromJsonText(R"([
    {"uid": {"type": "Group", "id": "writers"}, "parents": [{"type": "Group", "id": "all"}]},
    {"uid": {"type": "Group", "id": "all"}},
    {"uid": {"type": "Tool", "id": "fs.read"}, "attrs": {"risk": 1}}
  ])");
  ASSERT_TRUE(base.ok());
  auto shared = std::make_shared<const Entities>(std::move(*base));
  Entities call(shared);
  Entity agent;
  agent.uid = {"Agent", "spiffe://n/a1"};
  agent.parents = {{"Group", "writers"}};
  agent.attrs.emplace("budget", Value::Long(3));
  ASSERT_TRUE(call.Add(std::move(agent)).ok());
  call.Finalize();
  EXPECT_TRUE(call.InHierarchy({"Agent", "spiffe://n/a1"}, {"Group", "all"}));
  EXPECT_TRUE(call.InHierarchy({"Group", "writers"}, {"Group", "all"}));
  ASSERT_NE(call.Find({"Tool", "fs.read"}), nullptr);
  EXPECT_EQ(call.size(), 1u);
  EXPECT_EQ(shared->Find({"Agent", "spiffe://n/a1"}), nullptr);

  PolicySet ps;
  ASSERT_TRUE(ps.AddText(R"(permit(principal in Group::"all", action,
                                   resource == Tool::"fs.read")
                            when { principal.budget > resource.risk };)")
                  .ok());
  Request req;
  req.principal = {"Agent", "spiffe://n/a1"};
  req.action = {"Action", "tool.call"};
  req.resource = {"Tool", "fs.read"};
  EXPECT_EQ(Authorize(ps, req, call).decision, Decision::kAllow);
  EXPECT_EQ(Authorize(ps, req, *shared).decision, Decision::kDeny);
}

TEST(EntitiesJson, DeepNestingIsAnError) {
  std::string deep =
      "[{\"uid\": {\"type\": \"A\", \"id\": \"1\"}, \"attrs\": {\"x\": " +
      std::string(5000, '[') + std::string(5000, ']') + "}}]";
  auto es = EntitiesFromJsonText(deep);
  ASSERT_FALSE(es.ok());
  EXPECT_THAT(es.status().message(), HasSubstr("nested too deeply"));
}

TEST(EntitiesJson, Errors) {
  EXPECT_THAT(EntitiesFromJsonText("[{").status().message(),
              HasSubstr("malformed JSON"));
  EXPECT_THAT(EntitiesFromJsonText("{}").status().message(),
              HasSubstr("array"));
  EXPECT_THAT(EntitiesFromJsonText(R"([{"uid": {"type": "A", "id": "1"}},
                                       {"uid": {"type": "A", "id": "1"}}])")
                  .status()
                  .message(),
              HasSubstr("duplicate entity A::\"1\""));
  EXPECT_THAT(EntitiesFromJsonText(R"([{"uid": {"type": "A", "id": "1"},
                                        "attrs": {"x": 1.5}}])")
                  .status()
                  .message(),
              HasSubstr("floating-point"));
  EXPECT_FALSE(EntitiesFromJsonText(R"([{"uid": {"type": "A", "id": "1"},
      "attrs": {"x": {"__extn": {"fn": "ip", "arg": "nope"}}}}])")
                   .ok());
}

TEST(EntitiesJson, SchemaTypedValuesAndActions) {
  auto schema = ParseSchema(R"(
    entity Group;
    entity Agent in [Group] = { addr: ipaddr, owner: Agent, limits: { budget: decimal } };
    action "read" in ["any"] appliesTo { principal: Agent, resource: Agent,
                                         context: { at: datetime, peers: Set<ipaddr> } };
    action "any";
  )");
  ASSERT_TRUE(schema.ok()) << schema.status();
  auto es = EntitiesFromJsonText(R"([
    {"uid": {"type": "Agent", "id": "a"},
     "attrs": {"addr": "10.0.0.1", "owner": {"type": "Agent", "id": "b"},
               "limits": {"budget": "1.50"}}, "parents": []}
  ])",
                                 &*schema);
  ASSERT_TRUE(es.ok()) << es.status();
  const Record& attrs = es->Find({"Agent", "a"})->entity.attrs;
  EXPECT_TRUE(attrs.at("addr").is(Value::Kind::kIp));
  EXPECT_TRUE(attrs.at("owner").is(Value::Kind::kEntity));
  EXPECT_EQ(attrs.at("limits").as_record().at("budget").as_decimal().scaled,
            15000);
  // Action hierarchy comes from the schema.
  EXPECT_TRUE(es->InHierarchy({"Action", "read"}, {"Action", "any"}));

  EntityUid read{"Action", "read"};
  auto ctx_json = ParseJsonText(
      R"({"at": "2024-01-01T00:00:00Z", "peers": ["10.0.0.2", "::1"]})");
  auto ctx = ContextFromJson(*ctx_json, &*schema, &read);
  ASSERT_TRUE(ctx.ok()) << ctx.status();
  EXPECT_TRUE(ctx->as_record().at("at").is(Value::Kind::kDatetime));
  EXPECT_EQ(ctx->as_record().at("peers").as_set().size(), 2u);
  EXPECT_TRUE(ctx->as_record().at("peers").as_set()[0].is(Value::Kind::kIp));
}

}  // namespace
}  // namespace aikernel::policy
