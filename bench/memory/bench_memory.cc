// bench_memory: the memory library's figures against the targets
// (2-core machines), each next to a peer measured in the same run where one
// is meaningful. Prints; asserts nothing.
//
//   bench_memory [--docs N] [--dim D] [--queries Q] [--seconds S]
//                [--dir D] [--only put|path|import|fts|vector|hybrid]
//                [--aikerneld PATH]
//
// Library level (no RPC, policy or audit), except "put" also measures the
// full path: puts from SDK clients through a real aikerneld started here
// (authorization and the audit record included), printed next to the
// library figure of the same run ("path" runs only that part).
#include <fcntl.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <functional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "bench/memory/measure.h"
#include "memory/internal.h"  // Base64Encode for building import input
#include "memory/memory.h"
#include "memory/vector_index.h"

using namespace aikernel;
using namespace aikernel::memory;
using Clock = std::chrono::steady_clock;

namespace {

struct Args {
  size_t docs = 100000;
  size_t dim = 384;
  size_t queries = 200;
  double seconds = 3;
  std::string dir;
  std::string only;
  std::string aikerneld = AIK_AIKERNELD_PATH;
};

double Ms(Clock::duration d) {
  return std::chrono::duration<double, std::milli>(d).count();
}

// CPU time of this thread / this process, in ms: on a shared, loaded
// machine wall-clock percentiles include time spent waiting for a core.
double ThreadCpuMs() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}
double ProcessCpuMs() {
  timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

double Pct(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t i = static_cast<size_t>(std::ceil(p / 100.0 * v.size())) - 1;
  return v[std::min(i, v.size() - 1)];
}

void Die(const Status& s, const char* what) {
  if (s.ok()) return;
  std::fprintf(stderr, "%s: %s\n", what, std::string(s.message()).c_str());
  exit(1);
}

void RemoveDb(const std::string& path) {
  for (const char* suffix : {"", "-wal", "-shm"}) {
    std::filesystem::remove(path + suffix);
  }
}

std::unique_ptr<Memory> OpenMem(
    const std::string& path, bool fresh, size_t quantize_min_rows = 20000,
    store::Synchronous sync = store::Synchronous::kFull) {
  if (fresh) RemoveDb(path);
  MemoryOptions o;
  o.path = path;
  o.synchronous = sync;
  o.default_max_bytes = 0;
  o.default_max_records = 0;
  o.quantize_min_rows = quantize_min_rows;
  auto m = Memory::Open(o);
  Die(m.status(), "open");
  return std::move(*m);
}

// ---- durable puts ----

// Library-level durable puts of 200-byte values from `threads` threads
// into a fresh database.
aikernel::bench::Cell LibraryPuts(const Args& a, store::Synchronous sync,
                                  int threads) {
  auto m = OpenMem(a.dir + "/put.db", true, 20000, sync);
  Die(m->CreateNamespace({"agent/bench"}).status(), "ns");
  const std::string value(200, 'v');
  aikernel::bench::Cell c =
      aikernel::bench::MeasureLoop(threads, a.seconds, [&](int t, uint64_t i) {
        auto r = m->Put("agent/bench",
                        "key/" + std::to_string(t) + "/" + std::to_string(i),
                        value);
        return r.ok() ? std::string() : r.status().ToString();
      });
  Die(c.errors ? absl::InternalError(c.first_error) : absl::OkStatus(), "put");
  return c;
}

void BenchPuts(const Args& a) {
  std::printf("\n== durable put (synchronous=FULL, library level) ==\n");
  // The floor under any durable commit: one fdatasync of this disk. Measured
  // twice: with the CPUs otherwise idle, and with one thread spinning. On
  // these VMs a thread blocked in fdatasync on an idle vCPU is woken on the
  // next timer tick (4 ms), on a busy one at once; the daemon's threads keep
  // a vCPU busy, a lone library writer does not.
  for (bool spin : {false, true}) {
    std::atomic<bool> spinning{spin};
    std::thread spinner([&] {
      while (spinning.load(std::memory_order_relaxed)) {
      }
    });
    const std::string f = a.dir + "/fsync.probe";
    int fd = open(f.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    std::vector<double> lat;
    char block[4096] = {};
    for (int i = 0; i < 100; ++i) {
      if (write(fd, block, sizeof block) != sizeof block) break;
      auto t0 = Clock::now();
      fdatasync(fd);
      lat.push_back(Ms(Clock::now() - t0));
    }
    close(fd);
    unlink(f.c_str());
    spinning = false;
    spinner.join();
    std::printf(
        "disk: fdatasync of 4 KiB p50 %.3f ms, p99 %.3f ms (%s; the "
        "floor of a synchronous=FULL commit)\n",
        Pct(lat, 50), Pct(lat, 99),
        spin ? "one thread spinning" : "CPUs otherwise idle");
  }
  std::printf("%-16s %10s %10s %10s   target\n", "mode / clients", "p50 ms",
              "p99 ms", "puts/s");
  for (auto [sync, threads] : {std::pair{store::Synchronous::kFull, 1},
                               std::pair{store::Synchronous::kFull, 4},
                               std::pair{store::Synchronous::kNormal, 1},
                               std::pair{store::Synchronous::kNormal, 4}}) {
    aikernel::bench::Cell c = LibraryPuts(a, sync, threads);
    std::printf("%-6s %9d %10.3f %10.3f %10.0f   %s\n",
                sync == store::Synchronous::kFull ? "FULL" : "NORMAL", threads,
                c.p50, c.p99, c.rate,
                sync == store::Synchronous::kFull
                    ? "p50 < 1 ms (full path)"
                    : "(kill -9 safe, not power-loss safe)");
  }
  // Peer: one INSERT per transaction on a plain SQLite connection with the
  // same pragmas (what a put costs without group commit or the library).
  {
    const std::string path = a.dir + "/peer.db";
    RemoveDb(path);
    sqlite3* db;
    sqlite3_open(path.c_str(), &db);
    sqlite3_exec(db,
                 "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; CREATE "
                 "TABLE kv(k TEXT PRIMARY KEY, v BLOB)",
                 nullptr, nullptr, nullptr);
    sqlite3_stmt* st;
    sqlite3_prepare_v2(db, "INSERT INTO kv VALUES (?, ?)", -1, &st, nullptr);
    std::vector<double> lat;
    const std::string value(200, 'v');
    auto start = Clock::now();
    for (int i = 0; Ms(Clock::now() - start) < a.seconds * 1000; ++i) {
      std::string k = "key/" + std::to_string(i);
      auto t0 = Clock::now();
      sqlite3_bind_text(st, 1, k.data(), k.size(), SQLITE_STATIC);
      sqlite3_bind_blob(st, 2, value.data(), value.size(), SQLITE_STATIC);
      sqlite3_step(st);
      sqlite3_reset(st);
      lat.push_back(Ms(Clock::now() - t0));
    }
    sqlite3_finalize(st);
    sqlite3_close(db);
    std::printf(
        "%-16s %10.3f %10.3f %10.0f   (peer: raw SQLite FULL "
        "autocommit INSERT)\n",
        "raw FULL 1", Pct(lat, 50), Pct(lat, 99), lat.size() / (a.seconds));
    RemoveDb(path);
  }
}

// ---- durable puts through the full path ----

// The same puts from the SDK through the real aikerneld: connection ->
// principal, authorization, the memory commit, the audit record (durable
// before the reply), for each synchronous mode (ledger and memory alike).
// Beside each: the library-level figure measured above in this run, and
// the governed no-op (Admin.Ping: the path and its audit record, no memory
// write) on the same daemon.
void BenchFullPath(const Args& a) {
  std::printf(
      "\n== durable put through the full path (SDK -> aikerneld: authenticate, "
      "authorize, memory commit, audit record durable before the reply), each "
      "next to the library-level put measured just before it ==\n");
  std::printf("%-7s %7s | %-26s | %-26s | %-26s | %s\n", "mode", "clients",
              "full path p50/p99 ms, /s", "library p50/p99 ms, /s",
              "Admin.Ping p50/p99 ms, /s", "target");
  auto cell = [](const aikernel::bench::Cell& c) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%7.3f %7.3f %8.0f", c.p50, c.p99, c.rate);
    return std::string(buf);
  };
  auto rows = aikernel::bench::MeasureFullPath(
      a.aikerneld, a.dir, a.seconds, [&](bool full, int clients) {
        return LibraryPuts(a, full ? store::Synchronous::kFull
                                   : store::Synchronous::kNormal,
                           clients);
      });
  for (const auto& row : rows) {
    std::printf("%-7s %7d | %-26s | %-26s | %-26s | %s", row.mode.c_str(),
                row.clients, cell(row.put).c_str(), cell(row.library).c_str(),
                cell(row.ping).c_str(),
                row.mode == "full" && row.clients == 1 ? "p50 < 1 ms" : "");
    if (row.put.errors || row.ping.errors) {
      std::printf("  (%llu errors: %s)",
                  static_cast<unsigned long long>(row.put.errors + row.ping.errors),
                  (row.put.errors ? row.put.first_error : row.ping.first_error)
                      .c_str());
    }
    std::printf("\n");
  }
}

// ---- corpus ----

struct Corpus {
  std::vector<std::string> vocab;
  std::discrete_distribution<size_t> zipf;
};

Corpus MakeCorpus(std::mt19937& rng) {
  Corpus c;
  const size_t words = 20000;
  const char* syll[] = {"ka", "lo", "mi", "ne", "ru", "ta", "vo", "zi",
                        "pe", "sa", "do", "fu", "gi", "ha", "ju", "be"};
  std::vector<double> w;
  for (size_t i = 0; i < words; ++i) {
    std::string s;
    size_t x = i + 17;
    do {
      s += syll[x % 16];
      x /= 16;
    } while (x > 0);
    c.vocab.push_back(s + std::to_string(i % 7));
    w.push_back(1.0 / (i + 1));
  }
  c.zipf = std::discrete_distribution<size_t>(w.begin(), w.end());
  (void)rng;
  return c;
}

std::string Text(Corpus& c, std::mt19937& rng, size_t n) {
  std::string t;
  for (size_t i = 0; i < n; ++i) {
    if (i) t += ' ';
    t += c.vocab[c.zipf(rng)];
  }
  return t;
}

std::vector<float> RandVec(std::mt19937& rng, size_t dim) {
  std::normal_distribution<float> n(0, 1);
  std::vector<float> v(dim);
  for (auto& x : v) x = n(rng);
  return v;
}

// JSONL of `n` documents in `ns` (embeddings if dim > 0).
std::string DocsJsonl(const std::string& ns, size_t n, size_t dim,
                      Corpus& corpus, std::mt19937& rng, bool with_header) {
  std::string out;
  const int64_t base = 1'700'000'000'000'000'000;
  if (with_header) {
    out +=
        "{\"type\":\"namespace\",\"name\":\"" + ns +
        "\",\"max_bytes\":0,\"max_records\":0,\"dim\":" + std::to_string(dim) +
        ",\"next_event_seq\":1,\"created_ns\":" + std::to_string(base) + "}\n";
  }
  std::uniform_int_distribution<int> cat(0, 9);
  for (size_t i = 0; i < n; ++i) {
    const int64_t t = base + static_cast<int64_t>(i) * 1'000'000'000;
    out += "{\"type\":\"doc\",\"ns\":\"" + ns + "\",\"id\":\"doc-" +
           std::to_string(i) + "\",\"version\":1,\"text\":\"" +
           Text(corpus, rng, 40) + "\",\"metadata\":{\"cat\":\"c" +
           std::to_string(cat(rng)) + "\"}";
    if (dim > 0) {
      auto v = RandVec(rng, dim);
      out += ",\"embedding_b64\":\"" +
             internal::Base64Encode(std::string_view(
                 reinterpret_cast<const char*>(v.data()), v.size() * 4)) +
             "\"";
    }
    out += ",\"created_ns\":" + std::to_string(t) +
           ",\"updated_ns\":" + std::to_string(t) + ",\"expires_ns\":0}\n";
  }
  return out;
}

std::string KvJsonl(size_t n) {
  std::string out =
      "{\"type\":\"namespace\",\"name\":\"agent/imported\",\"max_bytes\":0,"
      "\"max_records\":0,\"dim\":0,\"next_event_seq\":1,\"created_ns\":1}\n";
  const std::string value(100, 'x');
  for (size_t i = 0; i < n; ++i) {
    out += "{\"type\":\"kv\",\"ns\":\"agent/imported\",\"key\":\"key/" +
           std::to_string(i) +
           "\",\"version\":1,\"deleted\":false,\"value\":\"" + value +
           "\",\"created_ns\":1,\"expires_ns\":0}\n";
  }
  return out;
}

struct Timed {
  std::vector<double> ms, cpu;
  Clock::time_point t0;
  double c0 = 0;
  void Start() {
    c0 = ThreadCpuMs();
    t0 = Clock::now();
  }
  void Stop() {
    ms.push_back(Ms(Clock::now() - t0));
    cpu.push_back(ThreadCpuMs() - c0);
  }
  void Print(const char* name, const char* target) const {
    std::printf(
        "%-38s p50 %7.2f  p95 %7.2f  p99 %7.2f ms | cpu p50 %6.2f "
        "p95 %6.2f ms   %s\n",
        name, Pct(ms, 50), Pct(ms, 95), Pct(ms, 99), Pct(cpu, 50), Pct(cpu, 95),
        target);
  }
};

}  // namespace

