#include "identity/revocation.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <atomic>
#include <thread>
#include <vector>

#include "identity/identity_test_util.h"

namespace aikernel::identity {
namespace {

using ::aikernel::testing::TempDir;
using ::testing::HasSubstr;

const std::string kA = "spiffe://node-a.example/agent/a";
const std::string kB = "spiffe://node-a.example/agent/b";

TEST(RevocationTest, InstanceRevocationRefusesEveryCredentialOfThatInstance) {
  RevocationList list;
  EXPECT_TRUE(list.Check(kA, "i1", 100).ok());
  ASSERT_TRUE(list.RevokeInstance(kA, "i1", 200).ok());
  Status s = list.Check(kA, "i1", 100);
  EXPECT_TRUE(absl::IsUnauthenticated(s));
  EXPECT_THAT(s.message(), HasSubstr("revoked: instance i1"));
  EXPECT_FALSE(list.Check(kA, "i1", 300).ok());  // issued later: still refused
  EXPECT_TRUE(list.Check(kA, "i2", 100).ok());   // other instance
  EXPECT_TRUE(list.Check(kB, "i1", 100).ok());   // other agent, same id
  EXPECT_TRUE(list.Check(kA, "", 100).ok());     // no instance
  EXPECT_TRUE(list.IsInstanceRevoked(kA, "i1"));
  EXPECT_TRUE(absl::IsInvalidArgument(list.RevokeInstance(kA, "", 1)));
  EXPECT_TRUE(absl::IsInvalidArgument(list.RevokeInstance("", "i", 1)));
}

TEST(RevocationTest, SubjectCutoffIsInclusiveAndOnlyMovesForward) {
  RevocationList list;
  ASSERT_TRUE(list.RevokeSubjectBefore(kA, 1000).ok());
  EXPECT_FALSE(list.Check(kA, "i1", 999).ok());
  Status s = list.Check(kA, "", 1000);
  EXPECT_TRUE(absl::IsUnauthenticated(s));
  EXPECT_THAT(s.message(), HasSubstr("revoked: credentials for " + kA));
  EXPECT_TRUE(list.Check(kA, "i1", 1001).ok());
  EXPECT_TRUE(list.Check(kB, "i1", 999).ok());
  ASSERT_TRUE(list.RevokeSubjectBefore(kA, 500).ok());  // backwards: ignored
  EXPECT_EQ(list.SubjectCutoff(kA), 1000);
  ASSERT_TRUE(list.RevokeSubjectBefore(kA, 2000).ok());
  EXPECT_EQ(list.SubjectCutoff(kA), 2000);
  EXPECT_EQ(list.SubjectCutoff(kB), INT64_MIN);
}

TEST(RevocationTest, PruneForgetsEntriesNoCredentialCanMatch) {
  RevocationList list;
  ASSERT_TRUE(list.RevokeInstance(kA, "old", 100).ok());
  ASSERT_TRUE(list.RevokeInstance(kA, "new", 1000).ok());
  ASSERT_TRUE(list.RevokeSubjectBefore(kB, 100).ok());
  ASSERT_TRUE(list.Prune(/*now_s=*/1050, /*max_ttl_s=*/900).ok());
  EXPECT_FALSE(list.IsInstanceRevoked(kA, "old"));
  EXPECT_TRUE(list.IsInstanceRevoked(kA, "new"));
  EXPECT_EQ(list.SubjectCutoff(kB), INT64_MIN);
}

TEST(RevocationTest, PersistsAndReloads) {
  TempDir dir;
  const std::string path = dir.file("revocations.json");
  {
    auto list = RevocationList::Open(path);
    ASSERT_TRUE(list.ok()) << list.status();
    ASSERT_TRUE((*list)->RevokeInstance(kA, "i1", 100).ok());
    ASSERT_TRUE((*list)->RevokeSubjectBefore(kB, 200).ok());
  }
  struct stat st;
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  auto list = RevocationList::Open(path);
  ASSERT_TRUE(list.ok()) << list.status();
  EXPECT_TRUE((*list)->IsInstanceRevoked(kA, "i1"));
  EXPECT_EQ((*list)->SubjectCutoff(kB), 200);
  ASSERT_EQ((*list)->Instances().size(), 1u);
  EXPECT_EQ((*list)->Instances()[0].revoked_at_s, 100);
}

TEST(RevocationTest, AFailedWriteStillRevokesAndIsRetried) {
  TempDir dir;
  const std::string path = dir.file("sub/revocations.json");
  auto list = RevocationList::Open(path);
  ASSERT_TRUE(list.ok()) << list.status();
  Status s = (*list)->RevokeInstance(kA, "i1", 100);
  EXPECT_TRUE(absl::IsUnavailable(s)) << s;
  EXPECT_FALSE((*list)->Check(kA, "i1", 50).ok());  // in force anyway
  ASSERT_EQ(::mkdir(dir.file("sub").c_str(), 0700), 0);
  ASSERT_TRUE((*list)->RevokeInstance(kA, "i1", 100).ok());  // retried
  auto reloaded = RevocationList::Open(path);
  ASSERT_TRUE(reloaded.ok());
  EXPECT_TRUE((*reloaded)->IsInstanceRevoked(kA, "i1"));
}

TEST(RevocationTest, DamagedFileIsDataLoss) {
  TempDir dir;
  const std::string path = dir.file("revocations.json");
  testing::WriteFile(path, "{\"version\":1,\"instances\":[{\"id\":3}]}");
  EXPECT_TRUE(absl::IsDataLoss(RevocationList::Open(path).status()));
  testing::WriteFile(path, "not json");
  EXPECT_TRUE(absl::IsDataLoss(RevocationList::Open(path).status()));
}

TEST(RevocationTest, ConcurrentRevokeAndCheck) {
  RevocationList list;
  std::atomic<bool> stop{false};
  std::vector<std::thread> readers;
  std::atomic<int> refused{0};
  for (int t = 0; t < 3; ++t) {
    readers.emplace_back([&] {
      while (!stop.load()) {
        for (int i = 0; i < 100; ++i) {
          if (!list.Check(kA, "i" + std::to_string(i), 1).ok()) ++refused;
        }
      }
    });
  }
  for (int i = 0; i < 100; ++i) {
    ASSERT_TRUE(list.RevokeInstance(kA, "i" + std::to_string(i), 1).ok());
  }
  stop = true;
  for (auto& t : readers) t.join();
  for (int i = 0; i < 100; ++i) {
    EXPECT_FALSE(list.Check(kA, "i" + std::to_string(i), 1).ok());
  }
  EXPECT_EQ(list.Instances().size(), 100u);
}

}  // namespace
}  // namespace aikernel::identity
