#include "audit/record.h"

#include <gtest/gtest.h>

#include "audit/row.h"

namespace aikernel::audit {
namespace {

Record Sample() {
  Record r;
  r.sequence = 1;
  r.time_ns = 0x0102030405060708;
  r.node = "n";
  r.principal = "operator:0";
  r.action = "admin.status";
  r.resource = "";
  r.request_digest.fill(0xAA);
  r.decision = Decision::kAllow;
  r.rule_ids = {"p1", "p2"};
  r.code = -1;
  r.latency_ns = 5;
  r.prev_hash.fill(0);
  return r;
}

TEST(RecordTest, CanonicalEncodingLayout) {
  Record r = Sample();
  std::string e = CanonicalEncoding(r);
  std::string expect = "aikernel.audit.record.v1";
  expect += std::string("\0\0\0\0\0\0\0\1", 8);
  expect += std::string("\1\2\3\4\5\6\7\x08", 8);
  expect += std::string("\0\0\0\1n", 5);
  expect += std::string("\0\0\0\x0aoperator:0", 14);
  expect += std::string(
      "\0\0\0\x0c"
      "admin.status",
      16);
  expect += std::string("\0\0\0\0", 4);
  expect += std::string(32, '\xAA');
  expect += std::string("\1", 1);
  expect += std::string("\0\0\0\2", 4);
  expect += std::string("\0\0\0\2p1\0\0\0\2p2", 12);
  expect += std::string("\xff\xff\xff\xff", 4);
  expect += std::string("\0\0\0\0\0\0\0\5", 8);
  expect += std::string(32, '\0');
  EXPECT_EQ(
      ToHex(reinterpret_cast<const uint8_t*>(e.data()), e.size()),
      ToHex(reinterpret_cast<const uint8_t*>(expect.data()), expect.size()));
  // The hash field is not part of the encoding.
  r.hash.fill(1);
  EXPECT_EQ(CanonicalEncoding(r), e);
}

TEST(RecordTest, HashIsSha256OfEncoding) {
  // Known answer, computed independently with Python's hashlib over the
  // bytes of CanonicalEncodingLayout (docs/ledger-format.md).
  EXPECT_EQ(ToHex(ComputeHash(Sample())),
            "2737900604844a16f16e7aabe73b211ccb072f33c5321b54f8e45613b39ad03b");
}

TEST(RecordTest, EveryFieldChangesTheHash) {
  const Hash base = ComputeHash(Sample());
  std::vector<std::function<void(Record&)>> edits = {
      [](Record& r) { r.sequence = 2; },
      [](Record& r) { r.time_ns++; },
      [](Record& r) { r.node = "m"; },
      [](Record& r) { r.principal += "x"; },
      [](Record& r) { r.action = "admin.statut"; },
      [](Record& r) { r.resource = "x"; },
      [](Record& r) { r.request_digest[31] ^= 1; },
      [](Record& r) { r.decision = Decision::kDeny; },
      [](Record& r) { r.rule_ids = {"p1p2"}; },
      [](Record& r) {
        r.rule_ids = {"p1", "p2", ""};
      },
      [](Record& r) { r.code = 0; },
      [](Record& r) { r.latency_ns = 6; },
      [](Record& r) { r.prev_hash[0] = 1; },
      // Moving a byte across a field boundary must change the hash.
      [](Record& r) {
        r.node = "no";
        r.principal = "perator:0";
      },
  };
  for (size_t i = 0; i < edits.size(); ++i) {
    Record r = Sample();
    edits[i](r);
    EXPECT_NE(ComputeHash(r), base) << "edit " << i;
  }
}

TEST(RecordTest, CheckpointMessage) {
  Hash h;
  h.fill(0x11);
  std::string m = CheckpointMessage(258, h);
  EXPECT_EQ(m, std::string("aikernel.audit.checkpoint.v1") +
                   std::string("\0\0\0\0\0\0\1\2", 8) +
                   std::string(32, '\x11'));
}

TEST(RecordTest, RuleIdsRoundTripThroughJson) {
  std::vector<std::vector<std::string>> cases = {
      {},
      {""},
      {"a", "b"},
      {"quote\"back\\slash", "nl\n\ttab\x01", "utf8 \xc3\xa9\xe2\x82\xac"},
  };
  for (const auto& ids : cases) {
    std::string json = internal::EncodeRuleIds(ids);
    std::vector<std::string> back = {"stale", "values", "here", "x", "y"};
    ASSERT_TRUE(internal::DecodeRuleIds(json, &back)) << json;
    EXPECT_EQ(back, ids) << json;
  }
  EXPECT_EQ(internal::EncodeRuleIds({"a", "b"}), R"(["a","b"])");
  std::vector<std::string> out;
  EXPECT_TRUE(
      internal::DecodeRuleIds(R"( [ "\u00e9\ud83d\ude00" , "x" ] )", &out));
  EXPECT_EQ(out, (std::vector<std::string>{"\xc3\xa9\xf0\x9f\x98\x80", "x"}));
  for (const char* bad :
       {"", "[", "[\"a\"", "[\"a\",]", "{}", "[1]", "[\"a\"] x"}) {
    EXPECT_FALSE(internal::DecodeRuleIds(bad, &out)) << bad;
  }
}

TEST(RecordTest, HexAndNames) {
  uint8_t b[] = {0x00, 0xff, 0x1a};
  EXPECT_EQ(ToHex(b, 3), "00ff1a");
  EXPECT_STREQ(DecisionName(Decision::kAllow), "allow");
  EXPECT_STREQ(DecisionName(Decision::kDeny), "deny");
}

}  // namespace
}  // namespace aikernel::audit
