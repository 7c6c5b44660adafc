// Documents and search: CRUD, FTS5 BM25 ranking sanity, metadata and time
// filters, vector top-k exactness against a naive scan, hybrid weights,
// recency, and the in-memory vectors staying in sync with writes.
#include <cmath>
#include <random>
#include <thread>

#include "memory/memory_test_util.h"

namespace aikernel::memory::testing {
namespace {

using ::testing::HasSubstr;

class SearchTest : public MemoryTest {
 protected:
  Document Put(const std::string& id, const std::string& text,
               const std::string& metadata = "",
               std::vector<float> embedding = {}) {
    DocumentInput in;
    in.id = id;
    in.text = text;
    in.metadata = metadata;
    in.embedding = std::move(embedding);
    auto r = mem_->PutDocument("agent/a", in);
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *r : Document{};
  }
  std::vector<std::string> Ids(const SearchQuery& q) {
    auto r = mem_->Search("agent/a", q);
    EXPECT_TRUE(r.ok()) << r.status();
    std::vector<std::string> ids;
    if (r.ok()) {
      for (auto& h : *r) ids.push_back(h.document.id);
    }
    return ids;
  }
};

TEST_F(SearchTest, DocumentCrud) {
  MakeNs("agent/a");
  Document d = Put("d1", "hello world", R"({"b": 2, "a": "x"})");
  EXPECT_EQ(d.version, 1);
  EXPECT_EQ(d.metadata, R"({"a":"x","b":2})");
  auto g = mem_->GetDocument("agent/a", "d1");
  ASSERT_TRUE(g.ok());
  EXPECT_EQ(g->text, "hello world");
  Advance(kSecond);
  Document d2 = Put("d1", "hello again");
  EXPECT_EQ(d2.version, 2);
  EXPECT_EQ(d2.created_ns, d.created_ns);
  EXPECT_EQ(d2.updated_ns, d.created_ns + kSecond);
  EXPECT_EQ(Ids({.text = "world"}).size(), 0u);  // FTS follows the replace
  EXPECT_EQ(Ids({.text = "again"}), (std::vector<std::string>{"d1"}));
  DocumentInput cas;
  cas.id = "d1";
  cas.expected_version = 1;
  EXPECT_EQ(mem_->PutDocument("agent/a", cas).status().code(),
            absl::StatusCode::kFailedPrecondition);
  ASSERT_TRUE(mem_->DeleteDocument("agent/a", "d1").ok());
  EXPECT_EQ(mem_->GetDocument("agent/a", "d1").status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(mem_->DeleteDocument("agent/a", "d1").code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(Ids({.text = "again"}).size(), 0u);
  EXPECT_EQ(mem_->GetNamespace("agent/a")->used_records, 0);
  EXPECT_EQ(mem_->GetNamespace("agent/a")->used_bytes, 0);
  DocumentInput bad;
  bad.id = "x";
  bad.metadata = "[1]";
  EXPECT_THAT(std::string(mem_->PutDocument("agent/a", bad).status().message()),
              HasSubstr("metadata"));
}

TEST_F(SearchTest, FtsRanksMoreRelevantFirst) {
  MakeNs("agent/a");
  Put("weak", "the cat sat on the mat with a dog and a bird and a fish");
  Put("strong", "cat cat cat: a story about a cat");
  Put("none", "nothing relevant here at all");
  Put("medium", "my cat likes fish");
  auto r = mem_->Search("agent/a", {.text = "cat"});
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->size(), 3u);
  EXPECT_EQ((*r)[0].document.id, "strong");
  EXPECT_EQ((*r)[2].document.id, "weak");
  EXPECT_DOUBLE_EQ((*r)[0].text_score, 1.0);
  EXPECT_LT((*r)[0].bm25, (*r)[1].bm25);  // lower bm25 is better
  EXPECT_GT((*r)[1].text_score, (*r)[2].text_score);
  // Phrase and boolean syntax pass through to FTS5.
  EXPECT_EQ(Ids({.text = "cat AND fish"}).size(), 2u);
  auto bad = mem_->Search("agent/a", {.text = "\"unterminated"});
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(bad.status().message()), HasSubstr("text"));
}

TEST_F(SearchTest, MetadataAndTimeFilters) {
  MakeNs("agent/a");
  Put("a", "report alpha", R"({"status":"draft","n":1,"ok":true})");
  Advance(10 * kSecond);
  const int64_t mid = now_.load();
  Put("b", "report beta", R"({"status":"final","n":2,"ok":false})");
  Put("c", "report gamma", R"({"status":"final","n":2.5,"x":null})");
  SearchQuery q{.text = "report"};
  q.filters = {{"status", "\"final\""}};
  auto ids = Ids(q);
  std::sort(ids.begin(), ids.end());
  EXPECT_EQ(ids, (std::vector<std::string>{"b", "c"}));
  q.filters = {{"n", "2"}};
  EXPECT_EQ(Ids(q), (std::vector<std::string>{"b"}));
  q.filters = {{"n", "2.5"}};
  EXPECT_EQ(Ids(q), (std::vector<std::string>{"c"}));
  q.filters = {{"ok", "true"}};
  EXPECT_EQ(Ids(q), (std::vector<std::string>{"a"}));
  q.filters = {{"x", "null"}};
  EXPECT_EQ(Ids(q), (std::vector<std::string>{"c"}));
  q.filters = {};
  q.updated_to_ns = mid;
  EXPECT_EQ(Ids(q), (std::vector<std::string>{"a"}));
  q.filters = {{"n", "{}"}};
  EXPECT_THAT(std::string(mem_->Search("agent/a", q).status().message()),
              HasSubstr("filters[0].value_json"));
}

TEST_F(SearchTest, VectorTopKIsExactAndFollowsWrites) {
  MakeNs("agent/a", 32);
  std::mt19937 rng(7);
  std::map<std::string, std::vector<float>> vecs;
  for (int i = 0; i < 400; ++i) {
    std::string id = absl::StrCat("v", i);
    vecs[id] = RandomVec(rng, 32);
    Put(id, "x", "", vecs[id]);
  }
  auto naive = [&](const std::vector<float>& q, size_t k) {
    std::vector<std::pair<double, std::string>> s;
    for (auto& [id, v] : vecs) s.push_back({-Cos(v, q), id});
    std::sort(s.begin(), s.end());
    std::vector<std::string> out;
    for (size_t i = 0; i < k; ++i) out.push_back(s[i].second);
    return out;
  };
  for (int t = 0; t < 5; ++t) {
    auto q = RandomVec(rng, 32);
    auto r = mem_->Search("agent/a", {.embedding = q, .k = 10});
    ASSERT_TRUE(r.ok()) << r.status();
    std::vector<std::string> ids;
    for (auto& h : *r) {
      ids.push_back(h.document.id);
      EXPECT_NEAR(h.vector_score, Cos(vecs[h.document.id], q), 1e-4);
    }
    EXPECT_EQ(ids, naive(q, 10));
  }
  // Writes after the lazy load are visible at once: replace, add, delete.
  auto q = RandomVec(rng, 32);
  auto top = naive(q, 1)[0];
  ASSERT_TRUE(mem_->DeleteDocument("agent/a", top).ok());
  vecs.erase(top);
  vecs["new"] = q;
  Put("new", "x", "", q);
  auto r = mem_->Search("agent/a", {.embedding = q, .k = 10});
  ASSERT_TRUE(r.ok());
  std::vector<std::string> ids;
  for (auto& h : *r) ids.push_back(h.document.id);
  EXPECT_EQ(ids, naive(q, 10));
  EXPECT_EQ(ids[0], "new");
  // Dimension is fixed.
  auto wrong = mem_->Search("agent/a", {.embedding = {1, 2, 3}});
  EXPECT_EQ(wrong.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(wrong.status().message()), HasSubstr("dimension"));
  DocumentInput in{.id = "bad", .text = "t", .embedding = {1, 2}};
  EXPECT_THAT(std::string(mem_->PutDocument("agent/a", in).status().message()),
              HasSubstr("embedding"));
  // Metadata filter on a vector search.
  Put("tagged", "x", R"({"tag":"keep"})", RandomVec(rng, 32));
  SearchQuery fq{.embedding = q, .k = 5};
  fq.filters = {{"tag", "\"keep\""}};
  EXPECT_EQ(Ids(fq), (std::vector<std::string>{"tagged"}));
}

TEST_F(SearchTest, VectorsStayInSyncWhenWritesRaceTheLoad) {
  MakeNs("agent/a", 16);
  std::mt19937 rng(3);
  std::map<std::string, std::vector<float>> vecs;
  for (int i = 0; i < 1500; ++i) {
    std::string id = absl::StrCat("v", i);
    vecs[id] = RandomVec(rng, 16);
    Put(id, "x", "", vecs[id]);
  }
  for (int round = 0; round < 3; ++round) {
    Reopen();  // vectors not loaded yet
    std::vector<std::pair<std::string, std::vector<float>>> adds;
    for (int i = 0; i < 200; ++i) {
      adds.push_back({absl::StrCat("r", round, "-", i), RandomVec(rng, 16)});
    }
    std::vector<std::string> dels;
    for (int i = 0; i < 50; ++i)
      dels.push_back(absl::StrCat("v", round * 50 + i));
    std::thread writer([&] {
      for (size_t i = 0; i < adds.size(); ++i) {
        DocumentInput in{
            .id = adds[i].first, .text = "x", .embedding = adds[i].second};
        EXPECT_TRUE(mem_->PutDocument("agent/a", in).ok());
        if (i < dels.size()) {
          EXPECT_TRUE(mem_->DeleteDocument("agent/a", dels[i]).ok());
        }
      }
    });
    auto q = RandomVec(rng, 16);
    for (int i = 0; i < 20; ++i) {
      EXPECT_TRUE(mem_->Search("agent/a", {.embedding = q}).ok());
    }
    writer.join();
    for (auto& [id, v] : adds) vecs[id] = v;
    for (auto& id : dels) vecs.erase(id);
    std::vector<std::pair<double, std::string>> want;
    for (auto& [id, v] : vecs) want.push_back({-Cos(v, q), id});
    std::sort(want.begin(), want.end());
    auto r = mem_->Search("agent/a", {.embedding = q, .k = 50});
    ASSERT_TRUE(r.ok());
    ASSERT_EQ(r->size(), 50u);
    for (size_t i = 0; i < 50; ++i) {
      EXPECT_EQ((*r)[i].document.id, want[i].second) << "round " << round;
    }
  }
}

TEST_F(SearchTest, NamespacesAreIsolated) {
  MakeNs("agent/a", 2);
  MakeNs("agent/b", 2);
  Put("mine", "secret plans", R"({"k":"v"})", {1, 0});
  DocumentInput other{.id = "theirs",
                      .text = "secret plans",
                      .metadata = "",
                      .embedding = {1, 0}};
  ASSERT_TRUE(mem_->PutDocument("agent/b", other).ok());
  ASSERT_TRUE(mem_->Put("agent/b", "key", "b's").ok());
  SearchQuery q{.text = "secret", .embedding = {1, 0}, .k = 10};
  EXPECT_EQ(Ids(q), (std::vector<std::string>{"mine"}));
  EXPECT_EQ(Ids({.embedding = {1, 0}}), (std::vector<std::string>{"mine"}));
  EXPECT_EQ(Ids({.text = "plans"}), (std::vector<std::string>{"mine"}));
  EXPECT_EQ(Ids({.k = 10, .recency_weight = 1}),
            (std::vector<std::string>{"mine"}));
  EXPECT_EQ(mem_->Get("agent/a", "key").status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(mem_->GetDocument("agent/a", "theirs").status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(mem_->List("agent/a", {})->entries.size(), 0u);
}

TEST_F(SearchTest, FirstEmbeddingFixesDimension) {
  MakeNs("agent/a");
  Put("a", "x", "", {1, 0, 0});
  EXPECT_EQ(mem_->GetNamespace("agent/a")->dim, 3);
  DocumentInput in{.id = "b", .text = "t", .embedding = {1, 2}};
  EXPECT_EQ(mem_->PutDocument("agent/a", in).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(SearchTest, HybridWeightsChangeTheOrder) {
  MakeNs("agent/a", 2);
  // "text" matches the words best but points away from the query vector;
  // "vec" matches the vector but barely the words.
  Put("text", "apple apple apple pie", "", {0, 1});
  Put("vec", "apple and many other unrelated words in a long text", "", {1, 0});
  Advance(1000 * kSecond);
  Put("recent", "apple somewhere in some words here", "", {0.7f, 0.7f});
  SearchQuery q{.text = "apple", .embedding = {1, 0}, .k = 3};
  q.text_weight = 1;
  q.vector_weight = 0;
  EXPECT_EQ(Ids(q)[0], "text");
  q.text_weight = 0;
  q.vector_weight = 1;
  EXPECT_EQ(Ids(q)[0], "vec");
  q.text_weight = 0.1;
  q.vector_weight = 0.1;
  q.recency_weight = 1;
  q.recency_half_life = std::chrono::seconds(60);
  EXPECT_EQ(Ids(q)[0], "recent");
  auto r = mem_->Search("agent/a", q);
  ASSERT_TRUE(r.ok());
  for (auto& h : *r) {
    EXPECT_NEAR(h.score,
                0.1 * h.text_score + 0.1 * h.vector_score + 1 * h.recency_score,
                1e-9);
    EXPECT_GT(h.text_score, 0);  // every candidate got its text score
  }
  // Recency alone: newest first.
  EXPECT_EQ(Ids({.k = 1, .recency_weight = 1}),
            (std::vector<std::string>{"recent"}));
  EXPECT_EQ(mem_->Search("agent/a", {.text_weight = 0}).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace aikernel::memory::testing
