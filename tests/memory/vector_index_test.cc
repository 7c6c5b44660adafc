// VectorIndex: kernels, exact top-k against a naive computation, int8 with
// re-ranking, upsert/remove bookkeeping, filters.
#include "memory/vector_index.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>

#include "memory/memory_test_util.h"

namespace aikernel::memory {
namespace {

using testing::Cos;
using testing::RandomVec;

std::vector<int64_t> Naive(const std::vector<std::vector<float>>& rows,
                           const std::vector<float>& q, size_t k) {
  std::vector<std::pair<double, int64_t>> s;
  for (size_t i = 0; i < rows.size(); ++i) s.push_back({-Cos(rows[i], q), i});
  std::sort(s.begin(), s.end());
  std::vector<int64_t> out;
  for (size_t i = 0; i < k && i < s.size(); ++i) out.push_back(s[i].second);
  return out;
}

TEST(VectorIndexTest, KernelsMatchScalar) {
  std::mt19937 rng(1);
  for (size_t n : {1u, 7u, 8u, 31u, 32u, 33u, 384u, 1000u}) {
    auto a = RandomVec(rng, n), b = RandomVec(rng, n);
    double want = 0;
    for (size_t i = 0; i < n; ++i) want += double{a[i]} * b[i];
    EXPECT_NEAR(VectorIndex::Dot(a.data(), b.data(), n), want, 1e-3) << n;
    std::vector<int8_t> x(n), y(n);
    int32_t wi = 0;
    for (size_t i = 0; i < n; ++i) {
      x[i] = static_cast<int8_t>(rng() % 255 - 127);
      y[i] = static_cast<int8_t>(rng() % 255 - 127);
      wi += x[i] * y[i];
    }
    EXPECT_EQ(VectorIndex::DotI8(x.data(), y.data(), n), wi) << n;
  }
}

void CheckExact(size_t quantize_min_rows) {
  std::mt19937 rng(42);
  const size_t dim = 64, rows = 3000, k = 10;
  VectorIndex index(dim, quantize_min_rows, 10);
  std::vector<std::vector<float>> data;
  for (size_t i = 0; i < rows; ++i) {
    data.push_back(RandomVec(rng, dim));
    index.Upsert(static_cast<int64_t>(i), data.back().data(), 0, 0);
  }
  EXPECT_EQ(index.quantized(), quantize_min_rows > 0);
  for (int t = 0; t < 20; ++t) {
    auto q = RandomVec(rng, dim);
    auto hits = index.TopK(q.data(), k, {});
    auto want = Naive(data, q, k);
    ASSERT_EQ(hits.size(), k);
    for (size_t i = 0; i < k; ++i) {
      EXPECT_EQ(hits[i].id, want[i]) << "query " << t << " rank " << i;
      EXPECT_NEAR(hits[i].score, Cos(data[hits[i].id], q), 1e-4);
    }
  }
}

TEST(VectorIndexTest, FloatScanIsExact) { CheckExact(0); }
TEST(VectorIndexTest, Int8ScanWithRerankMatchesExact) { CheckExact(1000); }

TEST(VectorIndexTest, UpsertRemoveAndFilters) {
  VectorIndex index(2, 0, 0);
  float a[] = {1, 0}, b[] = {0, 1}, c[] = {1, 1};
  index.Upsert(10, a, 100, 0);
  index.Upsert(20, b, 200, 0);
  index.Upsert(30, c, 300, 500);  // expires at 500
  float q[] = {1, 0.1f};
  auto h = index.TopK(q, 3, {.now_ns = 0});
  ASSERT_EQ(h.size(), 3u);
  EXPECT_EQ(h[0].id, 10);
  EXPECT_EQ(index.TopK(q, 3, {.now_ns = 600}).size(), 2u);  // 30 expired
  VectorFilter f;
  f.updated_from_ns = 150;
  EXPECT_EQ(index.TopK(q, 3, f)[0].id, 30);
  std::vector<int64_t> allowed = {20};
  f = {};
  f.allowed = &allowed;
  auto only = index.TopK(q, 3, f);
  ASSERT_EQ(only.size(), 1u);
  EXPECT_EQ(only[0].id, 20);
  index.Upsert(10, b, 100, 0);  // replace
  index.Remove(20);
  EXPECT_EQ(index.size(), 2u);
  auto r = index.TopK(q, 3, {});
  EXPECT_EQ(r[0].id, 30);
  EXPECT_NEAR(r[1].score, Cos({0, 1}, {1, 0.1f}), 1e-6);
}

}  // namespace
}  // namespace aikernel::memory
