// Argument checks, JSON canonical form, base64, float blobs, schema.
#include <bit>
#include <cmath>
#include <cstring>
#include <nlohmann/json.hpp>

#include "memory/internal.h"

namespace aikernel::memory::internal {

static_assert(std::endian::native == std::endian::little,
              "embedding blobs are little-endian float32");

Status Invalid(std::string_view field, std::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat(AV(field), ": ", AV(why)));
}

Status NamespaceNotFound(std::string_view ns) {
  return absl::NotFoundError(
      absl::StrCat("memory namespace ", AV(ns), " does not exist"));
}

Status CheckNamespaceName(std::string_view name) {
  std::string_view id;
  if (name.starts_with("agent/")) {
    id = name.substr(6);
  } else if (name.starts_with("shared/")) {
    id = name.substr(7);
  } else {
    return Invalid("namespace",
                   absl::StrCat("\"", AV(name),
                                "\" must be agent/<name> or shared/<name>"));
  }
  if (id.empty() || id.size() > 128) {
    return Invalid("namespace", "name part must be 1..128 characters");
  }
  for (char c : id) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' ||
          c == '-')) {
      return Invalid("namespace",
                     absl::StrCat("\"", AV(name),
                                  "\": name part allows only [A-Za-z0-9._-]"));
    }
  }
  return absl::OkStatus();
}

Status CheckKey(std::string_view key, std::string_view field) {
  if (key.empty() || key.size() > 1024) {
    return Invalid(field, "must be 1..1024 bytes");
  }
  if (!ValidUtf8(key) || key.find('\0') != std::string_view::npos) {
    return Invalid(field, "must be UTF-8 without NUL");
  }
  return absl::OkStatus();
}

Status CheckEmbedding(const std::vector<float>& v, std::string_view field) {
  if (v.size() > 4096) return Invalid(field, "dimension over 4096");
  double ss = 0;
  for (float f : v) {
    if (!std::isfinite(f)) return Invalid(field, "contains NaN or infinity");
    ss += double{f} * f;
  }
  if (!v.empty() && ss == 0) return Invalid(field, "is the zero vector");
  return absl::OkStatus();
}

