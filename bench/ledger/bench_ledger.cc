// bench_ledger: durable audit-ledger append throughput with group commit,
// the cost of each secondary index, and the time to verify 1,000,000
// records. Prints figures; asserts nothing.
//
//   bench_ledger [--seconds S] [--verify-records N] [--dir D]
//                [--only appends|index|verify|one] [--records N] [--keep]
// (--only one: N single-thread Append()s of a daemon-like record, NORMAL
// then FULL, e.g. to profile one append under callgrind.)
#include <stdlib.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <deque>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "audit/ledger.h"
#include "audit/reader.h"
#include "audit/verify.h"
#include "identity/node_key.h"
#include "store/database.h"

using namespace aikernel;
using Clock = std::chrono::steady_clock;

namespace {

double Seconds(Clock::duration d) {
  return std::chrono::duration<double>(d).count();
}

audit::Record MakeRecord(uint64_t i) {
  audit::Record r;
  r.time_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                  std::chrono::system_clock::now().time_since_epoch())
                  .count();
  r.node = "node-bench";
  r.principal = "spiffe://aikernel.local/agent/worker-" +
                std::to_string(i % 64) + "#" + std::to_string(i % 1000);
  r.action = i % 3 == 0 ? "fs.read" : (i % 3 == 1 ? "tool.call" : "memory.put");
  r.resource = "/var/lib/agents/data/file-" + std::to_string(i) + ".json";
  for (size_t k = 0; k < r.request_digest.size(); ++k) {
    r.request_digest[k] = static_cast<uint8_t>(i * 31 + k);
  }
  r.decision = i % 10 == 0 ? audit::Decision::kDeny : audit::Decision::kAllow;
  r.rule_ids = {"policy-" + std::to_string(i % 17)};
  r.code = i % 10 == 0 ? 7 : 0;
  r.latency_ns = 12345;
  return r;
}

struct Result {
  uint64_t records = 0;
  double seconds = 0;
  audit::LedgerStats stats;
};

// `threads` submitters for `seconds`. window == 1: each thread calls
// Append() and waits (a kernel call thread). window > 1: each thread keeps
// `window` AppendAsync() in flight.
Result RunAppends(const std::string& path, const identity::NodeKey* key,
                  audit::Synchronous sync, int threads, int window,
                  double seconds) {
  std::filesystem::remove(path);
  std::filesystem::remove(path + "-wal");
  std::filesystem::remove(path + "-shm");
  audit::LedgerOptions o;
  o.path = path;
  o.synchronous = sync;
  auto ledger = audit::Ledger::Open(o, key);
  if (!ledger.ok()) {
    std::fprintf(stderr, "open: %s\n",
                 std::string(ledger.status().message()).c_str());
    exit(1);
  }
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> done{0}, failed{0};
  std::vector<std::thread> ts;
  const auto start = Clock::now();
  for (int t = 0; t < threads; ++t) {
    ts.emplace_back([&, t] {
      uint64_t i = static_cast<uint64_t>(t) << 40;
      uint64_t mine = 0;
      if (window <= 1) {
        while (!stop.load(std::memory_order_relaxed)) {
          if ((*ledger)->Append(MakeRecord(i++)).ok())
            ++mine;
          else
            failed++;
        }
      } else {
        std::deque<std::future<StatusOr<uint64_t>>> inflight;
        while (!stop.load(std::memory_order_relaxed)) {
          while (inflight.size() < static_cast<size_t>(window)) {
            inflight.push_back((*ledger)->AppendAsync(MakeRecord(i++)));
          }
          if (inflight.front().get().ok())
            ++mine;
          else
            failed++;
          inflight.pop_front();
        }
        for (auto& f : inflight) {
          if (f.get().ok())
            ++mine;
          else
            failed++;
        }
      }
      done += mine;
    });
  }
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  stop = true;
  for (auto& t : ts) t.join();
  Result r;
  r.seconds = Seconds(Clock::now() - start);
  r.records = done.load();
  r.stats = (*ledger)->stats();
  (*ledger)->Close();
  if (failed.load() != 0)
    std::printf("    (%lu appends FAILED)\n", (unsigned long)failed.load());
  return r;
}

