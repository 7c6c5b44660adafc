// memory_durability_helper <db> <threads> <FULL|NORMAL>: opens memory.db
// with that synchronous level and puts keys "k<thread>-<i>" = "v<i>" from
// <threads> threads forever; after each put is acknowledged it writes "<key>\n"
// to stdout (one write(2) per line, so lines never interleave). The test kills
// it with SIGKILL mid-stream.
#include <unistd.h>

#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include "memory/memory.h"

using namespace aikernel;

int main(int argc, char** argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: %s <db> <threads> <FULL|NORMAL>\n", argv[0]);
    return 2;
  }
  memory::MemoryOptions o;
  o.path = argv[1];
  o.synchronous = std::string(argv[3]) == "NORMAL" ? store::Synchronous::kNormal
                                                   : store::Synchronous::kFull;
  auto m = memory::Memory::Open(o);
  if (!m.ok()) {
    std::fprintf(stderr, "open: %s\n",
                 std::string(m.status().message()).c_str());
    return 1;
  }
  if (!(*m)->EnsureNamespace({"agent/durable"}).ok()) return 1;
  const int threads = std::atoi(argv[2]);
  std::vector<std::thread> ts;
  for (int t = 0; t < threads; ++t) {
    ts.emplace_back([&, t] {
      for (int i = 0;; ++i) {
        std::string key = "k" + std::to_string(t) + "-" + std::to_string(i);
        auto r = (*m)->Put("agent/durable", key, "v" + std::to_string(i));
        if (!r.ok()) {
          std::fprintf(stderr, "put: %s\n",
                       std::string(r.status().message()).c_str());
          _exit(1);
        }
        std::string line = key + "\n";
        if (write(1, line.data(), line.size()) !=
            static_cast<ssize_t>(line.size())) {
          _exit(1);
        }
      }
    });
  }
  for (auto& t : ts) t.join();
}
