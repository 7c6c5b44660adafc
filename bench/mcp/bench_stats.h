// What the MCP benchmarks (bench_mcp, bench_mcp_http) share: p50/p99 of a
// series of call times and the machine's load, for the figures they print.
// Header-only; asserts nothing.
#pragma once

#include <algorithm>
#include <fstream>
#include <string>
#include <vector>

namespace aikernel::bench {

struct Stats {
  double p50_us = 0, p99_us = 0;
};

inline Stats Summarize(std::vector<double> us) {
  if (us.empty()) return {};
  std::sort(us.begin(), us.end());
  return {us[us.size() / 2], us[std::min(us.size() - 1, us.size() * 99 / 100)]};
}

// The 1, 5 and 15 minute load averages (/proc/loadavg).
inline std::string Load() {
  std::ifstream in("/proc/loadavg");
  std::string a, b, c;
  in >> a >> b >> c;
  return a + " " + b + " " + c;
}

}  // namespace aikernel::bench
