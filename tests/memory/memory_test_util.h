// Test helpers for src/memory: a temp database and a controllable clock;
// random vectors and the exact cosine the vector tests check against.
#pragma once

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <memory>
#include <random>
#include <vector>

#include "memory/memory.h"
#include "store/test_temp_dir.h"

namespace aikernel::memory::testing {

inline constexpr int64_t kSecond = 1'000'000'000;

// A vector of `dim` standard-normal components drawn from `rng`.
inline std::vector<float> RandomVec(std::mt19937& rng, size_t dim) {
  std::normal_distribution<float> n(0, 1);
  std::vector<float> v(dim);
  for (auto& x : v) x = n(rng);
  return v;
}

// Cosine similarity in double precision (the naive reference).
inline double Cos(const std::vector<float>& a, const std::vector<float>& b) {
  double d = 0, na = 0, nb = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    d += double{a[i]} * b[i];
    na += double{a[i]} * a[i];
    nb += double{b[i]} * b[i];
  }
  return d / std::sqrt(na * nb);
}

class MemoryTest : public ::testing::Test {
 protected:
  void SetUp() override { Reopen(); }

  MemoryOptions Options() {
    MemoryOptions o;
    o.path = dir_.file("memory.db");
    o.now_ns = [this] { return now_.load(); };
    o.purge_interval = std::chrono::milliseconds(0);  // tests purge by hand
    o.synchronous = store::Synchronous::kNormal;
    return o;
  }
  void Reopen() { Reopen(Options()); }
  void Reopen(MemoryOptions o) {
    mem_.reset();
    auto m = Memory::Open(std::move(o));
    ASSERT_TRUE(m.ok()) << m.status();
    mem_ = std::move(*m);
  }
  void Advance(int64_t ns) { now_ += ns; }
  NamespaceInfo MakeNs(const std::string& name, int32_t dim = 0,
                       int64_t max_bytes = 0, int64_t max_records = 0) {
    NamespaceConfig c;
    c.name = name;
    c.dim = dim;
    c.max_bytes = max_bytes;
    c.max_records = max_records;
    auto r = mem_->CreateNamespace(c);
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *r : NamespaceInfo{};
  }

  aikernel::testing::TempDir dir_;
  std::atomic<int64_t> now_{1'700'000'000 * kSecond};
  std::unique_ptr<Memory> mem_;
};

}  // namespace aikernel::memory::testing
