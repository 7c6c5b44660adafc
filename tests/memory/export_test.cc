// JSONL export -> import into a fresh database -> export: identical,
// including versions, tombstones, events, metadata and embeddings.
#include "memory/memory_test_util.h"

namespace aikernel::memory::testing {
namespace {

using ::testing::HasSubstr;

class ExportTest : public MemoryTest {
 protected:
  std::string ExportAll(Memory& m) {
    std::string out;
    auto s = m.Export("", [&](std::string_view line) {
      out.append(line);
      out.push_back('\n');
      return absl::OkStatus();
    });
    EXPECT_TRUE(s.ok()) << s;
    return out;
  }
};

TEST_F(ExportTest, RoundTripIsExact) {
  MakeNs("agent/a", 3, 1 << 20, 1000);
  MakeNs("shared/b");
  ASSERT_TRUE(mem_->Put("agent/a", "k", "v1").ok());
  ASSERT_TRUE(mem_->Put("agent/a", "k", std::string("\xff\x00\x01", 3)).ok());
  ASSERT_TRUE(mem_->Delete("agent/a", "k").ok());
  PutOptions ttl;
  ttl.ttl = std::chrono::hours(1);
  ASSERT_TRUE(mem_->Put("agent/a", "ünïcode", "välue", ttl).ok());
  ASSERT_TRUE(
      mem_->AppendEvent("agent/a", {0, "tool", R"({"x":[1,2.5,"s"]})", {}})
          .ok());
  ASSERT_TRUE(mem_->AppendEvent("shared/b", {42, "k", "null", {}}).ok());
  DocumentInput d{.id = "doc",
                  .text = "some text",
                  .metadata = R"({"t":"a"})",
                  .embedding = {0.1f, -2.5f, 1e-20f}};
  ASSERT_TRUE(mem_->PutDocument("agent/a", d).ok());
  ASSERT_TRUE(mem_->PutDocument("agent/a", d).ok());  // version 2
  ASSERT_TRUE(mem_->PutDocument("shared/b", {.id = "plain", .text = "t"}).ok());

  const std::string first = ExportAll(*mem_);
  EXPECT_THAT(first, HasSubstr("\"value_b64\""));
  EXPECT_THAT(first, HasSubstr("\"embedding_b64\""));

  aikernel::testing::TempDir other;
  MemoryOptions o = Options();
  o.path = other.file("copy.db");
  auto copy = Memory::Open(o);
  ASSERT_TRUE(copy.ok());
  auto stats = (*copy)->Import(first);
  ASSERT_TRUE(stats.ok()) << stats.status();
  EXPECT_EQ(stats->namespaces, 2);
  EXPECT_EQ(stats->kv_versions, 4);
  EXPECT_EQ(stats->events, 2);
  EXPECT_EQ(stats->documents, 2);
  EXPECT_EQ(ExportAll(**copy), first);

  // The copy works: versions continue, search sees the embeddings, usage
  // matches the original.
  EXPECT_EQ((*copy)->Put("agent/a", "k", "next")->version, 4);
  EXPECT_EQ((*copy)->GetDocument("agent/a", "doc")->embedding,
            (std::vector<float>{0.1f, -2.5f, 1e-20f}));
  auto hits = (*copy)->Search("agent/a", {.embedding = {0.1f, -2.5f, 0}});
  ASSERT_TRUE(hits.ok());
  ASSERT_EQ(hits->size(), 1u);
  EXPECT_EQ((*copy)->AppendEvent("agent/a", {0, "k", "1", {}})->seq, 2);
  EXPECT_EQ((*copy)->GetNamespace("shared/b")->used_bytes,
            mem_->GetNamespace("shared/b")->used_bytes);

  // Importing the same records again conflicts and changes nothing.
  auto again = (*copy)->Import(first);
  EXPECT_EQ(again.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(again.status().message()), HasSubstr("import line"));
  auto bad = (*copy)->Import("{\"type\":\"kv\"}\n");
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(bad.status().message()), HasSubstr("line 1"));
}

TEST_F(ExportTest, ImportRespectsQuotasAndIsAllOrNothing) {
  MakeNs("agent/src");
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(mem_->Put("agent/src", absl::StrCat("k", i), "value").ok());
  }
  std::string jsonl = ExportAll(*mem_);
  ASSERT_TRUE(mem_->DropNamespace("agent/src").ok());
  MakeNs("agent/src", 0, 0, /*max_records=*/3);
  auto r = mem_->Import(jsonl);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(std::string(r.status().message()), HasSubstr("agent/src"));
  EXPECT_EQ(mem_->GetNamespace("agent/src")->used_records, 0);
  EXPECT_EQ(mem_->List("agent/src", {})->entries.size(), 0u);
  ASSERT_TRUE(mem_->SetQuota("agent/src", 0, 0).ok());
  ASSERT_TRUE(mem_->Import(jsonl).ok());
  EXPECT_EQ(mem_->List("agent/src", {})->entries.size(), 5u);
}

TEST_F(ExportTest, ExportNamespaceTakesExactlyThatNamespace) {
  MakeNs("agent/a");
  MakeNs("agent/ab");
  ASSERT_TRUE(mem_->Put("agent/a", "k", "in a").ok());
  ASSERT_TRUE(mem_->Put("agent/ab", "k", "in ab").ok());
  std::string by_prefix, exact;
  ASSERT_TRUE(mem_->Export("agent/a", [&](std::string_view line) {
                    by_prefix.append(line).push_back('\n');
                    return absl::OkStatus();
                  }).ok());
  EXPECT_THAT(by_prefix, HasSubstr("in ab")) << "a prefix takes agent/ab too";
  ASSERT_TRUE(mem_->ExportNamespace("agent/a", [&](std::string_view line) {
                    exact.append(line).push_back('\n');
                    return absl::OkStatus();
                  }).ok());
  EXPECT_THAT(exact, HasSubstr("in a"));
  EXPECT_THAT(exact, ::testing::Not(HasSubstr("agent/ab")));
  EXPECT_EQ(by_prefix.substr(0, exact.size()), exact)
      << "the same lines as the prefix export's for that namespace";

  auto missing = mem_->ExportNamespace(
      "agent/none", [](std::string_view) { return absl::OkStatus(); });
  EXPECT_EQ(missing.code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(missing.message()), HasSubstr("agent/none"));
  EXPECT_EQ(mem_->ExportNamespace("bad", [](std::string_view) {
                  return absl::OkStatus();
                }).code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace aikernel::memory::testing