int main(int argc, char** argv) {
  setvbuf(stdout, nullptr, _IOLBF, 0);
  Args a;
  for (int i = 1; i < argc; ++i) {
    std::string f = argv[i];
    auto next = [&] { return i + 1 < argc ? std::string(argv[++i]) : ""; };
    if (f == "--docs")
      a.docs = std::stoul(next());
    else if (f == "--dim")
      a.dim = std::stoul(next());
    else if (f == "--queries")
      a.queries = std::stoul(next());
    else if (f == "--seconds")
      a.seconds = std::stod(next());
    else if (f == "--dir")
      a.dir = next();
    else if (f == "--only")
      a.only = next();
    else if (f == "--aikerneld")
      a.aikerneld = next();
    else {
      std::fprintf(stderr, "unknown flag %s\n", f.c_str());
      return 2;
    }
  }
  bool own_dir = false;
  if (a.dir.empty()) {
    char templ[] = "/tmp/bench-memory-XXXXXX";
    a.dir = mkdtemp(templ);
    own_dir = true;
  }
  auto want = [&](const char* part) {
    return a.only.empty() || a.only == part;
  };
  double load[3] = {0, 0, 0};
  getloadavg(load, 3);
  std::printf(
      "bench_memory: %zu documents, dim %zu, %zu queries, %u cpus, "
      "load average %.1f, dir %s\n",
      a.docs, a.dim, a.queries, std::thread::hardware_concurrency(), load[0],
      a.dir.c_str());

  if (want("put")) BenchPuts(a);
  if (want("put") || want("path")) BenchFullPath(a);

  std::mt19937 rng(12345);
  Corpus corpus = MakeCorpus(rng);
  const std::string path = a.dir + "/search.db";

  if (want("import")) {
    std::printf("\n== import (JSONL, one transaction) ==\n");
    auto m = OpenMem(a.dir + "/import.db", true);
    std::string kv = KvJsonl(a.docs);
    auto t0 = Clock::now();
    double c0 = ProcessCpuMs();
    auto r = m->Import(kv);
    Die(r.status(), "import kv");
    std::printf("%-34s %8.2f s (cpu %.2f s, %zu MB JSONL)   target < 5 s\n",
                "import 100k key/values (100 B)", Ms(Clock::now() - t0) / 1000,
                (ProcessCpuMs() - c0) / 1000, kv.size() >> 20);
    std::string docs =
        DocsJsonl("agent/importdocs", a.docs, 0, corpus, rng, true);
    t0 = Clock::now();
    c0 = ProcessCpuMs();
    r = m->Import(docs);
    Die(r.status(), "import docs");
    std::printf("%-34s %8.2f s (cpu %.2f s, %zu MB JSONL, FTS indexed)\n",
                "import 100k documents (40 words)",
                Ms(Clock::now() - t0) / 1000, (ProcessCpuMs() - c0) / 1000,
                docs.size() >> 20);
    std::string t;
    t0 = Clock::now();
    Die(m->Export("agent/imported",
                  [&](std::string_view l) {
                    t.append(l);
                    t.push_back('\n');
                    return absl::OkStatus();
                  }),
        "export");
    std::printf("%-34s %8.2f s\n", "export key/values",
                Ms(Clock::now() - t0) / 1000);
  }

  if (!(want("fts") || want("vector") || want("hybrid"))) return 0;

  // One namespace with text, metadata and embeddings for every search.
  std::printf("\n== building the search corpus ==\n");
  {
    auto m = OpenMem(path, true);
    std::string docs =
        DocsJsonl("agent/search", a.docs, a.dim, corpus, rng, true);
    auto t0 = Clock::now();
    double c0 = ProcessCpuMs();
    Die(m->Import(docs).status(), "import search corpus");
    std::printf(
        "imported %zu documents with %zu-dim embeddings (%zu MB) in "
        "%.2f s (cpu %.2f s)\n",
        a.docs, a.dim, docs.size() >> 20, Ms(Clock::now() - t0) / 1000,
        (ProcessCpuMs() - c0) / 1000);
  }
  auto m = OpenMem(path, false);

  // Queries: words from the frequent band (ranks 10..1000), so single
  // words match hundreds to thousands of documents (BM25 over all of them).
  std::uniform_int_distribution<size_t> mid(10, 1000);
  std::vector<std::string> texts;
  for (size_t i = 0; i < a.queries; ++i) {
    texts.push_back(corpus.vocab[mid(rng)] + " " + corpus.vocab[mid(rng)]);
  }
  std::vector<std::vector<float>> vecs;
  for (size_t i = 0; i < a.queries; ++i) vecs.push_back(RandVec(rng, a.dim));

  if (want("fts")) {
    std::printf("\n== full-text top-10 over %zu documents ==\n", a.docs);
    Timed t, t1, tf;
    size_t hits = 0;
    for (size_t i = 0; i < a.queries; ++i) {
      t.Start();
      auto r = m->Search("agent/search", {.text = texts[i], .k = 10});
      t.Stop();
      Die(r.status(), "fts");
      hits += r->size();
    }
    for (size_t i = 0; i < a.queries; ++i) {
      t1.Start();
      auto r =
          m->Search("agent/search",
                    {.text = texts[i].substr(0, texts[i].find(' ')), .k = 10});
      t1.Stop();
      Die(r.status(), "fts1");
    }
    for (size_t i = 0; i < a.queries; ++i) {
      SearchQuery q{.text = texts[i].substr(0, texts[i].find(' ')), .k = 10};
      q.filters = {{"cat", "\"c3\""}};
      tf.Start();
      auto r = m->Search("agent/search", q);
      tf.Stop();
      Die(r.status(), "ftsf");
    }
    t.Print("FTS 2 words (AND)", "p95 < 10 ms");
    t1.Print("FTS 1 word", "p95 < 10 ms");
    tf.Print("FTS 1 word + metadata filter", "p95 < 10 ms");
    std::printf("  (mean hits returned %.1f)\n", double(hits) / a.queries);
  }

  if (want("vector")) {
    std::printf("\n== vector top-10 over %zu vectors, dim %zu ==\n", a.docs,
                a.dim);
    {
      auto t0 = Clock::now();
      Die(m->Search("agent/search", {.embedding = vecs[0], .k = 10}).status(),
          "load");
      std::printf(
          "lazy load of the namespace's vectors (first query): %.0f "
          "ms\n",
          Ms(Clock::now() - t0));
    }
    Timed q8;
    for (size_t i = 0; i < a.queries; ++i) {
      q8.Start();
      auto r = m->Search("agent/search", {.embedding = vecs[i], .k = 10});
      q8.Stop();
      Die(r.status(), "vector");
    }
    q8.Print("int8 scan + float32 re-rank (default)", "p95 < 15 ms");
    // Same data, exact float32 scan (quantization off).
    {
      auto exact = OpenMem(path, false, /*quantize_min_rows=*/0);
      Die(exact->Search("agent/search", {.embedding = vecs[0]}).status(), "l");
      Timed f;
      size_t agree = 0, total = 0;
      for (size_t i = 0; i < a.queries; ++i) {
        f.Start();
        auto r = exact->Search("agent/search", {.embedding = vecs[i], .k = 10});
        f.Stop();
        Die(r.status(), "exact");
        auto q = m->Search("agent/search", {.embedding = vecs[i], .k = 10});
        for (auto& h : *r) {
          ++total;
          for (auto& g : *q) agree += g.document.id == h.document.id;
        }
      }
      f.Print("float32 exact scan", "p95 < 15 ms");
      std::printf("  recall@10 of int8+re-rank vs exact: %.4f\n",
                  double(agree) / total);
    }
    // Peer: the naive per-row scan in SQLite (read every embedding blob,
    // cosine in C++), a few queries only.
    {
      sqlite3* db;
      sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr);
      sqlite3_stmt* st;
      sqlite3_prepare_v2(db,
                         "SELECT id, embedding FROM docs WHERE ns = "
                         "'agent/search' AND embedding IS NOT NULL",
                         -1, &st, nullptr);
      Timed p;
      for (size_t i = 0; i < std::min<size_t>(10, a.queries); ++i) {
        p.Start();
        std::vector<std::pair<float, int64_t>> best;
        std::vector<float> qn(a.dim);
        VectorIndex::Normalize(vecs[i].data(), qn.data(), a.dim);
        while (sqlite3_step(st) == SQLITE_ROW) {
          const float* v =
              static_cast<const float*>(sqlite3_column_blob(st, 1));
          float dot = 0, nn = 0;
          for (size_t k = 0; k < a.dim; ++k) {
            dot += v[k] * qn[k];
            nn += v[k] * v[k];
          }
          best.push_back({-dot / std::sqrt(nn), sqlite3_column_int64(st, 0)});
        }
        sqlite3_reset(st);
        std::partial_sort(best.begin(), best.begin() + 10, best.end());
        p.Stop();
      }
      sqlite3_finalize(st);
      sqlite3_close(db);
      p.Print("peer: naive per-row SQLite scan", "(10 queries)");
      std::printf(
          "  speed-up of the default scan over the peer at p50: "
          "%.0fx\n",
          Pct(p.ms, 50) / Pct(q8.ms, 50));
    }
  }

  if (want("hybrid")) {
    std::printf("\n== hybrid top-10 (text + vector + recency) ==\n");
    Timed h;
    for (size_t i = 0; i < a.queries; ++i) {
      SearchQuery q{.text = texts[i].substr(0, texts[i].find(' ')),
                    .embedding = vecs[i],
                    .k = 10,
                    .text_weight = 1,
                    .vector_weight = 1,
                    .recency_weight = 0.2};
      h.Start();
      auto r = m->Search("agent/search", q);
      h.Stop();
      Die(r.status(), "hybrid");
    }
    h.Print("hybrid (100 candidates per signal)", "(no target; FTS+vector)");
  }
  m.reset();
  if (own_dir) std::filesystem::remove_all(a.dir);
  return 0;
}
