// memory types: the values memory::Memory takes and returns. Plain data;
// no behaviour, no SQLite. Times are nanoseconds since the Unix epoch;
// 0 in an `expires_ns` means "never expires".
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace aikernel::memory {

// ---- namespaces ----

// `name` is "agent/<id>" or "shared/<id>", <id> 1..128 of [A-Za-z0-9._-].
// Negative quota fields mean "use MemoryOptions' default"; 0 means
// "unlimited". `dim` is the embedding dimension (0: fixed by the first
// embedding written, then immutable).
struct NamespaceConfig {
  std::string name;
  int64_t max_bytes = -1;
  int64_t max_records = -1;
  int32_t dim = 0;
};

struct NamespaceInfo {
  std::string name;
  int64_t max_bytes = 0;    // 0: unlimited
  int64_t max_records = 0;  // 0: unlimited
  int32_t dim = 0;          // 0: not fixed yet
  int64_t used_bytes = 0;
  int64_t used_records = 0;
  int64_t created_ns = 0;
};

// ---- key/value ----

// One version of a key. Versions start at 1 and grow by 1 per write of the
// key (puts and deletes); they are never reused, even after compaction.
struct KvEntry {
  std::string key;
  int64_t version = 0;
  bool deleted = false;  // a tombstone (Delete) version; `value` is empty
  std::string value;     // bytes
  int64_t created_ns = 0;
  int64_t expires_ns = 0;
};

struct PutOptions {
  // Compare-and-set: the write applies only if the key's current version is
  // this (0: the key must not exist, or its newest version is a tombstone
  // or expired). Mismatch -> FAILED_PRECONDITION naming the current version.
  std::optional<int64_t> expected_version;
  // Time to live of this version; zero: never expires.
  std::chrono::nanoseconds ttl{0};
};

// One write of PutBatch.
struct KvWrite {
  std::string key;
  std::string value;
  PutOptions options;
};

struct ListOptions {
  std::string prefix;
  // Continue after this key (the previous page's next_page_token).
  std::string page_token;
  size_t limit = 100;  // 1..10000
  bool include_values = true;
};

struct KvPage {
  std::vector<KvEntry> entries;  // newest live version of each key, by key
  std::string next_page_token;   // empty: no more
};

// ---- episodic log ----

struct EventInput {
  int64_t time_ns = 0;  // 0: now
  std::string kind;     // 1..128 bytes
  std::string payload;  // JSON text (any JSON value); stored canonical
  std::chrono::nanoseconds ttl{0};
};

struct Event {
  int64_t seq = 0;  // per namespace, 1, 2, ... in append order
  int64_t time_ns = 0;
  std::string kind;
  std::string payload;  // canonical JSON text
  int64_t expires_ns = 0;
};

struct EventQuery {
  int64_t from_ns = 0;             // inclusive
  int64_t to_ns = INT64_MAX;       // exclusive
  std::vector<std::string> kinds;  // empty: all kinds
  std::string page_token;          // previous next_page_token
  size_t limit = 100;              // 1..10000
};

struct EventPage {
  std::vector<Event> events;    // ordered by (time_ns, seq)
  std::string next_page_token;  // empty: no more
};

// ---- documents and search ----

struct DocumentInput {
  std::string id;                // 1..512 bytes, unique in the namespace
  std::string text;              // indexed by FTS5 (unicode61 tokenizer)
  std::string metadata;          // JSON object text, or empty for {}
  std::vector<float> embedding;  // empty: none
  std::chrono::nanoseconds ttl{0};
  // As PutOptions::expected_version, on the document's version.
  std::optional<int64_t> expected_version;
};

struct Document {
  std::string id;
  int64_t version = 0;  // 1 on create, +1 on each replace
  std::string text;
  std::string metadata;  // canonical JSON object text
  std::vector<float> embedding;
  int64_t created_ns = 0;
  int64_t updated_ns = 0;
  int64_t expires_ns = 0;
};

// Equality on a top-level metadata key. `value_json` is a JSON scalar
// (string, number, true/false, null), e.g. "\"draft\"", "3", "true".
struct MetadataFilter {
  std::string key;
  std::string value_json;
};

// Which signals rank the hits. Each weight >= 0; at least one signal must be
// usable (text given, embedding given, or recency weight > 0).
//   combined = text_weight * text + vector_weight * vector
//            + recency_weight * recency
// text: BM25 normalized to [0, 1] by the best BM25 among the candidates;
// vector: cosine similarity in [-1, 1]; recency: 0.5^(age / half_life) of
// updated_ns. A signal whose input is absent scores 0.
struct SearchQuery {
  std::string text;              // FTS5 query syntax; empty: no text signal
  std::vector<float> embedding;  // empty: no vector signal
  size_t k = 10;                 // 1..1000
  double text_weight = 1.0;
  double vector_weight = 1.0;
  double recency_weight = 0.0;
  std::chrono::nanoseconds recency_half_life = std::chrono::hours(24 * 7);
  std::vector<MetadataFilter> filters;  // all must match
  int64_t updated_from_ns = 0;          // inclusive
  int64_t updated_to_ns = INT64_MAX;    // exclusive
  bool include_embeddings = false;      // copy embeddings into hits
  // Hybrid candidates: the best `candidates` by text and by vector
  // (0: max(10 * k, 100)).
  size_t candidates = 0;
};

struct SearchHit {
  Document document;
  double score = 0;         // combined
  double text_score = 0;    // normalized BM25 (0 if not a text candidate)
  double bm25 = 0;          // raw SQLite bm25() (lower is better; 0 if none)
  double vector_score = 0;  // cosine
  double recency_score = 0;
};

// ---- maintenance ----

struct PurgeStats {
  int64_t kv_versions = 0;
  int64_t events = 0;
  int64_t documents = 0;
  bool more = false;  // stopped at the batch limit; run again
};

struct CompactStats {
  int64_t versions_dropped = 0;
  int64_t bytes_freed = 0;
};

struct ImportStats {
  int64_t namespaces = 0;  // created
  int64_t kv_versions = 0;
  int64_t events = 0;
  int64_t documents = 0;
};

}  // namespace aikernel::memory
