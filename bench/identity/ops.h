// The operations bench_identity_daemon measures, through the daemon (an
// agent's SDK calls, bench_identity_daemon.cc) and at the library (the
// NodeCA in-process, library.cc), in two translation units because the SDK
// and src/ both define aikernel::Status. Header-only except LibraryFigures.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>

#include "memory/measure.h"

namespace aikernel::bench {

inline const char* const kOps[] = {"JWT-SVID issue", "JWT-SVID validate", "X.509-SVID issue"};
inline constexpr int kThreads[] = {1, 2};

// {operation -> {threads -> cell}}
using Figures = std::map<std::string, std::map<int, Cell>>;

// op(i, thread, n) runs operation kOps[i]: "" on success, else the error.
using Op = std::function<std::string(int, int, uint64_t)>;

// Every operation on 1 and 2 threads for `seconds` each.
inline Figures Run(double seconds, const Op& op) {
  Figures out;
  for (int i = 0; i < 3; ++i) {
    for (int t : kThreads) {
      out[kOps[i]][t] = MeasureLoop(t, seconds, [&](int th, uint64_t n) { return op(i, th, n); });
    }
  }
  return out;
}

// The same operations on a NodeCA opened in `dir`/lib-keys in this process.
Figures LibraryFigures(const std::string& dir, double seconds);

}  // namespace aikernel::bench
