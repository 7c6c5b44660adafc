#include "identity/spiffe_id.h"

#include <gtest/gtest.h>

namespace aikernel::identity {
namespace {

TEST(SpiffeIdTest, AcceptsValidTrustDomains) {
  for (const char* td :
       {"node-a.example", "example.org", "a", "x_y-z.0", "aikernel.local"}) {
    EXPECT_TRUE(ValidateTrustDomain(td).ok()) << td;
  }
}

TEST(SpiffeIdTest, RefusesInvalidTrustDomains) {
  for (const char* td : {"", "Node-A.example", "node:8080", "user@node",
                         "node/a", "node a", "nöde"}) {
    Status s = ValidateTrustDomain(td);
    EXPECT_TRUE(absl::IsInvalidArgument(s)) << td;
  }
  EXPECT_FALSE(ValidateTrustDomain(std::string(256, 'a')).ok());
  EXPECT_TRUE(ValidateTrustDomain(std::string(255, 'a')).ok());
}

TEST(SpiffeIdTest, ParsesIds) {
  auto id = ParseSpiffeId("spiffe://node-a.example/agent/worker-1");
  ASSERT_TRUE(id.ok()) << id.status();
  EXPECT_EQ(id->trust_domain, "node-a.example");
  EXPECT_EQ(id->path, "/agent/worker-1");
  EXPECT_EQ(id->str(), "spiffe://node-a.example/agent/worker-1");
  auto td_only = ParseSpiffeId("spiffe://node-a.example");
  ASSERT_TRUE(td_only.ok());
  EXPECT_EQ(td_only->path, "");
}

TEST(SpiffeIdTest, RefusesInvalidIds) {
  for (const char* s :
       {"http://node-a.example/a", "SPIFFE://node-a.example/a",
        "spiffe://node-a.example/", "spiffe://node-a.example//a",
        "spiffe://node-a.example/a/", "spiffe://node-a.example/./a",
        "spiffe://node-a.example/a/..", "spiffe://node-a.example/a?x=1",
        "spiffe://node-a.example/a#f", "spiffe://node-a.example:80/a",
        "spiffe://u@node-a.example/a", "spiffe:///a", "spiffe://",
        "spiffe://node-a.example/a b", "spiffe://node-a.example/%41"}) {
    EXPECT_FALSE(ParseSpiffeId(s).ok()) << s;
  }
  EXPECT_FALSE(ParseSpiffeId("spiffe://a/" + std::string(2048, 'x')).ok());
}

TEST(SpiffeIdTest, WorkloadIdsNeedAPathInTheTrustDomain) {
  EXPECT_TRUE(ParseWorkloadId("spiffe://td/agent/a", "td").ok());
  EXPECT_FALSE(ParseWorkloadId("spiffe://td", "td").ok());
  EXPECT_FALSE(ParseWorkloadId("spiffe://other/agent/a", "td").ok());
}

TEST(SpiffeIdTest, AgentIds) {
  auto id = AgentSpiffeId("node-a.example", "worker");
  ASSERT_TRUE(id.ok());
  EXPECT_EQ(*id, "spiffe://node-a.example/agent/worker");
  EXPECT_FALSE(AgentSpiffeId("node-a.example", "a/b").ok());
  EXPECT_FALSE(AgentSpiffeId("node-a.example", "..").ok());
  EXPECT_FALSE(AgentSpiffeId("node-a.example", "").ok());
  EXPECT_FALSE(AgentSpiffeId("Bad", "worker").ok());
}

}  // namespace
}  // namespace aikernel::identity
