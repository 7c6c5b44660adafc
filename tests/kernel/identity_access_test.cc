// identity.* syscalls under the shipped policy set
// (config/policies/default.cedar): an agent fetches SVIDs for its own
// SPIFFE ID only and validates JWT-SVIDs; operators validate, read the
// bundle and rotate the CA but never fetch an SVID (no one may, but an agent
// for itself); users and anonymous peers get nothing.
#include <gtest/gtest.h>

#include <iterator>
#include <map>

#include "kernel/cedar_authorizer.h"
#include "kernel/identity_calls.h"
#include "kernel/kernel_test_util.h"

namespace aikernel::kernel {
namespace {

using testutil::AgentPrincipal;
using testutil::KindPrincipal;

const Syscall kIdentitySyscalls[] = {Syscall::kIdentityFetchX509, Syscall::kIdentityFetchJwt,
                                     Syscall::kIdentityValidateJwt, Syscall::kIdentityBundle,
                                     Syscall::kIdentityRotateCa};

class ShippedIdentityPolicy : public testutil::ShippedPolicyTest {};

TEST(IdentitySyscallTable, RowsNameTheirActionAndMethod) {
  const char* actions[] = {"identity.fetch_x509", "identity.fetch_jwt", "identity.validate_jwt",
                           "identity.bundle", "identity.rotate_ca"};
  const char* methods[] = {"FetchX509SVID", "FetchJWTSVID", "ValidateJWTSVID", "TrustBundle",
                           "RotateCA"};
  for (size_t i = 0; i < std::size(kIdentitySyscalls); ++i) {
    const SyscallInfo& info = Describe(kIdentitySyscalls[i]);
    EXPECT_EQ(info.service, Service::kIdentity);
    EXPECT_EQ(info.action, actions[i]);
    EXPECT_EQ(info.method, std::string("/aikernel.v1.Identity/") + methods[i]);
  }
  // The resources' ledger forms and their Cedar types.
  ResourceRef r = ParseResourceString(IdentityCalls::FetchResource(AgentPrincipal("web")));
  EXPECT_EQ(r.type, "SpiffeId");
  EXPECT_EQ(r.id, "spiffe://node-a/agent/web");
  EXPECT_EQ(IdentityCalls::FetchResource(KindPrincipal(Principal::Kind::kOperator, 0)), "spiffe-id:none");
  r = ParseResourceString("jwt-audience:svc");
  EXPECT_EQ(r.type, "JwtAudience");
  EXPECT_EQ(r.id, "svc");
  r = ParseResourceString("trust-domain:node-a");
  EXPECT_EQ(r.type, "TrustDomain");
}

// One row per (principal, syscall): allowed or not, and the deciding rule.
struct Row {
  const char* who;
  Syscall call;
  const char* resource;
  bool allow;
  const char* rule;
};

TEST_F(ShippedIdentityPolicy, Table) {
  const Principal alice = AgentPrincipal("alice");
  const Principal op = KindPrincipal(Principal::Kind::kOperator, 0);
  const Principal user = KindPrincipal(Principal::Kind::kUser, 1000);
  const Principal anon = Principal::Anonymous();
  const std::map<std::string, const Principal*> who = {
      {"alice", &alice}, {"operator", &op}, {"user", &user}, {"anonymous", &anon}};
  const std::string own = "spiffe-id:spiffe://node-a/agent/alice";
  const std::string bob = "spiffe-id:spiffe://node-a/agent/bob";
  const Row rows[] = {
      // An agent: its own SVIDs, nobody else's.
      {"alice", Syscall::kIdentityFetchX509, own.c_str(), true, "default.agents-own-svids"},
      {"alice", Syscall::kIdentityFetchJwt, own.c_str(), true, "default.agents-own-svids"},
      {"alice", Syscall::kIdentityFetchX509, bob.c_str(), false, "default.svids-only-for-self"},
      {"alice", Syscall::kIdentityFetchJwt, bob.c_str(), false, "default.svids-only-for-self"},
      {"alice", Syscall::kIdentityFetchJwt, "spiffe-id:spiffe://node-a/agent/alice2", false,
       "default.svids-only-for-self"},
      {"alice", Syscall::kIdentityFetchJwt, "spiffe-id:none", false,
       "default.svids-only-for-self"},
      {"alice", Syscall::kIdentityFetchJwt, "agent:alice", false, "default.svids-only-for-self"},
      {"alice", Syscall::kIdentityValidateJwt, "jwt-audience:svc", true,
       "default.agents-validate-jwt"},
      {"alice", Syscall::kIdentityBundle, "trust-domain:node-a", false, "default-deny"},
      {"alice", Syscall::kIdentityRotateCa, "trust-domain:node-a", false, "default-deny"},
      // Operators: everything but fetching an SVID.
      {"operator", Syscall::kIdentityFetchX509, "spiffe-id:none", false,
       "default.svids-only-for-self"},
      {"operator", Syscall::kIdentityFetchJwt, own.c_str(), false, "default.svids-only-for-self"},
      {"operator", Syscall::kIdentityValidateJwt, "jwt-audience:svc", true,
       "default.operators-administer"},
      {"operator", Syscall::kIdentityBundle, "trust-domain:node-a", true,
       "default.operators-administer"},
      {"operator", Syscall::kIdentityRotateCa, "trust-domain:node-a", true,
       "default.operators-administer"},
      // Users and anonymous peers: nothing.
      {"user", Syscall::kIdentityFetchX509, "spiffe-id:none", false,
       "default.svids-only-for-self"},
      {"user", Syscall::kIdentityValidateJwt, "jwt-audience:svc", false, "default-deny"},
      {"user", Syscall::kIdentityBundle, "trust-domain:node-a", false, "default-deny"},
      {"user", Syscall::kIdentityRotateCa, "trust-domain:node-a", false, "default-deny"},
      {"anonymous", Syscall::kIdentityFetchJwt, "spiffe-id:none", false,
       "default.svids-only-for-self"},
      {"anonymous", Syscall::kIdentityValidateJwt, "jwt-audience:svc", false, "default-deny"},
      {"anonymous", Syscall::kIdentityBundle, "trust-domain:node-a", false, "default-deny"},
      {"anonymous", Syscall::kIdentityRotateCa, "trust-domain:node-a", false, "default-deny"},
  };
  for (const Row& row : rows) {
    SCOPED_TRACE(std::string(row.who) + " " + std::string(Describe(row.call).action) + " " +
                 row.resource);
    Decision d = Decide(*who.at(row.who), row.call, row.resource);
    EXPECT_EQ(d.allow, row.allow) << d.reason;
    EXPECT_EQ(d.rule_ids, std::vector<std::string>{row.rule}) << d.reason;
    EXPECT_TRUE(d.error_ids.empty()) << d.error_messages[0];
  }
}

TEST_F(ShippedIdentityPolicy, AnAgentsOwnIdentityIsTheOneTheKernelBound) {
  // A user whose fields claim a SPIFFE ID is still a user; an agent without
  // one has no identity attribute and gets nothing.
  Principal user = KindPrincipal(Principal::Kind::kUser, 1000);
  user.spiffe_id = "spiffe://node-a/agent/alice";
  EXPECT_FALSE(Decide(user, Syscall::kIdentityFetchJwt,
                      IdentityCalls::FetchResource(user)).allow);
  Principal nameless = AgentPrincipal("x");
  nameless.spiffe_id.clear();
  EXPECT_FALSE(Decide(nameless, Syscall::kIdentityFetchJwt,
                      IdentityCalls::FetchResource(nameless)).allow);
  // Every identity syscall is denied for a principal no policy names.
  for (Syscall s : kIdentitySyscalls) {
    EXPECT_FALSE(Decide(Principal::Anonymous(), s, "node:node-a").allow) << Describe(s).action;
  }
}

}  // namespace
}  // namespace aikernel::kernel
