// fs.* builtins on real files: reads, atomic writes, listings, deletes under
// a root, and every way out refused: "..", absolute paths, symlinks leading
// in and out of the root, and a directory swapped for a symlink while calls
// run (raced from a thread).
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tools/builtin.h"

namespace aikernel::tools {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;
namespace fs = std::filesystem;

void Put(const std::string& path, const std::string& data) {
  std::ofstream(path, std::ios::binary) << data;
}

std::string Get(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

class FsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/aik-fs-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    root_ = dir_ + "/root";
    fs::create_directories(root_ + "/sub");
    fs::create_directories(dir_ + "/outside");
    Put(root_ + "/hello.txt", "hello\n");
    Put(root_ + "/sub/inner.txt", "inner");
    Put(dir_ + "/outside/secret.txt", "SECRET");
    BuiltinOptions o;
    o.fs_roots = {{"work", root_, true}, {"ro", root_, false}};
    o.fs_max_read_bytes = 64;
    o.fs_max_write_bytes = 64;
    auto p = BuiltinProvider::Create(o);
    ASSERT_TRUE(p.ok()) << p.status();
    provider_ = *p;
  }
  void TearDown() override { fs::remove_all(dir_); }

  StatusOr<json> Call(const std::string& tool, const json& args) {
    auto t = provider_->FindTool(tool);
    if (t == nullptr) return absl::NotFoundError(tool);
    AIK_ASSIGN_OR_RETURN(ToolResult r, provider_->Call(*t, args, CallContext{}));
    return r.content;
  }

  std::string dir_, root_;
  std::shared_ptr<BuiltinProvider> provider_;
};

