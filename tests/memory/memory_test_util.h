// Test helpers for src/memory: a temp database and a controllable clock.
#pragma once

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <memory>

#include "memory/memory.h"
#include "store/test_temp_dir.h"

namespace aikernel::memory::testing {

inline constexpr int64_t kSecond = 1'000'000'000;

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
