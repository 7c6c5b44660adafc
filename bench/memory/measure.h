// Closed-loop latency measurement shared by bench_memory's translation units
// (the library-level puts in bench_memory.cc, the full path in
// full_path.cc, which must not see the daemon's headers). Header-only.
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <functional>
#include <string>
#include <thread>
#include <vector>

namespace aikernel::bench {

struct Cell {
  double p50 = 0, p99 = 0;  // ms, of the calls that succeeded
  double rate = 0;          // successful calls per second
  uint64_t errors = 0;
  std::string first_error;
};

inline double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t i = static_cast<size_t>(std::ceil(p / 100.0 * v.size())) - 1;
  return v[std::min(i, v.size() - 1)];
}

// `threads` threads call `op(thread, i)` (i = 0, 1, ...) in a loop for
// `seconds`; `op` returns "" on success, else the error.
inline Cell MeasureLoop(int threads, double seconds,
                        const std::function<std::string(int, uint64_t)>& op) {
  using Clock = std::chrono::steady_clock;
  std::atomic<bool> stop{false};
  std::vector<std::vector<double>> lat(threads);
  std::vector<uint64_t> errors(threads, 0);
  std::vector<std::string> first(threads);
  std::vector<std::thread> ts;
  auto start = Clock::now();
  for (int t = 0; t < threads; ++t) {
    ts.emplace_back([&, t] {
      for (uint64_t i = 0; !stop.load(std::memory_order_relaxed); ++i) {
        auto t0 = Clock::now();
        std::string err = op(t, i);
        if (err.empty()) {
          lat[t].push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
        } else if (errors[t]++ == 0) {
          first[t] = std::move(err);
        }
      }
    });
  }
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  stop = true;
  for (auto& t : ts) t.join();
  const double secs = std::chrono::duration<double>(Clock::now() - start).count();
  std::vector<double> all;
  Cell c;
  for (int t = 0; t < threads; ++t) {
    all.insert(all.end(), lat[t].begin(), lat[t].end());
    c.errors += errors[t];
    if (c.first_error.empty()) c.first_error = first[t];
  }
  c.p50 = Percentile(all, 50);
  c.p99 = Percentile(all, 99);
  c.rate = all.size() / secs;
  return c;
}

// The full path (full_path.cc): puts from SDK clients through a real
// aikerneld, and the governed no-op (Admin.Ping) on the same daemon; right
// before each, `library(mode, clients)` measures the library-level put, so
// the two figures share the disk's current state (its fsync latency swings
// from one minute to the next on shared machines).
struct PathRow {
  std::string mode;  // "full" or "normal": audit and memory synchronous
  int clients = 0;
  Cell library, put, ping;
};
std::vector<PathRow> MeasureFullPath(const std::string& aikerneld, const std::string& dir,
                                     double seconds,
                                     const std::function<Cell(bool full, int clients)>& library);

}  // namespace aikernel::bench
