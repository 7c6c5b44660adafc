#include <gmock/gmock.h>
#include <gtest/gtest.h>

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
