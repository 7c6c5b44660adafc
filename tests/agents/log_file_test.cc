#include "agents/log_file.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

namespace aikernel::agents {
namespace {

class LogFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/aik-log-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string Read(const std::string& p) {
    std::ifstream in(p);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
  }
  std::string dir_;
};

TEST_F(LogFileTest, RotatesBySizeKeepingN) {
  LogFile log(dir_ + "/sub/a.log", 10, 2);
  ASSERT_TRUE(log.Write("0123456789").ok());  // creates sub/
  ASSERT_TRUE(log.Write("abc").ok());         // would pass 10: rotate first
  ASSERT_TRUE(log.Write("defghij").ok());
  ASSERT_TRUE(log.Write("XYZ").ok());
  EXPECT_EQ(Read(dir_ + "/sub/a.log"), "XYZ");
  EXPECT_EQ(Read(dir_ + "/sub/a.log.1"), "abcdefghij");
  EXPECT_EQ(Read(dir_ + "/sub/a.log.2"), "0123456789");
  ASSERT_TRUE(log.Write("0123456789").ok());
  EXPECT_EQ(Read(dir_ + "/sub/a.log.2"), "abcdefghij");  // the oldest was dropped
  EXPECT_EQ(log.Files().size(), 3u);
  log.RemoveAll();
  EXPECT_TRUE(log.Files().empty());
}

TEST_F(LogFileTest, KeepZeroTruncates) {
  LogFile log(dir_ + "/b.log", 5, 0);
  ASSERT_TRUE(log.Write("12345").ok());
  ASSERT_TRUE(log.Write("67").ok());
  EXPECT_EQ(Read(dir_ + "/b.log"), "67");
  EXPECT_FALSE(std::filesystem::exists(dir_ + "/b.log.1"));
}

TEST_F(LogFileTest, FollowReadsTailAndAcrossRotation) {
  LogFile log(dir_ + "/c.log", 8, 1);
  ASSERT_TRUE(log.Write("hello\n").ok());
  LogNotifier notifier;
  std::string got;
  std::mutex mu;
  std::atomic<bool> stop{false};
  std::thread follower([&] {
    FollowOptions o;
    o.follow = true;
    o.tail_bytes = 3;
    Status s = FollowLog(dir_ + "/c.log", o, &notifier,
                         [&](const std::string& d) {
                           std::lock_guard<std::mutex> l(mu);
                           got += d;
                           return true;
                         },
                         [&] { return stop.load(); });
    EXPECT_TRUE(s.ok()) << s;
  });
  auto wait_for = [&](const std::string& want) {
    for (int i = 0; i < 200; ++i) {
      {
        std::lock_guard<std::mutex> l(mu);
        if (got == want) return true;
      }
      notifier.Notify();
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    std::lock_guard<std::mutex> l(mu);
    ADD_FAILURE() << "follower has '" << got << "', want '" << want << "'";
    return false;
  };
  wait_for("lo\n");
  ASSERT_TRUE(log.Write("ab").ok());
  notifier.Notify();
  wait_for("lo\nab");
  ASSERT_TRUE(log.Write("rotated").ok());  // 8 + 7 > 8: a new file
  notifier.Notify();
  wait_for("lo\nabrotated");
  stop = true;
  follower.join();
}

}  // namespace
}  // namespace aikernel::agents