StatusOr<std::string> CanonicalJson(std::string_view text, bool object_only,
                                    std::string_view field) {
  if (object_only && text.empty()) return std::string("{}");
  nlohmann::json j = nlohmann::json::parse(text.begin(), text.end(), nullptr,
                                           /*allow_exceptions=*/false);
  if (j.is_discarded()) return Invalid(field, "is not valid JSON");
  if (object_only && !j.is_object()) {
    return Invalid(field, "must be a JSON object");
  }
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string EncodeFloats(const std::vector<float>& v) {
  std::string out(v.size() * sizeof(float), '\0');
  if (!v.empty()) std::memcpy(out.data(), v.data(), out.size());
  return out;
}

bool DecodeFloats(std::string_view blob, std::vector<float>* out) {
  if (blob.size() % sizeof(float) != 0) return false;
  out->resize(blob.size() / sizeof(float));
  if (!blob.empty()) std::memcpy(out->data(), blob.data(), blob.size());
  return true;
}

int64_t TtlToExpiry(int64_t now_ns, std::chrono::nanoseconds ttl) {
  if (ttl.count() <= 0) return 0;
  if (ttl.count() > INT64_MAX - now_ns) return 0;
  return now_ns + ttl.count();
}

std::string PrefixEnd(std::string_view prefix) {
  std::string end(prefix);
  while (!end.empty()) {
    auto c = static_cast<unsigned char>(end.back());
    if (c < 0xff) {
      end.back() = static_cast<char>(c + 1);
      return end;
    }
    end.pop_back();
  }
  return end;
}

StatusOr<store::Statement*> StmtCache::Get(store::Database& db,
                                           const std::string& sql) {
  auto it = stmts_.find(sql);
  if (it != stmts_.end()) return it->second.get();
  AIK_ASSIGN_OR_RETURN(store::Statement st, db.Prepare(sql));
  auto p = std::make_unique<store::Statement>(std::move(st));
  store::Statement* raw = p.get();
  stmts_.emplace(sql, std::move(p));
  return raw;
}

// Schema of memory.db. Times are ns since the Unix epoch; expires_ns 0 is
// "never". See docs/memory.md.
const store::Migrations kMigrations = {
    R"sql(
CREATE TABLE namespaces(
  name TEXT PRIMARY KEY,
  max_bytes INTEGER NOT NULL,
  max_records INTEGER NOT NULL,
  dim INTEGER NOT NULL,
  used_bytes INTEGER NOT NULL DEFAULT 0,
  used_records INTEGER NOT NULL DEFAULT 0,
  next_event_seq INTEGER NOT NULL DEFAULT 1,
  created_ns INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE kv(
  ns TEXT NOT NULL,
  key TEXT NOT NULL,
  version INTEGER NOT NULL,
  deleted INTEGER NOT NULL,
  value BLOB NOT NULL,
  created_ns INTEGER NOT NULL,
  expires_ns INTEGER NOT NULL,
  PRIMARY KEY(ns, key, version)
) WITHOUT ROWID;
CREATE INDEX kv_expiry ON kv(expires_ns) WHERE expires_ns > 0;
-- Newest version number ever written per key (survives compaction, so
-- versions are never reused).
CREATE TABLE kv_head(
  ns TEXT NOT NULL,
  key TEXT NOT NULL,
  version INTEGER NOT NULL,
  PRIMARY KEY(ns, key)
) WITHOUT ROWID;

CREATE TABLE events(
  ns TEXT NOT NULL,
  seq INTEGER NOT NULL,
  time_ns INTEGER NOT NULL,
  kind TEXT NOT NULL,
  payload TEXT NOT NULL,
  expires_ns INTEGER NOT NULL,
  PRIMARY KEY(ns, seq)
) WITHOUT ROWID;
CREATE INDEX events_time ON events(ns, time_ns, seq);
CREATE INDEX events_kind ON events(ns, kind, time_ns, seq);
CREATE INDEX events_expiry ON events(expires_ns) WHERE expires_ns > 0;

-- Small columns first, the embedding last: a row with an embedding spills
-- into overflow pages, and SQLite reads those only for columns stored there,
-- so filters and the FTS join never touch the vector bytes.
CREATE TABLE docs(
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  ns TEXT NOT NULL,
  doc_id TEXT NOT NULL,
  version INTEGER NOT NULL,
  created_ns INTEGER NOT NULL,
  updated_ns INTEGER NOT NULL,
  expires_ns INTEGER NOT NULL,
  metadata TEXT NOT NULL,
  text TEXT NOT NULL,
  embedding BLOB,
  UNIQUE(ns, doc_id)
);
CREATE INDEX docs_updated ON docs(ns, updated_ns);
CREATE INDEX docs_expiry ON docs(expires_ns) WHERE expires_ns > 0;
CREATE VIRTUAL TABLE docs_fts USING fts5(
  text, content='docs', content_rowid='id', tokenize='unicode61');
CREATE TRIGGER docs_ai AFTER INSERT ON docs BEGIN
  INSERT INTO docs_fts(rowid, text) VALUES (new.id, new.text);
END;
CREATE TRIGGER docs_ad AFTER DELETE ON docs BEGIN
  INSERT INTO docs_fts(docs_fts, rowid, text) VALUES ('delete', old.id, old.text);
END;
CREATE TRIGGER docs_au AFTER UPDATE OF text ON docs BEGIN
  INSERT INTO docs_fts(docs_fts, rowid, text) VALUES ('delete', old.id, old.text);
  INSERT INTO docs_fts(rowid, text) VALUES (new.id, new.text);
END;
)sql",
};

}  // namespace aikernel::memory::internal
