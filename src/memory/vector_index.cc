#include "memory/vector_index.h"

#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <queue>

namespace aikernel::memory {

namespace {

bool HasAvx2() {
  static const bool has =
      __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  return has;
}

float DotScalar(const float* a, const float* b, size_t n) {
  float s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  size_t i = 0;
  for (; i + 4 <= n; i += 4) {
    s0 += a[i] * b[i];
    s1 += a[i + 1] * b[i + 1];
    s2 += a[i + 2] * b[i + 2];
    s3 += a[i + 3] * b[i + 3];
  }
  for (; i < n; ++i) s0 += a[i] * b[i];
  return (s0 + s1) + (s2 + s3);
}

__attribute__((target("avx2,fma"))) float DotAvx2(const float* a,
                                                  const float* b, size_t n) {
  __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
  __m256 acc2 = _mm256_setzero_ps(), acc3 = _mm256_setzero_ps();
  size_t i = 0;
  for (; i + 32 <= n; i += 32) {
    acc0 =
        _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), acc0);
    acc1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8),
                           _mm256_loadu_ps(b + i + 8), acc1);
    acc2 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 16),
                           _mm256_loadu_ps(b + i + 16), acc2);
    acc3 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 24),
                           _mm256_loadu_ps(b + i + 24), acc3);
  }
  for (; i + 8 <= n; i += 8) {
    acc0 =
        _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), acc0);
  }
  __m256 acc =
      _mm256_add_ps(_mm256_add_ps(acc0, acc1), _mm256_add_ps(acc2, acc3));
  __m128 lo = _mm256_castps256_ps128(acc);
  __m128 hi = _mm256_extractf128_ps(acc, 1);
  lo = _mm_add_ps(lo, hi);
  lo = _mm_hadd_ps(lo, lo);
  lo = _mm_hadd_ps(lo, lo);
  float s = _mm_cvtss_f32(lo);
  for (; i < n; ++i) s += a[i] * b[i];
  return s;
}

int32_t DotI8Scalar(const int8_t* a, const int8_t* b, size_t n) {
  int32_t s = 0;
  for (size_t i = 0; i < n; ++i) s += int32_t{a[i]} * int32_t{b[i]};
  return s;
}

__attribute__((target("avx2"))) int32_t DotI8Avx2(const int8_t* a,
                                                  const int8_t* b, size_t n) {
  __m256i acc0 = _mm256_setzero_si256(), acc1 = _mm256_setzero_si256();
  size_t i = 0;
  for (; i + 32 <= n; i += 32) {
    __m256i a0 = _mm256_cvtepi8_epi16(
        _mm_loadu_si128(reinterpret_cast<const __m128i*>(a + i)));
    __m256i b0 = _mm256_cvtepi8_epi16(
        _mm_loadu_si128(reinterpret_cast<const __m128i*>(b + i)));
    __m256i a1 = _mm256_cvtepi8_epi16(
        _mm_loadu_si128(reinterpret_cast<const __m128i*>(a + i + 16)));
    __m256i b1 = _mm256_cvtepi8_epi16(
        _mm_loadu_si128(reinterpret_cast<const __m128i*>(b + i + 16)));
    acc0 = _mm256_add_epi32(acc0, _mm256_madd_epi16(a0, b0));
    acc1 = _mm256_add_epi32(acc1, _mm256_madd_epi16(a1, b1));
  }
  __m256i acc = _mm256_add_epi32(acc0, acc1);
  __m128i s = _mm_add_epi32(_mm256_castsi256_si128(acc),
                            _mm256_extracti128_si256(acc, 1));
  s = _mm_hadd_epi32(s, s);
  s = _mm_hadd_epi32(s, s);
  int32_t r = _mm_cvtsi128_si32(s);
  for (; i < n; ++i) r += int32_t{a[i]} * int32_t{b[i]};
  return r;
}

// Min-heap of the best hits so far (top() is the worst kept).
struct WorseFirst {
  bool operator()(const VectorHit& x, const VectorHit& y) const {
    if (x.score != y.score) return x.score > y.score;
    return x.id < y.id;
  }
};
using Heap = std::priority_queue<VectorHit, std::vector<VectorHit>, WorseFirst>;

void Offer(Heap& heap, size_t k, VectorHit h) {
  if (heap.size() < k) {
    heap.push(h);
  } else if (WorseFirst()(h, heap.top())) {
    heap.pop();
    heap.push(h);
  }
}

std::vector<VectorHit> Drain(Heap& heap) {
  std::vector<VectorHit> out(heap.size());
  for (size_t i = out.size(); i-- > 0;) {
    out[i] = heap.top();
    heap.pop();
  }
  return out;
}

int8_t QuantizeOne(float v, float inv_scale) {
  float r = std::nearbyint(v * inv_scale);
  return static_cast<int8_t>(std::clamp(r, -127.0f, 127.0f));
}

}  // namespace

float VectorIndex::Dot(const float* a, const float* b, size_t n) {
  return HasAvx2() ? DotAvx2(a, b, n) : DotScalar(a, b, n);
}

int32_t VectorIndex::DotI8(const int8_t* a, const int8_t* b, size_t n) {
  return HasAvx2() ? DotI8Avx2(a, b, n) : DotI8Scalar(a, b, n);
}

void VectorIndex::Normalize(const float* in, float* out, size_t n) {
  double ss = 0;
  for (size_t i = 0; i < n; ++i) ss += double{in[i]} * in[i];
  const double inv = ss > 0 ? 1.0 / std::sqrt(ss) : 0.0;
  for (size_t i = 0; i < n; ++i) out[i] = static_cast<float>(in[i] * inv);
}

VectorIndex::VectorIndex(size_t dim, size_t quantize_min_rows,
                         size_t rerank_factor)
    : dim_(dim),
      quantize_min_rows_(quantize_min_rows),
      rerank_factor_(rerank_factor) {}

