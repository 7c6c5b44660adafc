// The JSON Schema subset tool arguments are checked against: each keyword
// refuses what it should, and the error names the field.
#include "tools/json_schema.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace aikernel::tools {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;

const json kReadSchema = json::parse(R"({
  "type": "object",
  "properties": {
    "root": {"type": "string", "minLength": 1},
    "path": {"type": "string", "maxLength": 8, "pattern": "^[a-z./]+$"},
    "offset": {"type": "integer", "minimum": 0},
    "ratio": {"type": "number", "exclusiveMaximum": 1},
    "mode": {"enum": ["text", "base64"]},
    "tags": {"type": "array", "items": {"type": "string"}, "maxItems": 2},
    "headers": {"type": "object", "additionalProperties": {"type": "string"}}
  },
  "required": ["root", "path"],
  "additionalProperties": false
})");

std::string Error(const json& args) {
  Status s = ValidateArgs(kReadSchema, args);
  EXPECT_FALSE(s.ok()) << args.dump();
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  return std::string(s.message());
}

TEST(JsonSchema, AcceptsConformingArguments) {
  EXPECT_TRUE(ValidateArgs(kReadSchema, json::parse(R"({"root":"w","path":"a/b.txt",
    "offset": 3.0, "ratio": 0.5, "mode": "text", "tags": ["x"], "headers": {"A": "b"}})"))
                  .ok());
}

TEST(JsonSchema, EachKeywordRefusesAndNamesTheField) {
  EXPECT_EQ(Error(json::parse(R"({"path":"a"})")), "args: missing required field 'root'");
  EXPECT_EQ(Error(json::parse(R"({"root":"w","path":7})")),
            "args.path: expected string, got integer");
  EXPECT_THAT(Error(json::parse(R"({"root":"","path":"a"})")), HasSubstr("args.root: shorter"));
  EXPECT_THAT(Error(json::parse(R"({"root":"w","path":"abcdefghi"})")),
              HasSubstr("args.path: longer than 8"));
  EXPECT_THAT(Error(json::parse(R"({"root":"w","path":"A"})")),
              HasSubstr("args.path: does not match pattern"));
  EXPECT_THAT(Error(json::parse(R"({"root":"w","path":"a","offset":-1})")),
              HasSubstr("args.offset: -1 is less than 0"));
  EXPECT_THAT(Error(json::parse(R"({"root":"w","path":"a","offset":1.5})")),
              HasSubstr("args.offset: expected integer, got number"));
  EXPECT_THAT(Error(json::parse(R"({"root":"w","path":"a","ratio":1})")),
              HasSubstr("args.ratio: 1 is not less than 1"));
  EXPECT_THAT(Error(json::parse(R"({"root":"w","path":"a","mode":"hex"})")),
              HasSubstr("args.mode: \"hex\" is not one of"));
  EXPECT_THAT(Error(json::parse(R"({"root":"w","path":"a","tags":["x",2]})")),
              HasSubstr("args.tags[1]: expected string"));
  EXPECT_THAT(Error(json::parse(R"({"root":"w","path":"a","tags":["x","y","z"]})")),
              HasSubstr("args.tags: more than 2 items"));
  EXPECT_THAT(Error(json::parse(R"({"root":"w","path":"a","headers":{"A":1}})")),
              HasSubstr("args.headers.A: expected string"));
  EXPECT_THAT(Error(json::parse(R"({"root":"w","path":"a","extra":1})")),
              HasSubstr("args.extra: unknown field"));
  EXPECT_THAT(Error(json::parse(R"([1])")), HasSubstr("args: expected object, got array"));
}

TEST(JsonSchema, CombinatorsAndTypeLists) {
  json s = json::parse(R"({"anyOf":[{"type":"string"},{"type":"integer","minimum":5}]})");
  EXPECT_TRUE(ValidateArgs(s, "x").ok());
  EXPECT_TRUE(ValidateArgs(s, 7).ok());
  EXPECT_THAT(std::string(ValidateArgs(s, 3).message()), HasSubstr("matches none of anyOf"));
  json one = json::parse(R"({"oneOf":[{"type":"integer"},{"type":"number"}]})");
  EXPECT_FALSE(ValidateArgs(one, 3).ok()) << "3 is both an integer and a number";
  EXPECT_TRUE(ValidateArgs(one, 3.5).ok());
  json types = json::parse(R"({"type":["string","null"]})");
  EXPECT_TRUE(ValidateArgs(types, nullptr).ok());
  EXPECT_THAT(std::string(ValidateArgs(types, true).message()),
              HasSubstr("expected string or null, got boolean"));
}

TEST(JsonSchema, UnknownOrMalformedKeywordsRefuseNothing) {
  json s = json::parse(R"({"$ref":"#/x","format":"uri","required":3,"pattern":"(",
                           "type":"string"})");
  EXPECT_TRUE(ValidateArgs(s, "anything").ok());
}

TEST(JsonSchema, DeepSchemasStop) {
  json s = json::object();
  for (int i = 0; i < 100; ++i) s = json{{"allOf", json::array({s})}};
  Status st = ValidateArgs(s, 1);
  EXPECT_THAT(std::string(st.message()), HasSubstr("deeper than 64"));
}

}  // namespace
}  // namespace aikernel::tools
