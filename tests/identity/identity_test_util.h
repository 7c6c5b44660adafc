// Helpers for the identity tests: a settable clock, a NodeCA in a temp dir,
// and running the openssl / node command-line tools as subprocesses.
#pragma once

#include <stdio.h>
#include <sys/wait.h>

#include <atomic>
#include <fstream>
#include <memory>
#include <string>

#include "identity/ca.h"
#include "store/test_temp_dir.h"

namespace aikernel::identity::testing {

// Starts at the real time (so certificates are valid for the openssl CLI,
// which checks against its own clock) and moves only when told.
class FakeClock {
 public:
  FakeClock() : ns_(SystemNowNs()) {}
  int64_t NowNs() const { return ns_.load(); }
  int64_t NowS() const { return ns_.load() / 1000000000; }
  void Advance(int64_t seconds) { ns_ += seconds * 1000000000; }
  NowFn Fn() {
    return [this] { return ns_.load(); };
  }

 private:
  std::atomic<int64_t> ns_;
};

struct CommandResult {
  int exit_code = -1;
  std::string output;  // stdout and stderr
};

// Runs `command` under /bin/sh, capturing stdout and stderr.
inline CommandResult RunCommand(const std::string& command) {
  CommandResult r;
  FILE* p = ::popen((command + " 2>&1").c_str(), "r");
  if (p == nullptr) return r;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) r.output.append(buf, n);
  int status = ::pclose(p);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

inline void WriteFile(const std::string& path, const std::string& data) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << data;
}

inline std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), {});
}

// An agent id in CaOptions' trust domain.
inline const std::string kAgent = "spiffe://node-a.example/agent/worker";

inline NodeCA::Options CaOptions(const std::string& keys_dir, FakeClock& clock,
                                 RevocationList* revocations = nullptr) {
  NodeCA::Options o;
  o.keys_dir = keys_dir;
  o.trust_domain = "node-a.example";
  o.now_ns = clock.Fn();
  o.revocations = revocations;
  return o;
}

}  // namespace aikernel::identity::testing