void VectorIndex::Quantize(size_t row) {
  const float* v = &data_[row * dim_];
  float m = 0;
  for (size_t i = 0; i < dim_; ++i) m = std::max(m, std::fabs(v[i]));
  const float scale = m > 0 ? m / 127.0f : 1.0f;
  const float inv = 1.0f / scale;
  int8_t* q = &q_[row * dim_];
  for (size_t i = 0; i < dim_; ++i) q[i] = QuantizeOne(v[i], inv);
  scale_[row] = scale;
}

void VectorIndex::BuildQuantized() {
  quantized_ = true;
  q_.assign(ids_.size() * dim_, 0);
  scale_.assign(ids_.size(), 1.0f);
  for (size_t r = 0; r < ids_.size(); ++r) Quantize(r);
}

void VectorIndex::Upsert(int64_t id, const float* v, int64_t updated_ns,
                         int64_t expires_ns) {
  size_t row;
  auto it = pos_.find(id);
  if (it != pos_.end()) {
    row = it->second;
    if (expires_[row] != 0) --expiring_;
  } else {
    row = ids_.size();
    pos_.emplace(id, row);
    ids_.push_back(id);
    updated_.push_back(0);
    expires_.push_back(0);
    data_.resize(data_.size() + dim_);
    if (quantized_) {
      q_.resize(q_.size() + dim_);
      scale_.push_back(1.0f);
    }
  }
  Normalize(v, &data_[row * dim_], dim_);
  updated_[row] = updated_ns;
  expires_[row] = expires_ns;
  if (expires_ns != 0) ++expiring_;
  if (quantized_) {
    Quantize(row);
  } else if (quantize_min_rows_ > 0 && rerank_factor_ > 0 &&
             ids_.size() >= quantize_min_rows_) {
    BuildQuantized();
  }
}

void VectorIndex::Remove(int64_t id) {
  auto it = pos_.find(id);
  if (it == pos_.end()) return;
  const size_t row = it->second;
  const size_t last = ids_.size() - 1;
  if (expires_[row] != 0) --expiring_;
  pos_.erase(it);
  if (row != last) {
    std::copy_n(&data_[last * dim_], dim_, &data_[row * dim_]);
    if (quantized_) {
      std::copy_n(&q_[last * dim_], dim_, &q_[row * dim_]);
      scale_[row] = scale_[last];
    }
    ids_[row] = ids_[last];
    updated_[row] = updated_[last];
    expires_[row] = expires_[last];
    pos_[ids_[row]] = row;
  }
  ids_.pop_back();
  updated_.pop_back();
  expires_.pop_back();
  data_.resize(last * dim_);
  if (quantized_) {
    q_.resize(last * dim_);
    scale_.pop_back();
  }
}

void VectorIndex::Clear() {
  quantized_ = false;
  data_.clear();
  q_.clear();
  scale_.clear();
  ids_.clear();
  updated_.clear();
  expires_.clear();
  pos_.clear();
  expiring_ = 0;
}

bool VectorIndex::Passes(size_t row, const VectorFilter& f) const {
  if (expires_[row] != 0 && expires_[row] <= f.now_ns) return false;
  if (updated_[row] < f.updated_from_ns || updated_[row] >= f.updated_to_ns) {
    return false;
  }
  if (f.allowed != nullptr &&
      !std::binary_search(f.allowed->begin(), f.allowed->end(), ids_[row])) {
    return false;
  }
  return true;
}

bool VectorIndex::Score(int64_t id, const float* query, float* score) const {
  auto it = pos_.find(id);
  if (it == pos_.end()) return false;
  std::vector<float> q(dim_);
  Normalize(query, q.data(), dim_);
  *score = Dot(&data_[it->second * dim_], q.data(), dim_);
  return true;
}

std::vector<VectorHit> VectorIndex::TopK(const float* query, size_t k,
                                         const VectorFilter& f) const {
  if (k == 0 || ids_.empty()) return {};
  std::vector<float> q(dim_);
  Normalize(query, q.data(), dim_);
  const bool filtered_time = f.updated_from_ns > 0 ||
                             f.updated_to_ns != INT64_MAX ||
                             f.allowed != nullptr || expiring_ > 0;
  const size_t n = ids_.size();
  Heap heap;
  if (!quantized_) {
    for (size_t r = 0; r < n; ++r) {
      if (filtered_time && !Passes(r, f)) continue;
      Offer(heap, k, {ids_[r], Dot(&data_[r * dim_], q.data(), dim_)});
    }
    return Drain(heap);
  }
  // int8 scan, then exact re-rank of the best rerank_factor * k.
  std::vector<int8_t> qq(dim_);
  float qm = 0;
  for (float v : q) qm = std::max(qm, std::fabs(v));
  const float qscale = qm > 0 ? qm / 127.0f : 1.0f;
  for (size_t i = 0; i < dim_; ++i) qq[i] = QuantizeOne(q[i], 1.0f / qscale);
  const size_t m = std::max(k, k * rerank_factor_);
  Heap coarse;  // ids here are row numbers
  for (size_t r = 0; r < n; ++r) {
    if (filtered_time && !Passes(r, f)) continue;
    const float s = static_cast<float>(DotI8(&q_[r * dim_], qq.data(), dim_)) *
                    scale_[r] * qscale;
    Offer(coarse, m, {static_cast<int64_t>(r), s});
  }
  while (!coarse.empty()) {
    const size_t r = static_cast<size_t>(coarse.top().id);
    coarse.pop();
    Offer(heap, k, {ids_[r], Dot(&data_[r * dim_], q.data(), dim_)});
  }
  return Drain(heap);
}

}  // namespace aikernel::memory