TEST_F(FsTest, ReadsWritesListsStatsAndDeletes) {
  auto r = Call("fs.read", {{"root", "work"}, {"path", "hello.txt"}});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ((*r)["content"], "hello\n");
  EXPECT_EQ((*r)["size"], 6);
  EXPECT_EQ((*r)["eof"], true);

  auto w = Call("fs.write", {{"root", "work"}, {"path", "sub/new.txt"}, {"content", "new data"}});
  ASSERT_TRUE(w.ok()) << w.status();
  EXPECT_EQ(Get(root_ + "/sub/new.txt"), "new data");
  auto again = Call("fs.write", {{"root", "work"}, {"path", "sub/new.txt"}, {"content", "x"},
                                 {"overwrite", false}});
  EXPECT_EQ(again.status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(Get(root_ + "/sub/new.txt"), "new data");
  // No temp files are left behind.
  for (const auto& e : fs::directory_iterator(root_ + "/sub")) {
    EXPECT_EQ(e.path().filename().string().find(".aik-write-"), std::string::npos);
  }

  auto ls = Call("fs.list", {{"root", "work"}, {"path", "sub"}});
  ASSERT_TRUE(ls.ok()) << ls.status();
  ASSERT_EQ((*ls)["entries"].size(), 2u);
  EXPECT_EQ((*ls)["entries"][0]["name"], "inner.txt");
  EXPECT_EQ((*ls)["entries"][1]["name"], "new.txt");
  EXPECT_EQ((*ls)["entries"][1]["size"], 8);
  auto top = Call("fs.list", {{"root", "work"}});
  ASSERT_TRUE(top.ok()) << top.status();
  EXPECT_EQ((*top)["entries"].size(), 2u);

  auto st = Call("fs.stat", {{"root", "work"}, {"path", "sub"}});
  ASSERT_TRUE(st.ok()) << st.status();
  EXPECT_EQ((*st)["type"], "directory");

  ASSERT_TRUE(Call("fs.delete", {{"root", "work"}, {"path", "sub/new.txt"}}).ok());
  EXPECT_FALSE(fs::exists(root_ + "/sub/new.txt"));
  EXPECT_EQ(Call("fs.delete", {{"root", "work"}, {"path", "sub"}}).status().code(),
            absl::StatusCode::kFailedPrecondition)
      << "a directory with files is not deleted";
}

TEST_F(FsTest, BinaryNeedsBase64AndRoundTrips) {
  Put(root_ + "/bin", std::string("\x00\xff\x10", 3));
  auto text = Call("fs.read", {{"root", "work"}, {"path", "bin"}});
  EXPECT_EQ(text.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(text.status().message()), HasSubstr("base64"));
  auto b = Call("fs.read", {{"root", "work"}, {"path", "bin"}, {"encoding", "base64"}});
  ASSERT_TRUE(b.ok()) << b.status();
  auto w = Call("fs.write", {{"root", "work"}, {"path", "bin2"}, {"content", (*b)["content"]},
                             {"encoding", "base64"}});
  ASSERT_TRUE(w.ok()) << w.status();
  EXPECT_EQ(Get(root_ + "/bin2"), std::string("\x00\xff\x10", 3));
}

TEST_F(FsTest, SizeCapsHold) {
  Put(root_ + "/big", std::string(100, 'a'));
  auto whole = Call("fs.read", {{"root", "work"}, {"path", "big"}});
  EXPECT_EQ(whole.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(std::string(whole.status().message()), HasSubstr("offset and length"));
  auto part = Call("fs.read", {{"root", "work"}, {"path", "big"}, {"offset", 90}, {"length", 20}});
  ASSERT_TRUE(part.ok()) << part.status();
  EXPECT_EQ((*part)["bytes"], 10);
  EXPECT_EQ((*part)["eof"], true);
  auto w = Call("fs.write", {{"root", "work"}, {"path", "w"}, {"content", std::string(65, 'b')}});
  EXPECT_EQ(w.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_FALSE(fs::exists(root_ + "/w"));
}

TEST_F(FsTest, ReadOnlyRootsRefuseWrites) {
  auto w = Call("fs.write", {{"root", "ro"}, {"path", "x"}, {"content", "y"}});
  EXPECT_EQ(w.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(Call("fs.delete", {{"root", "ro"}, {"path", "hello.txt"}}).status().code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_TRUE(fs::exists(root_ + "/hello.txt"));
  EXPECT_EQ(Call("fs.read", {{"root", "nope"}, {"path", "x"}}).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(FsTest, NoWayOut) {
  fs::create_symlink(dir_ + "/outside", root_ + "/out");          // a symlink leading out
  fs::create_symlink("hello.txt", root_ + "/alias");               // one staying in
  fs::create_symlink("../outside/secret.txt", root_ + "/rel");    // relative, leading out
  struct Case {
    std::string tool, path;
  };
  for (const Case& c : std::vector<Case>{{"fs.read", "../outside/secret.txt"},
                                         {"fs.read", "sub/../../outside/secret.txt"},
                                         {"fs.read", dir_ + "/outside/secret.txt"},
                                         {"fs.read", "/etc/passwd"},
                                         {"fs.read", "out/secret.txt"},
                                         {"fs.read", "rel"},
                                         {"fs.read", "alias"},
                                         {"fs.stat", "out"},
                                         {"fs.list", "out"},
                                         {"fs.list", ".."},
                                         {"fs.write", "out/new.txt"},
                                         {"fs.write", "../escape.txt"},
                                         {"fs.delete", "out/secret.txt"},
                                         {"fs.delete", "../outside/secret.txt"}}) {
    json args = {{"root", "work"}, {"path", c.path}};
    if (c.tool == "fs.write") args["content"] = "pwned";
    auto r = Call(c.tool, args);
    EXPECT_FALSE(r.ok()) << c.tool << " " << c.path << " returned " << r->dump();
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument)
        << c.tool << " " << c.path << ": " << r.status();
    EXPECT_THAT(std::string(r.status().message()), HasSubstr("args.path"));
  }
  EXPECT_EQ(Get(dir_ + "/outside/secret.txt"), "SECRET");
  EXPECT_FALSE(fs::exists(dir_ + "/outside/new.txt"));
  EXPECT_FALSE(fs::exists(dir_ + "/escape.txt"));
  // Deleting a symlink inside the root removes the link, never its target.
  ASSERT_TRUE(Call("fs.delete", {{"root", "work"}, {"path", "out"}}).ok());
  EXPECT_TRUE(fs::exists(dir_ + "/outside/secret.txt"));
}

TEST_F(FsTest, ASymlinkSwappedInDuringCallsNeverLeadsOut) {
  // A thread exchanges root/swap (a real directory holding "secret.txt"
  // with harmless content) with root/link (a symlink to the outside
  // directory) as fast as it can (renameat2 RENAME_EXCHANGE, atomic), while
  // this thread reads root/swap/secret.txt.
  fs::create_symlink(dir_ + "/outside", root_ + "/link");
  fs::create_directories(root_ + "/swap");
  Put(root_ + "/swap/secret.txt", "inside");
  std::atomic<bool> stop{false};
  std::atomic<int> swaps{0};
  std::thread swapper([&] {
    const std::string swap = root_ + "/swap", link = root_ + "/link";
    while (!stop.load()) {
      if (renameat2(AT_FDCWD, swap.c_str(), AT_FDCWD, link.c_str(), RENAME_EXCHANGE) == 0) ++swaps;
    }
  });
  // At least 3000 reads, and on until the swap has hit a read both ways:
  // on a loaded machine the swapper may not run between the first 3000.
  int inside = 0, refused = 0, reads = 0;
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (reads < 3000 ||
         ((refused == 0 || inside == 0) && std::chrono::steady_clock::now() < give_up)) {
    auto r = Call("fs.read", {{"root", "work"}, {"path", "swap/secret.txt"}});
    ++reads;
    if (r.ok()) {
      ASSERT_EQ((*r)["content"], "inside") << "read escaped the root on attempt " << reads;
      ++inside;
    } else {
      ++refused;
    }
  }
  stop = true;
  swapper.join();
  EXPECT_GT(swaps.load(), 0);
  EXPECT_EQ(inside + refused, reads);
  EXPECT_GT(refused, 0) << "the race never hit the symlink (" << swaps << " swaps, " << reads
                        << " reads)";
  EXPECT_EQ(Get(dir_ + "/outside/secret.txt"), "SECRET");
}

TEST_F(FsTest, AMissingRootStopsStartUpNamingIt) {
  BuiltinOptions o;
  o.fs_roots = {{"gone", dir_ + "/does-not-exist", false}};
  auto p = BuiltinProvider::Create(o);
  EXPECT_EQ(p.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(p.status().message()), HasSubstr("root 'gone'"));
}

}  // namespace
}  // namespace aikernel::tools
