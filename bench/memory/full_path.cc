// bench_memory's full-path part: only SDK headers here (the daemon's
// internal aikernel::Status would clash with the SDK's).
#include <cstdio>
#include <cstdlib>
#include <memory>

#include "aikernel/client.h"
#include "bench/common/bench_daemon.h"
#include "bench/memory/measure.h"

namespace aikernel::bench {

std::vector<PathRow> MeasureFullPath(const std::string& aikerneld, const std::string& dir,
                                     double seconds,
                                     const std::function<Cell(bool full, int clients)>& library) {
  std::vector<PathRow> rows;
  for (const char* mode : {"full", "normal"}) {
    BenchDaemon d(aikerneld, dir + "/daemon-" + mode,
                  std::string("[node]\nname = \"bench\"\n[daemon]\nlog_level = \"warn\"\n"
                              "[audit]\nsynchronous = \"") +
                      mode + "\"\n[memory]\nsynchronous = \"" + mode +
                      "\"\ndefault_max_bytes = 0\ndefault_max_records = 0\n",
                  {"--policy-dir", AIK_POLICY_DIR});
    for (int threads : {1, 4}) {
      std::vector<std::unique_ptr<Client>> clients;  // one connection per thread
      for (int t = 0; t < threads; ++t) {
        ClientOptions o;
        o.socket_path = d.socket();
        auto c = Client::Connect(o);
        if (!c.ok()) DieWith("connect: " + c.status().ToString());
        clients.push_back(std::move(*c));
      }
      const std::string value(200, 'v');
      const std::string ns = "agent/bench" + std::to_string(threads);
      PathRow row;
      row.mode = mode;
      row.clients = threads;
      row.library = library(row.mode == "full", threads);
      row.put = MeasureLoop(threads, seconds, [&](int t, uint64_t i) {
        auto r = clients[t]->MemoryPut(
            ns, "key/" + std::to_string(t) + "/" + std::to_string(i), value);
        return r.ok() ? std::string() : r.status().ToString();
      });
      row.ping = MeasureLoop(threads, seconds, [&](int t, uint64_t) {
        auto r = clients[t]->Ping("bench");
        return r.ok() ? std::string() : r.status().ToString();
      });
      rows.push_back(std::move(row));
    }
  }
  return rows;
}

}  // namespace aikernel::bench