// Raw insert cost of the records table with a given set of indexes, batches
// of 4096 rows per transaction, synchronous=NORMAL.
double IndexCost(const std::string& path,
                 const std::vector<std::string>& indexes, int rows) {
  std::filesystem::remove(path);
  std::filesystem::remove(path + "-wal");
  std::filesystem::remove(path + "-shm");
  store::DatabaseOptions o;
  o.path = path;
  o.synchronous = store::Synchronous::kNormal;
  auto db = store::Database::Open(o);
  if (!db.ok()) exit(1);
  auto& d = **db;
  (void)d.Exec(
      "CREATE TABLE records(seq INTEGER PRIMARY KEY, time_ns INTEGER, node "
      "TEXT, "
      "principal TEXT, action TEXT, resource TEXT, request_digest BLOB, "
      "decision "
      "INTEGER, rule_ids TEXT, code INTEGER, latency_ns INTEGER, prev_hash "
      "BLOB, hash BLOB)");
  for (const auto& ix : indexes) (void)d.Exec(ix);
  auto st = d.Prepare(
      "INSERT INTO records VALUES "
      "(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13)");
  std::string blob(32, 'x');
  const auto start = Clock::now();
  for (int i = 1; i <= rows; ++i) {
    if (i % 4096 == 1) (void)d.Exec("BEGIN IMMEDIATE");
    audit::Record r = MakeRecord(i);
    (void)st->BindInt64(1, i);
    (void)st->BindInt64(2, r.time_ns);
    (void)st->BindText(3, r.node);
    (void)st->BindText(4, r.principal);
    (void)st->BindText(5, r.action);
    (void)st->BindText(6, r.resource);
    (void)st->BindBlob(7, blob);
    (void)st->BindInt64(8, 1);
    (void)st->BindText(9, "[\"policy-1\"]");
    (void)st->BindInt64(10, 0);
    (void)st->BindInt64(11, 1);
    (void)st->BindBlob(12, blob);
    (void)st->BindBlob(13, blob);
    (void)st->Run();
    if (i % 4096 == 0 || i == rows) (void)d.Exec("COMMIT");
  }
  return Seconds(Clock::now() - start) / rows * 1e9;  // ns per row
}

}  // namespace

