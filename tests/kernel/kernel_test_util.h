// Shared by the kernel tests: an audit sink that keeps what it is given and
// can be told to fail or to stop accepting (thread-safe); a connected
// socketpair; principals built the way the ConnectionTable builds them; and
// a fixture deciding requests with the shipped policy set (config/).
#pragma once

#include <gtest/gtest.h>
#include <sys/socket.h>

#include <mutex>
#include <string>
#include <vector>

#include "audit/sink.h"
#include "common/unique_fd.h"
#include "kernel/cedar_authorizer.h"
#include "kernel/syscalls.h"

namespace aikernel::kernel::testutil {

class RecordingSink : public audit::Sink {
 public:
  StatusOr<uint64_t> Append(audit::Record r) override {
    std::lock_guard<std::mutex> lock(mu);
    if (fail_appends) return absl::UnavailableError("disk on fire");
    records.push_back(std::move(r));
    return records.size();
  }
  bool Accepting() const override { return accepting; }
  std::vector<audit::Record> Records() {
    std::lock_guard<std::mutex> lock(mu);
    return records;
  }

  std::mutex mu;
  std::vector<audit::Record> records;
  bool fail_appends = false;
  bool accepting = true;
};

// Both ends of a Unix socketpair: `server` plays the daemon's end.
struct Conn {
  UniqueFd server, client;
};

inline Conn Connect() {
  int sv[2];
  EXPECT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
  return {UniqueFd(sv[0]), UniqueFd(sv[1])};
}

// Agent `name` of node "node-a" (instance i-1), as the table would make it.
inline Principal AgentPrincipal(const std::string& name, uid_t uid = 65534) {
  Principal p;
  p.kind = Principal::Kind::kAgent;
  p.uid = uid;
  p.spiffe_id = "spiffe://node-a/agent/" + name;
  p.instance_id = "i-1";
  p.agent_name = name;
  return p;
}

inline Principal KindPrincipal(Principal::Kind k, uid_t uid) {
  Principal p;
  p.kind = k;
  p.uid = uid;
  return p;
}

// Decides requests on node "node-a" with the shipped policy set.
class ShippedPolicyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = policy::LoadPolicyStore(AIK_SOURCE_DIR "/config", kBuiltinPolicies);
    ASSERT_TRUE(s.ok()) << s.status();
    authz_.Install(*s);
  }
  Decision Decide(const Principal& p, Syscall s, const std::string& resource) const {
    AuthzRequest r;
    r.principal = &p;
    r.call = &Describe(s);
    r.resource = ParseResourceString(resource);
    r.node = "node-a";
    r.time_ns = 1'700'000'000'000'000'000;
    return authz_.Decide(r);
  }
  CedarAuthorizer authz_;
};

}  // namespace aikernel::kernel::testutil
