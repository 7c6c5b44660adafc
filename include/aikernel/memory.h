// aikernel memory types: what the Client's Memory* methods take and return
// (aikernel/client.h declares the methods; proto/aikernel/v1/memory.proto
// and docs/memory.md state the semantics in full).
//
// The kernel keeps memory for agents in namespaces: "agent/<name>" is an
// agent's own (created on its first write), "shared/<name>" namespaces are
// created by operators. A namespace holds versioned key/value entries, an
// episodic event log and documents with full-text, vector and hybrid search.
// Every call is authorized and audited by the daemon; each result carries
// the sequence number of its audit record.
//
// Plain values (thread-compatible, like std::string); no gRPC, protobuf or
// absl. Times are UTC; an unset std::optional time means "none" (never
// expires, no bound).
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace aikernel {
inline namespace sdk {

// Nanosecond-precision UTC time point (the same alias as in client.h).
using Timestamp = std::chrono::sys_time<std::chrono::nanoseconds>;

// ---- namespaces ----

struct MemoryNamespace {
  std::string name;          // "agent/<name>" or "shared/<name>"
  int64_t max_bytes = 0;     // byte quota; 0: unlimited
  int64_t max_records = 0;   // record quota; 0: unlimited
  int32_t dim = 0;           // embedding dimension; 0: not fixed yet
  int64_t used_bytes = 0;    // as counted for max_bytes
  int64_t used_records = 0;  // as counted for max_records
  Timestamp created_at{};
};

// CreateNamespace's arguments. Unset quotas: the daemon's defaults
// ([memory] default_max_bytes / default_max_records).
struct MemoryNamespaceConfig {
  std::string name;
  std::optional<int64_t> max_bytes;    // 0: unlimited
  std::optional<int64_t> max_records;  // 0: unlimited
  int32_t dim = 0;                     // 0: fixed by the first embedding
};

// ---- key/value ----

// One version of a key. Versions start at 1 and grow by one per put or
// delete of the key; they are never reused.
struct MemoryEntry {
  std::string key;
  int64_t version = 0;
  bool deleted = false;  // a tombstone (a delete); value is empty
  std::string value;     // bytes
  Timestamp created_at{};
  std::optional<Timestamp> expires_at;  // unset: never
};

struct MemoryPutOptions {
  // Compare-and-set: write only if the key's live version is this (0: the
  // key must not exist). A mismatch is FAILED_PRECONDITION naming the
  // current version. Unset: unconditional.
  std::optional<int64_t> expected_version;
  // Time to live of the version written; zero: never expires.
  std::chrono::nanoseconds ttl{0};
};

// One write of MemoryPutBatch.
struct MemoryWrite {
  std::string key;
  std::string value;
  MemoryPutOptions options;
};

struct MemoryListOptions {
  std::string prefix;      // only keys starting with this
  std::string page_token;  // the previous page's next_page_token
  uint32_t page_size = 0;  // 1..10000; 0: 100
  bool keys_only = false;  // leave values out
};

// ---- episodic log ----

struct MemoryEvent {
  int64_t seq = 0;  // per namespace, 1, 2, ... in append order
  Timestamp time{};
  std::string kind;
  std::string payload_json;  // canonical JSON (keys sorted, no spaces)
  std::optional<Timestamp> expires_at;
};

struct MemoryEventInput {
  std::optional<Timestamp> time;  // unset: now
  std::string kind;               // 1..128 bytes
  std::string payload_json;       // any JSON value, as text
  std::chrono::nanoseconds ttl{0};
};

struct MemoryEventQuery {
  std::optional<Timestamp> from;  // inclusive; unset: from the beginning
  std::optional<Timestamp> to;    // exclusive; unset: no end
  std::vector<std::string> kinds;  // empty: all
  std::string page_token;
  uint32_t page_size = 0;  // 1..10000; 0: 100
};

// ---- documents and search ----

struct MemoryDocument {
  std::string id;
  int64_t version = 0;  // 1 on create, +1 on each replace
  std::string text;
  std::string metadata_json;  // a JSON object, canonical
  std::vector<float> embedding;
  Timestamp created_at{};
  Timestamp updated_at{};
  std::optional<Timestamp> expires_at;
};

struct MemoryDocumentInput {
  std::string id;             // 1..512 bytes
  std::string text;           // indexed for full-text search
  std::string metadata_json;  // a JSON object; empty: {}
  std::vector<float> embedding;  // empty: none; else the namespace's dimension
  std::chrono::nanoseconds ttl{0};
  std::optional<int64_t> expected_version;  // as MemoryPutOptions'
};

// Equality on a top-level metadata key; value_json is a JSON scalar such as
// "\"draft\"", "3", "true" or "null".
struct MemoryMetadataFilter {
  std::string key;
  std::string value_json;
};

// score = text_weight * text + vector_weight * vector + recency_weight *
// recency (text: BM25 normalized to (0, 1]; vector: cosine; recency:
// 0.5 ^ (age / recency_half_life)). At least one signal must be usable.
struct MemorySearchQuery {
  std::string text;              // FTS5 query syntax; empty: no text signal
  std::vector<float> embedding;  // empty: no vector signal
  uint32_t k = 10;               // 1..1000
  double text_weight = 1.0;
  double vector_weight = 1.0;
  double recency_weight = 0.0;
  std::chrono::nanoseconds recency_half_life = std::chrono::hours(24 * 7);
  std::vector<MemoryMetadataFilter> filters;  // all must match
  std::optional<Timestamp> updated_from;      // inclusive
  std::optional<Timestamp> updated_to;        // exclusive
  bool include_embeddings = false;
  uint32_t candidates = 0;  // hybrid candidates per signal; 0: max(10k, 100)
};

struct MemorySearchHit {
  MemoryDocument document;
  double score = 0;          // combined
  double text_score = 0;     // normalized BM25
  double bm25 = 0;           // raw SQLite bm25() (lower is better)
  double vector_score = 0;   // cosine
  double recency_score = 0;
};

// ---- export ----

// What MemoryExport streams: exactly one namespace (`ns`), or every
// namespace whose name starts with `prefix` ("" and no ns: all). Setting
// both is INVALID_ARGUMENT.
struct MemoryExportOptions {
  std::string ns;
  std::string prefix;
};

// ---- results: each carries its call's audit sequence ----

struct MemoryEntryResult {  // Put (value left empty), Get
  MemoryEntry entry;
  uint64_t audit_sequence = 0;
};
struct MemoryEntries {  // List (paged), History (next_page_token empty)
  std::vector<MemoryEntry> entries;
  std::string next_page_token;  // empty: no more
  uint64_t audit_sequence = 0;
};
struct MemoryVersions {  // PutBatch: the version of each write, in order
  std::vector<int64_t> versions;
  uint64_t audit_sequence = 0;
};
struct MemoryDeleteResult {
  int64_t version = 0;  // the tombstone's
  uint64_t audit_sequence = 0;
};
struct MemoryEventResult {
  MemoryEvent event;
  uint64_t audit_sequence = 0;
};
struct MemoryEvents {
  std::vector<MemoryEvent> events;  // by (time, seq)
  std::string next_page_token;
  uint64_t audit_sequence = 0;
};
struct MemoryDocumentResult {
  MemoryDocument document;
  uint64_t audit_sequence = 0;
};
struct MemorySearchResult {
  std::vector<MemorySearchHit> hits;  // best first
  uint64_t audit_sequence = 0;
};
struct MemoryNamespaceResult {
  MemoryNamespace info;
  uint64_t audit_sequence = 0;
};
struct MemoryNamespaces {
  std::vector<MemoryNamespace> namespaces;  // by name
  uint64_t audit_sequence = 0;
};
struct MemoryCompactResult {
  int64_t versions_dropped = 0;
  int64_t bytes_freed = 0;
  uint64_t audit_sequence = 0;
};
struct MemoryExportResult {
  uint64_t lines = 0;      // lines passed to the callback
  bool cancelled = false;  // the callback returned false or stop was requested
  uint64_t audit_sequence = 0;
};
struct MemoryImportResult {
  int64_t namespaces = 0;  // created
  int64_t kv_versions = 0;
  int64_t events = 0;
  int64_t documents = 0;
  uint64_t audit_sequence = 0;
};
// Calls with nothing to return but their audit record (DeleteDocument,
// DropNamespace).
struct MemoryAck {
  uint64_t audit_sequence = 0;
};

}  // namespace sdk
}  // namespace aikernel
