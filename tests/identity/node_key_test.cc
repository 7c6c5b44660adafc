#include "identity/node_key.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>

#include "store/test_temp_dir.h"

namespace aikernel::identity {
namespace {

using testing::TempDir;

mode_t ModeOf(const std::string& path) {
  struct stat st;
  EXPECT_EQ(::stat(path.c_str(), &st), 0) << path;
  return st.st_mode & 07777;
}

TEST(NodeKeyTest, CreatesKeyFilesWithTightModes) {
  TempDir dir;
  const std::string keys = dir.file("keys");
  auto key = NodeKey::LoadOrCreate(keys);
  ASSERT_TRUE(key.ok()) << key.status();
  EXPECT_EQ(ModeOf(keys), 0700u);
  EXPECT_EQ(ModeOf(keys + "/node.key"), 0600u);
  EXPECT_EQ(ModeOf(keys + "/node.pub"), 0644u);
  EXPECT_EQ((*key)->PublicKeyRaw().size(), 32u);
  EXPECT_EQ((*key)->KeyId().size(), 16u);
  EXPECT_NE((*key)->PublicKeyPem().find("BEGIN PUBLIC KEY"), std::string::npos);
  std::ifstream pub(keys + "/node.pub");
  std::string pem((std::istreambuf_iterator<char>(pub)), {});
  EXPECT_EQ(pem, (*key)->PublicKeyPem());
  std::ifstream priv(keys + "/node.key");
  std::string priv_pem((std::istreambuf_iterator<char>(priv)), {});
  EXPECT_NE(priv_pem.find("BEGIN PRIVATE KEY"), std::string::npos);  // PKCS#8
}

TEST(NodeKeyTest, ReloadsTheSameKey) {
  TempDir dir;
  auto a = NodeKey::LoadOrCreate(dir.path());
  ASSERT_TRUE(a.ok()) << a.status();
  auto b = NodeKey::LoadOrCreate(dir.path());
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_EQ((*a)->PublicKeyRaw(), (*b)->PublicKeyRaw());
  EXPECT_EQ((*a)->KeyId(), (*b)->KeyId());
}

TEST(NodeKeyTest, SignsAndVerifies) {
  TempDir dir;
  auto key = NodeKey::LoadOrCreate(dir.path());
  ASSERT_TRUE(key.ok());
  auto sig = (*key)->Sign("hello");
  ASSERT_TRUE(sig.ok());
  EXPECT_EQ(sig->size(), 64u);
  const std::string pem = (*key)->PublicKeyPem();
  EXPECT_TRUE(*VerifyEd25519(pem, "hello", *sig));
  EXPECT_FALSE(*VerifyEd25519(pem, "hellO", *sig));
  std::string bad = *sig;
  bad[10] ^= 1;
  EXPECT_FALSE(*VerifyEd25519(pem, "hello", bad));
  EXPECT_FALSE(*VerifyEd25519(pem, "hello", "short"));
  auto id = KeyIdOfPem(pem);
  ASSERT_TRUE(id.ok());
  EXPECT_EQ(*id, (*key)->KeyId());
  TempDir other_dir;
  auto other = NodeKey::LoadOrCreate(other_dir.path());
  ASSERT_TRUE(other.ok());
  EXPECT_FALSE(*VerifyEd25519((*other)->PublicKeyPem(), "hello", *sig));
  EXPECT_NE((*other)->KeyId(), (*key)->KeyId());
}

TEST(NodeKeyTest, BadPemIsInvalidArgument) {
  auto r = VerifyEd25519("not a pem", "m", std::string(64, 'x'));
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(KeyIdOfPem("junk").status().code(),
            absl::StatusCode::kInvalidArgument);
}

class KeyModeTest : public ::testing::TestWithParam<mode_t> {};

TEST_P(KeyModeTest, RefusesGroupOrWorldAccessibleKeyFile) {
  TempDir dir;
  ASSERT_TRUE(NodeKey::LoadOrCreate(dir.path()).ok());
  const std::string path = dir.file("node.key");
  ASSERT_EQ(::chmod(path.c_str(), GetParam()), 0);
  auto key = NodeKey::LoadOrCreate(dir.path());
  ASSERT_FALSE(key.ok());
  EXPECT_EQ(key.status().code(), absl::StatusCode::kFailedPrecondition);
  char mode[8];
  snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(GetParam()));
  EXPECT_NE(key.status().message().find(path), absl::string_view::npos)
      << key.status();
  EXPECT_NE(key.status().message().find(mode), absl::string_view::npos)
      << key.status();
}

INSTANTIATE_TEST_SUITE_P(Modes, KeyModeTest,
                         ::testing::Values(0640, 0604, 0660, 0644, 0610, 0601));

TEST(NodeKeyTest, RefusesAWritableKeyDirectory) {
  TempDir dir;
  const std::string keys = dir.file("keys");
  ASSERT_EQ(::mkdir(keys.c_str(), 0777), 0);
  ASSERT_EQ(::chmod(keys.c_str(), 0777), 0);
  auto key = NodeKey::LoadOrCreate(keys);
  ASSERT_FALSE(key.ok());
  EXPECT_NE(key.status().message().find("0777"), absl::string_view::npos)
      << key.status();
}

TEST(NodeKeyTest, RefusesAGarbageKeyFile) {
  TempDir dir;
  {
    std::ofstream f(dir.file("node.key"));
    f << "garbage";
  }
  ASSERT_EQ(::chmod(dir.file("node.key").c_str(), 0600), 0);
  auto key = NodeKey::LoadOrCreate(dir.path());
  ASSERT_FALSE(key.ok());
  EXPECT_NE(key.status().message().find("node.key"), absl::string_view::npos);
}

}  // namespace
}  // namespace aikernel::identity
