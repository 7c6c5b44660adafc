// Durability: a child process does acknowledged puts and reports each
// acknowledged key on a pipe; the parent SIGKILLs it mid-stream, reopens
// the database and checks that every acknowledged key is there.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <set>

#include "memory/memory_test_util.h"

namespace aikernel::memory::testing {
namespace {

// Runs the helper with `sync`, kills it after `want` acknowledgements, and
// checks every acknowledged key after reopening.
void KillAndCheck(const char* sync, size_t want) {
  aikernel::testing::TempDir dir;
  const std::string db = dir.file("memory.db");
  std::string helper = AIK_MEMORY_HELPER;
  std::string threads = "4";
  std::string mode = sync;
  char* argv[] = {helper.data(), const_cast<char*>(db.c_str()), threads.data(),
                  mode.data(), nullptr};
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    // Only async-signal-safe calls between fork and exec.
    dup2(fds[1], 1);
    close(fds[0]);
    close(fds[1]);
    execv(argv[0], argv);
    _exit(127);
  }
  close(fds[1]);
  std::set<std::string> acked;
  std::string buf;
  char chunk[4096];
  // Reads once; moves each complete line of `buf` into `acked`. False at EOF.
  auto read_acks = [&] {
    ssize_t n = read(fds[0], chunk, sizeof chunk);
    if (n <= 0) return false;
    buf.append(chunk, static_cast<size_t>(n));
    size_t nl;
    while ((nl = buf.find('\n')) != std::string::npos) {
      acked.insert(buf.substr(0, nl));
      buf.erase(0, nl + 1);
    }
    return true;
  };
  while (acked.size() < want && read_acks()) {
  }
  kill(pid, SIGKILL);
  // Drain what was acknowledged before the kill took effect.
  while (read_acks()) {
  }
  close(fds[0]);
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFSIGNALED(status)) << "helper exited early, status " << status;
  ASSERT_GE(acked.size(), want);

  MemoryOptions o;
  o.path = db;
  auto m = Memory::Open(o);
  ASSERT_TRUE(m.ok()) << m.status();
  size_t missing = 0;
  for (const std::string& key : acked) {
    auto g = (*m)->Get("agent/durable", key);
    if (!g.ok()) {
      ++missing;
      ADD_FAILURE() << key << ": " << g.status();
      continue;
    }
    EXPECT_EQ(g->value, "v" + key.substr(key.find('-') + 1));
  }
  EXPECT_EQ(missing, 0u);
  const int64_t stored = (*m)->GetNamespace("agent/durable")->used_records;
  EXPECT_GE(stored, static_cast<int64_t>(acked.size()));
}

TEST(DurabilityTest, AcknowledgedPutsSurviveSigkill) {
  KillAndCheck("FULL", 400);
}

// synchronous=NORMAL skips the fsync; a process kill still loses nothing
// acknowledged (the OS holds the WAL pages). Power loss is another matter.
TEST(DurabilityTest, AcknowledgedPutsSurviveSigkillWithNormal) {
  KillAndCheck("NORMAL", 2000);
}

}  // namespace
}  // namespace aikernel::memory::testing