int main(int argc, char** argv) {
  double seconds = 2.0;
  uint64_t verify_records = 1'000'000;
  uint64_t one_records = 20'000;
  std::string base;
  std::string only;   // appends | index | verify (default: all)
  bool keep = false;  // keep the temp dir (e.g. to inspect verify.db)
  for (int i = 1; i < argc; ++i) {
    if (!strcmp(argv[i], "--seconds") && i + 1 < argc)
      seconds = atof(argv[++i]);
    else if (!strcmp(argv[i], "--verify-records") && i + 1 < argc)
      verify_records = strtoull(argv[++i], nullptr, 10);
    else if (!strcmp(argv[i], "--records") && i + 1 < argc)
      one_records = strtoull(argv[++i], nullptr, 10);
    else if (!strcmp(argv[i], "--dir") && i + 1 < argc)
      base = argv[++i];
    else if (!strcmp(argv[i], "--only") && i + 1 < argc)
      only = argv[++i];
    else if (!strcmp(argv[i], "--keep"))
      keep = true;
  }
  std::string templ = (base.empty() ? std::string("/var/tmp") : base) +
                      "/aik-bench-ledger-XXXXXX";
  if (mkdtemp(templ.data()) == nullptr) {
    perror("mkdtemp");
    return 1;
  }
  const std::string dir = templ;
  auto key = identity::NodeKey::LoadOrCreate(dir + "/keys");
  if (!key.ok()) return 1;
  std::printf("bench_ledger: dir %s, %u cores, %.1f s per run\n\n", dir.c_str(),
              std::thread::hardware_concurrency(), seconds);

  if (only.empty() || only == "appends") {
    std::printf(
        "== durable appends, group commit (records/s; commits = "
        "transactions)\n");
    std::printf("%-7s %-28s %12s %10s %12s %10s\n", "sync", "submitters",
                "records/s", "commits", "recs/commit", "by caller");
    struct Cfg {
      int threads;
      int window;
    };
    const Cfg cfgs[] = {{1, 1},    {4, 1},    {16, 1},   {64, 1},
                        {1, 4096}, {4, 1024}, {16, 256}, {64, 64}};
    for (auto sync : {audit::Synchronous::kFull, audit::Synchronous::kNormal}) {
      for (const Cfg& c : cfgs) {
        Result r = RunAppends(dir + "/append.db", key->get(), sync, c.threads,
                              c.window, seconds);
        char who[64];
        if (c.window == 1) {
          std::snprintf(who, sizeof who, "%d threads, Append()", c.threads);
        } else {
          std::snprintf(who, sizeof who, "%d x %d AppendAsync()", c.threads,
                        c.window);
        }
        std::printf(
            "%-7s %-28s %12.0f %10lu %12.1f %10lu\n",
            sync == audit::Synchronous::kFull ? "FULL" : "NORMAL", who,
            r.records / r.seconds, (unsigned long)r.stats.commits,
            r.stats.commits ? double(r.records) / r.stats.commits : 0.0,
            (unsigned long)r.stats.led_by_caller);
        std::fflush(stdout);
      }
    }
  }

  if (only == "one") {
    // One thread, Append() of a record like the daemon's Admin.Ping, e.g.
    // under valgrind --tool=callgrind to count instructions per append.
    for (auto sync : {audit::Synchronous::kNormal, audit::Synchronous::kFull}) {
      const std::string path = dir + "/one.db";
      audit::LedgerOptions o;
      o.path = path;
      o.synchronous = sync;
      auto ledger = audit::Ledger::Open(o, key->get());
      if (!ledger.ok()) return 1;
      const uint64_t n = one_records;
      const auto start = Clock::now();
      for (uint64_t i = 0; i < n; ++i) {
        audit::Record r;
        r.time_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                        std::chrono::system_clock::now().time_since_epoch())
                        .count();
        r.node = "bench";
        r.principal = "operator:0";
        r.action = "admin.ping";
        r.decision = audit::Decision::kAllow;
        r.rule_ids = {"builtin/operator"};
        r.latency_ns = 1000;
        if (!(*ledger)->Append(std::move(r)).ok()) {
          std::printf("append failed\n");
          return 1;
        }
      }
      const double secs = Seconds(Clock::now() - start);
      std::printf("%-7s 1 thread, Append() x %lu: %.1f us each (%.0f/s)\n",
                  sync == audit::Synchronous::kFull ? "FULL" : "NORMAL",
                  (unsigned long)n, secs / n * 1e6, n / secs);
      (*ledger)->Close();
      std::filesystem::remove(path);
    }
  }

  if (only.empty() || only == "index") {
    std::printf(
        "\n== index cost (raw INSERT into records, 4096 rows/txn, NORMAL, 300k "
        "rows)\n");
    const std::string p = "CREATE INDEX ip ON records(principal)";
    const std::string a = "CREATE INDEX ia ON records(action)";
    const std::string t = "CREATE INDEX it ON records(time_ns)";
    struct IxCase {
      const char* name;
      std::vector<std::string> ix;
    };
    const IxCase cases[] = {{"no index", {}},
                            {"time_ns", {t}},
                            {"principal", {p}},
                            {"action", {a}},
                            {"all three", {p, a, t}}};
    for (const auto& c : cases) {
      double ns = IndexCost(dir + "/ix.db", c.ix, 300'000);
      std::printf("  %-12s %8.0f ns/row\n", c.name, ns);
      std::fflush(stdout);
    }
  }

  if (only.empty() || only == "verify") {
    std::printf("\n== verify %lu records\n", (unsigned long)verify_records);
    const std::string path = dir + "/verify.db";
    audit::LedgerOptions o;
    o.path = path;
    o.synchronous = audit::Synchronous::kNormal;
    auto ledger = audit::Ledger::Open(o, key->get());
    if (!ledger.ok()) return 1;
    const auto start = Clock::now();
    std::deque<std::future<StatusOr<uint64_t>>> inflight;
    int64_t tail_time_ns = 0, head_time_ns = 0, mid_time_ns = 0;
    for (uint64_t i = 1; i <= verify_records; ++i) {
      if (i == verify_records - verify_records / 10)
        tail_time_ns = MakeRecord(i).time_ns;
      if (i == verify_records / 10) head_time_ns = MakeRecord(i).time_ns;
      if (i == verify_records / 2) mid_time_ns = MakeRecord(i).time_ns;
      inflight.push_back((*ledger)->AppendAsync(MakeRecord(i)));
      if (inflight.size() >= 8192) {
        (void)inflight.front().get();
        inflight.pop_front();
      }
    }
    for (auto& f : inflight) (void)f.get();
    const int64_t tail_time = tail_time_ns;
    (*ledger)->Close();
    std::printf("  built in %.2f s (%.0f records/s, NORMAL)\n",
                Seconds(Clock::now() - start),
                verify_records / Seconds(Clock::now() - start));
    std::printf("  file size %.1f MB\n",
                std::filesystem::file_size(path) / 1e6);
    for (int run = 0; run < 3; ++run) {
      const auto vs = Clock::now();
      auto rep = audit::Verify({path, (*key)->PublicKeyPem()});
      const double s = Seconds(Clock::now() - vs);
      if (!rep.ok()) {
        std::printf("  verify error: %s\n",
                    std::string(rep.status().message()).c_str());
        break;
      }
      std::printf("  run %d: %.3f s  ok=%d records=%lu checkpoints=%lu %s\n",
                  run + 1, s, rep->ok, (unsigned long)rep->records,
                  (unsigned long)rep->checkpoints, rep->error.c_str());
    }
    auto reader = audit::Reader::Open(path);
    if (reader.ok()) {
      auto query = [&](const char* name, const audit::Filter& f) {
        uint64_t n = 0;
        const auto qs = Clock::now();
        auto r = (*reader)->Query(f, [&](const audit::Record&) {
          ++n;
          return true;
        });
        std::printf("  query %-40s %8.1f ms  (%lu records)\n", name,
                    Seconds(Clock::now() - qs) * 1e3,
                    (unsigned long)(r.ok() ? *r : 0));
      };
      audit::Filter f;
      f.principal = MakeRecord(123).principal;
      f.limit = 20;
      f.last = true;
      query("principal = X, last 20 (no index: scan)", f);
      f.limit = 0;
      f.last = false;
      query("principal = X, all (no index: scan)", f);
      audit::Filter a;
      a.action = "fs.read";
      a.limit = 20;
      a.last = true;
      query("action = fs.read, last 20 (no index: scan)", a);
      a.action = "no.such.action";
      query("action = rare, last 20 (no index: full scan)", a);
      audit::Filter t;
      t.since_ns = tail_time;
      t.limit = 100;
      query("since (newest 10%), first 100 (time marks)", t);
      t.limit = 0;
      query("since (newest 10%), all (time marks)", t);
      audit::Filter u;
      u.until_ns = head_time_ns;
      query("until (oldest 10%), all (time marks)", u);
      u.since_ns = mid_time_ns;
      u.until_ns = mid_time_ns + 20'000'000;  // 20 ms of records
      query("since..until (20 ms mid-ledger) (time marks)", u);
    }
  }
  if (keep) {
    std::printf("\nkept %s\n", dir.c_str());
  } else {
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }
  return 0;
}
