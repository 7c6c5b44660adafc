// memory::VectorIndex: the in-memory vectors of one namespace, scanned by
// brute force for cosine top-k.
//
// Contract
// - Holds, per row id, the L2-normalized float32 vector in one contiguous
//   array (rows * dim), so cosine similarity is a dot product and a scan is
//   a sequential pass the CPU prefetches; AVX2+FMA kernels when the CPU has
//   them (checked at run time), portable loops otherwise.
// - With at least `quantize_min_rows` rows it also keeps an int8 copy (one
//   scale per row); TopK then scans the int8 copy (4x fewer bytes), keeps
//   the best `rerank_factor * k` and re-scores those exactly in float32.
//   Below the threshold (or with rerank_factor 0) TopK is exact.
// - Not thread-safe: the owner serializes writers against readers (Memory
//   uses a shared_mutex: TopK under a shared lock, Upsert/Remove exclusive).
//   TopK is const and safe to run concurrently with other TopK calls.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <unordered_map>
#include <utility>
#include <vector>

namespace aikernel::memory {

struct VectorFilter {
  int64_t now_ns = 0;  // rows with 0 < expires_ns <= now_ns are skipped
  int64_t updated_from_ns = 0;
  int64_t updated_to_ns = INT64_MAX;
  // If set, only these row ids (sorted ascending) are considered.
  const std::vector<int64_t>* allowed = nullptr;
};

struct VectorHit {
  int64_t id = 0;
  float score = 0;  // cosine similarity
};

class VectorIndex {
 public:
  VectorIndex(size_t dim, size_t quantize_min_rows, size_t rerank_factor);

  size_t dim() const { return dim_; }
  size_t size() const { return ids_.size(); }
  bool quantized() const { return quantized_; }

  // Sets row `id` to `v` (dim floats, not all zero; normalized here).
  void Upsert(int64_t id, const float* v, int64_t updated_ns,
              int64_t expires_ns);
  void Remove(int64_t id);
  void Clear();

  // Best `k` rows passing `filter`, best first (ties: lower id first).
  std::vector<VectorHit> TopK(const float* query, size_t k,
                              const VectorFilter& filter) const;
  // The exact cosine of `query` against row `id` (nullopt-ish: false if
  // absent).
  bool Score(int64_t id, const float* query, float* score) const;

  // Kernels, exposed for tests and benchmarks.
  static float Dot(const float* a, const float* b, size_t n);
  static int32_t DotI8(const int8_t* a, const int8_t* b, size_t n);
  static void Normalize(const float* in, float* out, size_t n);

 private:
  void Quantize(size_t row);
  void BuildQuantized();
  bool Passes(size_t row, const VectorFilter& f) const;

  size_t dim_;
  size_t quantize_min_rows_;
  size_t rerank_factor_;
  bool quantized_ = false;
  std::vector<float> data_;   // rows * dim, normalized
  std::vector<int8_t> q_;     // rows * dim, when quantized_
  std::vector<float> scale_;  // per row, when quantized_
  std::vector<int64_t> ids_, updated_, expires_;
  size_t expiring_ = 0;  // rows with expires_ns != 0
  std::unordered_map<int64_t, size_t> pos_;
};

}  // namespace aikernel::memory
