// Memory syscalls under the shipped policy set (config/policies/default.cedar):
// operators everything; an agent read/write/search/delete on its own
// namespace Memory::"agent/<name>" only (never memory.admin, never a span
// Memories::"..."); users and anonymous peers nothing. And the kernel's
// memory access: an agent namespace is created by its first write, a
// shared one is not.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "kernel/cedar_authorizer.h"
#include "kernel/kernel.h"
#include "kernel/kernel_test_util.h"
#include "store/test_temp_dir.h"

namespace aikernel::kernel {
namespace {

using testutil::AgentPrincipal;
using testutil::KindPrincipal;

const Syscall kMemorySyscalls[] = {
    Syscall::kMemPut,           Syscall::kMemPutBatch,        Syscall::kMemGet,
    Syscall::kMemList,          Syscall::kMemHistory,         Syscall::kMemDelete,
    Syscall::kMemAppendEvent,   Syscall::kMemReadEvents,      Syscall::kMemPutDocument,
    Syscall::kMemGetDocument,   Syscall::kMemDeleteDocument,  Syscall::kMemSearch,
    Syscall::kMemGetNamespace,  Syscall::kMemListNamespaces,  Syscall::kMemCreateNamespace,
    Syscall::kMemSetQuota,      Syscall::kMemDropNamespace,   Syscall::kMemCompact,
    Syscall::kMemExport,        Syscall::kMemImport};

class ShippedPolicy : public testutil::ShippedPolicyTest {};

TEST(SyscallTable, MemoryRowsNameTheirActionAndMethod) {
  for (Syscall s : kMemorySyscalls) {
    const SyscallInfo& info = Describe(s);
    EXPECT_EQ(info.id, s);
    EXPECT_EQ(info.service, Service::kMemory);
    EXPECT_TRUE(info.method.starts_with("/aikernel.v1.Memory/")) << info.method;
    EXPECT_TRUE(info.action == "memory.read" || info.action == "memory.write" ||
                info.action == "memory.search" || info.action == "memory.delete" ||
                info.action == "memory.admin")
        << info.action;
  }
  EXPECT_EQ(Describe(Syscall::kMemPut).action, "memory.write");
  EXPECT_EQ(Describe(Syscall::kMemGet).action, "memory.read");
  EXPECT_EQ(Describe(Syscall::kMemSearch).action, "memory.search");
  EXPECT_EQ(Describe(Syscall::kMemDelete).action, "memory.delete");
  EXPECT_EQ(Describe(Syscall::kMemCreateNamespace).action, "memory.admin");
  EXPECT_EQ(Describe(Syscall::kMemSetQuota).action, "memory.admin");
  EXPECT_EQ(Describe(Syscall::kMemDropNamespace).action, "memory.admin");
  ResourceRef one = ParseResourceString("memory:agent/web");
  EXPECT_EQ(one.type, "Memory");
  EXPECT_EQ(one.id, "agent/web");
  ResourceRef span = ParseResourceString("memories:agent/");
  EXPECT_EQ(span.type, "Memories");
  EXPECT_EQ(span.id, "agent/");
}

TEST_F(ShippedPolicy, OperatorsMayCallEveryMemorySyscall) {
  for (Syscall s : kMemorySyscalls) {
    for (const char* res : {"memory:agent/a", "memory:shared/x", "memories:*", "memories:agent/"}) {
      Decision d = Decide(KindPrincipal(Principal::Kind::kOperator, 0), s, res);
      EXPECT_TRUE(d.allow) << Describe(s).action << " " << res << ": " << d.reason;
      EXPECT_EQ(d.rule_ids, std::vector<std::string>{"default.operators-administer"});
    }
  }
}

TEST_F(ShippedPolicy, AnAgentMayUseItsOwnNamespaceOnly) {
  const Principal alice = AgentPrincipal("alice");
  for (Syscall s : kMemorySyscalls) {
    const SyscallInfo& info = Describe(s);
    SCOPED_TRACE(std::string(info.method));
    Decision own = Decide(alice, s, "memory:agent/alice");
    if (info.action == "memory.admin") {
      EXPECT_FALSE(own.allow) << "an agent never administers namespaces";
      EXPECT_EQ(own.rule_ids, std::vector<std::string>{"default-deny"});
    } else {
      EXPECT_TRUE(own.allow) << own.reason;
      EXPECT_EQ(own.rule_ids, std::vector<std::string>{"default.agents-own-memory"});
    }
    for (const char* other :
         {"memory:agent/bob", "memory:agent/alice2", "memory:agent/alic", "memory:shared/alice",
          "memory:agent/alice/x", "memory:", "memories:agent/alice", "memories:agent/",
          "memories:*", "agent:alice", "node:node-a"}) {
      Decision d = Decide(alice, s, other);
      EXPECT_FALSE(d.allow) << " on " << other;
      EXPECT_EQ(d.rule_ids, std::vector<std::string>{"default-deny"}) << other;
      EXPECT_TRUE(d.error_ids.empty()) << other << ": " << d.error_messages[0];
      EXPECT_NE(d.reason.find(alice.Id()), std::string::npos) << d.reason;
    }
  }
  // The name is the one the kernel bound at spawn: an agent without one has
  // no namespace, and a user with one is still a user.
  EXPECT_FALSE(Decide(AgentPrincipal(""), Syscall::kMemGet, "memory:agent/").allow);
  Principal user = KindPrincipal(Principal::Kind::kUser, 1000);
  user.agent_name = "alice";
  EXPECT_FALSE(Decide(user, Syscall::kMemGet, "memory:agent/alice").allow);
  // Not Admin either.
  EXPECT_FALSE(Decide(alice, Syscall::kAdminStatus, "node:node-a").allow);
}

TEST_F(ShippedPolicy, UsersAndAnonymousPeersGetNoMemory) {
  const Principal user = KindPrincipal(Principal::Kind::kUser, 1000);
  const Principal anon = Principal::Anonymous();
  for (Syscall s : kMemorySyscalls) {
    for (const Principal* p : {&user, &anon}) {
      Decision d = Decide(*p, s, "memory:agent/alice");
      EXPECT_FALSE(d.allow) << p->Id() << " " << Describe(s).method;
      EXPECT_EQ(d.rule_ids, std::vector<std::string>{"default-deny"});
      EXPECT_NE(d.reason.find("Memory::\"agent/alice\""), std::string::npos) << d.reason;
    }
  }
}

TEST_F(ShippedPolicy, AnOperatorsPolicyCanOpenASharedNamespaceToAGroup) {
  // What docs/memory.md suggests for shared/ namespaces, beside the shipped
  // set.
  testing::TempDir dir;
  std::filesystem::create_directories(dir.file("policies"));
  std::filesystem::copy_file(AIK_SOURCE_DIR "/config/policies/default.cedar",
                             dir.file("policies/default.cedar"));
  std::ofstream(dir.file("policies/research.cedar"))
      << "permit (principal in Group::\"research\", action in [Action::\"memory.read\", "
         "Action::\"memory.search\"], resource == Memory::\"shared/papers\");\n";
  auto store = policy::LoadPolicyStore(dir.path(), kBuiltinPolicies);
  ASSERT_TRUE(store.ok()) << store.status();
  authz_.Install(*store);
  Principal alice = AgentPrincipal("alice");
  alice.agent_groups = {"research"};
  EXPECT_TRUE(Decide(alice, Syscall::kMemSearch, "memory:shared/papers").allow);
  EXPECT_FALSE(Decide(alice, Syscall::kMemPut, "memory:shared/papers").allow);
  EXPECT_FALSE(Decide(AgentPrincipal("bob"), Syscall::kMemGet, "memory:shared/papers").allow);
  EXPECT_TRUE(Decide(alice, Syscall::kMemPut, "memory:agent/alice").allow);
}

class KernelMemoryTest : public ::testing::Test {
 protected:
  void Open() {
    memory::MemoryOptions o;
    o.path = dir.file("memory.db");
    o.default_max_records = 7;
    auto m = memory::Memory::Open(o);
    ASSERT_TRUE(m.ok()) << m.status();
    mem = *std::move(m);
  }
  std::unique_ptr<Kernel> MakeKernel(memory::Memory* m) {
    KernelDeps deps;
    deps.connections = &table;
    deps.memory = m;
    return std::make_unique<Kernel>(KernelInfo{}, deps);
  }
  testing::TempDir dir;
  ConnectionTable table;
  std::unique_ptr<memory::Memory> mem;
};

TEST_F(KernelMemoryTest, WithoutMemoryTheSyscallsAreUnavailable) {
  auto k = MakeKernel(nullptr);
  EXPECT_EQ(k->Memory().status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(k->MemoryForWrite("agent/a").status().code(), absl::StatusCode::kUnavailable);
}

TEST_F(KernelMemoryTest, AnAgentNamespaceIsCreatedByItsFirstWriteASharedOneIsNot) {
  Open();
  auto k = MakeKernel(mem.get());
  ASSERT_EQ(mem->GetNamespace("agent/a").status().code(), absl::StatusCode::kNotFound);
  auto m = k->MemoryForWrite("agent/a");
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ(*m, mem.get());
  auto info = mem->GetNamespace("agent/a");
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_EQ(info->max_records, 7) << "created with the configured default quota";
  // Again: the existing namespace is kept as it is.
  ASSERT_TRUE(mem->SetQuota("agent/a", 0, 3).ok());
  ASSERT_TRUE(k->MemoryForWrite("agent/a").ok());
  EXPECT_EQ(mem->GetNamespace("agent/a")->max_records, 3);

  ASSERT_TRUE(k->MemoryForWrite("shared/s").ok());
  EXPECT_EQ(mem->GetNamespace("shared/s").status().code(), absl::StatusCode::kNotFound)
      << "shared namespaces are created by operators only";
  EXPECT_EQ(k->MemoryForWrite("agent/bad name").status().code(),
            absl::StatusCode::kInvalidArgument);
  // Reads never create.
  ASSERT_TRUE(k->Memory().ok());
  EXPECT_EQ(mem->GetNamespace("agent/b").status().code(), absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace aikernel::kernel
