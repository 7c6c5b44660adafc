// Memory: JSONL export and import (format: docs/memory.md).
#include <map>
#include <nlohmann/json.hpp>

#include "memory/internal.h"

namespace aikernel::memory {

using json = nlohmann::ordered_json;

namespace {

std::string Dump(const json& j) {
  return j.dump(-1, ' ', false, json::error_handler_t::strict);
}

// Parsed JSON is canonical (we stored it that way); embed it as a value.
json Embed(std::string_view canonical) {
  return json::parse(canonical.begin(), canonical.end(), nullptr, false);
}

// Runs `sql` on the leased snapshot with ?1 = `ns` and ?2 = `now`, and
// emits one line a row, built by `to_json`.
Status EmitRows(Memory::Shared::Lease& lease, const std::string& sql,
                const std::string& ns, int64_t now,
                const std::function<Status(std::string_view)>& emit,
                const std::function<json(Statement*)>& to_json) {
  AIK_ASSIGN_OR_RETURN(Statement * st, lease.Stmt(sql));
  Use u(st);
  AIK_RETURN_IF_ERROR(st->BindText(1, ns));
  AIK_RETURN_IF_ERROR(st->BindInt64(2, now));
  for (;;) {
    AIK_ASSIGN_OR_RETURN(bool row, st->Step());
    if (!row) return absl::OkStatus();
    AIK_RETURN_IF_ERROR(emit(Dump(to_json(st))));
  }
}

}  // namespace

static Status ExportSelected(
    Memory::Shared* s, std::string_view name, bool exact,
    const std::function<Status(std::string_view)>& emit);

Status Memory::Export(std::string_view prefix,
                      const std::function<Status(std::string_view)>& emit) {
  return ExportSelected(s_.get(), prefix, /*exact=*/false, emit);
}

Status Memory::ExportNamespace(
    std::string_view ns, const std::function<Status(std::string_view)>& emit) {
  AIK_RETURN_IF_ERROR(internal::CheckNamespaceName(ns));
  return ExportSelected(s_.get(), ns, /*exact=*/true, emit);
}

// `exact`: the one namespace named `name` (NOT_FOUND if missing); else every
// namespace whose name starts with `name`.
static Status ExportSelected(
    Memory::Shared* s, std::string_view name, bool exact,
    const std::function<Status(std::string_view)>& emit) {
  const int64_t now = s->Now();
  AIK_ASSIGN_OR_RETURN(auto lease, s->Read());
  AIK_RETURN_IF_ERROR(lease.BeginSnapshot());

  std::vector<NsRow> namespaces;
  {
    AIK_ASSIGN_OR_RETURN(
        Statement * st,
        lease.Stmt(exact ? "SELECT name, max_bytes, max_records, dim, "
                           "next_event_seq, created_ns FROM namespaces WHERE "
                           "name = ?1"
                         : "SELECT name, max_bytes, max_records, dim, "
                           "next_event_seq, created_ns FROM namespaces WHERE "
                           "name >= ?1 AND (?2 = '' OR name < ?2) ORDER BY "
                           "name"));
    Use u(st);
    AIK_RETURN_IF_ERROR(st->BindText(1, name));
    if (!exact) {
      AIK_RETURN_IF_ERROR(st->BindText(2, internal::PrefixEnd(name)));
    }
    for (;;) {
      AIK_ASSIGN_OR_RETURN(bool row, st->Step());
      if (!row) break;
      NsRow r;
      r.name = std::string(st->ColumnText(0));
      r.max_bytes = st->ColumnInt64(1);
      r.max_records = st->ColumnInt64(2);
      r.dim = static_cast<int32_t>(st->ColumnInt64(3));
      r.next_event_seq = st->ColumnInt64(4);
      r.created_ns = st->ColumnInt64(5);
      namespaces.push_back(std::move(r));
    }
  }
  if (exact && namespaces.empty()) return internal::NamespaceNotFound(name);
  for (const NsRow& ns : namespaces) {
    json j;
    j["type"] = "namespace";
    j["name"] = ns.name;
    j["max_bytes"] = ns.max_bytes;
    j["max_records"] = ns.max_records;
    j["dim"] = ns.dim;
    j["next_event_seq"] = ns.next_event_seq;
    j["created_ns"] = ns.created_ns;
    AIK_RETURN_IF_ERROR(emit(Dump(j)));
    AIK_RETURN_IF_ERROR(EmitRows(
        lease,
        "SELECT key, version, deleted, value, created_ns, expires_ns FROM kv "
        "WHERE ns = ?1 AND (expires_ns = 0 OR expires_ns > ?2) ORDER BY key, "
        "version",
        ns.name, now, emit, [&](Statement* st) {
          json k;
          k["type"] = "kv";
          k["ns"] = ns.name;
          k["key"] = std::string(st->ColumnText(0));
          k["version"] = st->ColumnInt64(1);
          k["deleted"] = st->ColumnInt64(2) != 0;
          std::string_view v = st->ColumnBlob(3);
          if (internal::ValidUtf8(v)) {
            k["value"] = std::string(v);
          } else {
            k["value_b64"] = internal::Base64Encode(v);
          }
          k["created_ns"] = st->ColumnInt64(4);
          k["expires_ns"] = st->ColumnInt64(5);
          return k;
        }));
    AIK_RETURN_IF_ERROR(EmitRows(
        lease,
        "SELECT seq, time_ns, kind, payload, expires_ns FROM events WHERE ns "
        "= ?1 AND (expires_ns = 0 OR expires_ns > ?2) ORDER BY seq",
        ns.name, now, emit, [&](Statement* st) {
          json e;
          e["type"] = "event";
          e["ns"] = ns.name;
          e["seq"] = st->ColumnInt64(0);
          e["time_ns"] = st->ColumnInt64(1);
          e["kind"] = std::string(st->ColumnText(2));
          e["payload"] = Embed(st->ColumnText(3));
          e["expires_ns"] = st->ColumnInt64(4);
          return e;
        }));
    AIK_RETURN_IF_ERROR(EmitRows(
        lease,
        "SELECT doc_id, version, text, metadata, embedding, created_ns, "
        "updated_ns, expires_ns FROM docs WHERE ns = ?1 AND (expires_ns = 0 "
        "OR expires_ns > ?2) ORDER BY doc_id",
        ns.name, now, emit, [&](Statement* st) {
          json d;
          d["type"] = "doc";
          d["ns"] = ns.name;
          d["id"] = std::string(st->ColumnText(0));
          d["version"] = st->ColumnInt64(1);
          d["text"] = std::string(st->ColumnText(2));
          d["metadata"] = Embed(st->ColumnText(3));
          if (!st->ColumnIsNull(4)) {
            d["embedding_b64"] = internal::Base64Encode(st->ColumnBlob(4));
          }
          d["created_ns"] = st->ColumnInt64(5);
          d["updated_ns"] = st->ColumnInt64(6);
          d["expires_ns"] = st->ColumnInt64(7);
          return d;
        }));
  }
  return absl::OkStatus();
}

namespace {

struct ImportRecord {
  enum Type { kNamespace, kKv, kEvent, kDoc } type;
  size_t line = 0;
  std::string ns, key, value, text, metadata, embedding, kind;
  int64_t version = 0, created_ns = 0, expires_ns = 0, time_ns = 0, seq = 0,
          updated_ns = 0;
  bool deleted = false;
  NamespaceConfig config;
  int64_t next_event_seq = 1;
};

Status LineError(size_t line, std::string_view why) {
  return absl::InvalidArgumentError(
      absl::StrCat("import line ", line, ": ", AV(why)));
}

StatusOr<ImportRecord> ParseLine(std::string_view text, size_t line) {
  json j = json::parse(text.begin(), text.end(), nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    return LineError(line, "not a JSON object");
  }
  auto str = [&](const char* f, std::string* out) -> Status {
    auto it = j.find(f);
    if (it == j.end() || !it->is_string()) {
      return LineError(line, absl::StrCat("\"", f, "\" must be a string"));
    }
    *out = it->get<std::string>();
    return absl::OkStatus();
  };
  auto num = [&](const char* f, int64_t* out) -> Status {
    auto it = j.find(f);
    if (it == j.end() || !it->is_number_integer()) {
      return LineError(line, absl::StrCat("\"", f, "\" must be an integer"));
    }
    *out = it->get<int64_t>();
    return absl::OkStatus();
  };
  ImportRecord r;
  r.line = line;
  std::string type;
  AIK_RETURN_IF_ERROR(str("type", &type));
  if (type == "namespace") {
    r.type = ImportRecord::kNamespace;
    AIK_RETURN_IF_ERROR(str("name", &r.ns));
    int64_t dim = 0;
    AIK_RETURN_IF_ERROR(num("max_bytes", &r.config.max_bytes));
    AIK_RETURN_IF_ERROR(num("max_records", &r.config.max_records));
    AIK_RETURN_IF_ERROR(num("dim", &dim));
    AIK_RETURN_IF_ERROR(num("next_event_seq", &r.next_event_seq));
    AIK_RETURN_IF_ERROR(num("created_ns", &r.created_ns));
    if (dim < 0 || dim > 4096) return LineError(line, "\"dim\" out of range");
    r.config.dim = static_cast<int32_t>(dim);
    r.config.name = r.ns;
    Status s = internal::CheckNamespaceName(r.ns);
    if (!s.ok()) return LineError(line, std::string(s.message()));
    return r;
  }
  AIK_RETURN_IF_ERROR(str("ns", &r.ns));
  if (type == "kv") {
    r.type = ImportRecord::kKv;
    AIK_RETURN_IF_ERROR(str("key", &r.key));
    AIK_RETURN_IF_ERROR(num("version", &r.version));
    auto d = j.find("deleted");
    if (d == j.end() || !d->is_boolean()) {
      return LineError(line, "\"deleted\" must be a boolean");
    }
    r.deleted = d->get<bool>();
    if (j.contains("value_b64")) {
      std::string b64;
      AIK_RETURN_IF_ERROR(str("value_b64", &b64));
      if (!internal::Base64Decode(b64, &r.value)) {
        return LineError(line, "\"value_b64\" is not base64");
      }
    } else {
      AIK_RETURN_IF_ERROR(str("value", &r.value));
    }
    AIK_RETURN_IF_ERROR(num("created_ns", &r.created_ns));
    AIK_RETURN_IF_ERROR(num("expires_ns", &r.expires_ns));
    Status s = internal::CheckKey(r.key, "key");
    if (!s.ok()) return LineError(line, std::string(s.message()));
    if (r.version <= 0) return LineError(line, "\"version\" must be >= 1");
  } else if (type == "event") {
    r.type = ImportRecord::kEvent;
    AIK_RETURN_IF_ERROR(num("seq", &r.seq));
    AIK_RETURN_IF_ERROR(num("time_ns", &r.time_ns));
    AIK_RETURN_IF_ERROR(str("kind", &r.kind));
    AIK_RETURN_IF_ERROR(num("expires_ns", &r.expires_ns));
    auto p = j.find("payload");
    if (p == j.end()) return LineError(line, "\"payload\" is missing");
    // Canonical: sorted keys, as stored by AppendEvent.
    r.value = nlohmann::json::parse(p->dump()).dump();
    if (r.seq <= 0) return LineError(line, "\"seq\" must be >= 1");
  } else if (type == "doc") {
    r.type = ImportRecord::kDoc;
    AIK_RETURN_IF_ERROR(str("id", &r.key));
    AIK_RETURN_IF_ERROR(num("version", &r.version));
    AIK_RETURN_IF_ERROR(str("text", &r.text));
    auto m = j.find("metadata");
    if (m == j.end() || !m->is_object()) {
      return LineError(line, "\"metadata\" must be an object");
    }
    r.metadata = nlohmann::json::parse(m->dump()).dump();
    if (j.contains("embedding_b64")) {
      std::string b64;
      AIK_RETURN_IF_ERROR(str("embedding_b64", &b64));
      if (!internal::Base64Decode(b64, &r.embedding) ||
          r.embedding.size() % 4 != 0 || r.embedding.empty()) {
        return LineError(line, "\"embedding_b64\" is not base64 float32");
      }
    }
    AIK_RETURN_IF_ERROR(num("created_ns", &r.created_ns));
    AIK_RETURN_IF_ERROR(num("updated_ns", &r.updated_ns));
    AIK_RETURN_IF_ERROR(num("expires_ns", &r.expires_ns));
    if (r.key.empty()) return LineError(line, "\"id\" is empty");
  } else {
    return LineError(line, absl::StrCat("unknown type \"", type, "\""));
  }
  return r;
}

Status AtLine(size_t line, const Status& s) {
  return absl::Status(s.code(),
                      absl::StrCat("import line ", line, ": ", s.message()));
}

}  // namespace

StatusOr<ImportStats> Memory::Import(std::string_view jsonl) {
  std::vector<ImportRecord> records;
  size_t line = 0;
  while (!jsonl.empty()) {
    ++line;
    size_t nl = jsonl.find('\n');
    std::string_view text = jsonl.substr(0, nl);
    jsonl = nl == std::string_view::npos ? std::string_view()
                                         : jsonl.substr(nl + 1);
    if (text.find_first_not_of(" \t\r") == std::string_view::npos) continue;
    AIK_ASSIGN_OR_RETURN(ImportRecord r, ParseLine(text, line));
    records.push_back(std::move(r));
  }
  Shared* s = s_.get();
  return s->Write<ImportStats>([s, &records](
                                   Database& db) -> StatusOr<ImportStats> {
    ImportStats stats;
    struct Acc {
      NsRow row;
      int64_t bytes = 0, records = 0, max_seq = 0;
      bool docs = false;
    };
    std::map<std::string, Acc, std::less<>> touched;
    auto ns_of = [&](const ImportRecord& r) -> StatusOr<Acc*> {
      auto it = touched.find(r.ns);
      if (it != touched.end()) return &it->second;
      StatusOr<NsRow> row = s->LoadNs(db, r.ns);
      if (!row.ok()) return AtLine(r.line, row.status());
      Acc a;
      a.row = std::move(*row);
      return &touched.emplace(r.ns, std::move(a)).first->second;
    };
    for (const ImportRecord& r : records) {
      switch (r.type) {
        case ImportRecord::kNamespace: {
          StatusOr<NsRow> existing = s->LoadNs(db, r.ns);
          if (existing.ok()) {
            if (existing->dim != 0 && r.config.dim != 0 &&
                existing->dim != r.config.dim) {
              return AtLine(r.line,
                            absl::FailedPreconditionError(absl::StrCat(
                                "namespace ", r.ns, " has dim ", existing->dim,
                                ", the export has ", r.config.dim)));
            }
            break;
          }
          if (!absl::IsNotFound(existing.status())) return existing.status();
          AIK_ASSIGN_OR_RETURN(
              Statement * st,
              s->W(db,
                   "INSERT INTO namespaces(name, max_bytes, max_records, dim, "
                   "next_event_seq, created_ns) VALUES (?1, ?2, ?3, ?4, ?5, "
                   "?6)"));
          Use u(st);
          AIK_RETURN_IF_ERROR(st->BindText(1, r.ns));
          AIK_RETURN_IF_ERROR(st->BindInt64(2, r.config.max_bytes));
          AIK_RETURN_IF_ERROR(st->BindInt64(3, r.config.max_records));
          AIK_RETURN_IF_ERROR(st->BindInt64(4, r.config.dim));
          AIK_RETURN_IF_ERROR(st->BindInt64(5, r.next_event_seq));
          AIK_RETURN_IF_ERROR(st->BindInt64(6, r.created_ns));
          AIK_RETURN_IF_ERROR(st->Run());
          ++stats.namespaces;
          break;
        }
        case ImportRecord::kKv: {
          AIK_ASSIGN_OR_RETURN(Acc * a, ns_of(r));
          {
            AIK_ASSIGN_OR_RETURN(
                Statement * st,
                s->W(db,
                     "INSERT INTO kv(ns, key, version, deleted, value, "
                     "created_ns, expires_ns) VALUES (?1, ?2, ?3, ?4, ?5, ?6, "
                     "?7)"));
            Use u(st);
            AIK_RETURN_IF_ERROR(st->BindText(1, r.ns));
            AIK_RETURN_IF_ERROR(st->BindText(2, r.key));
            AIK_RETURN_IF_ERROR(st->BindInt64(3, r.version));
            AIK_RETURN_IF_ERROR(st->BindInt64(4, r.deleted ? 1 : 0));
            AIK_RETURN_IF_ERROR(st->BindBlob(5, r.value));
            AIK_RETURN_IF_ERROR(st->BindInt64(6, r.created_ns));
            AIK_RETURN_IF_ERROR(st->BindInt64(7, r.expires_ns));
            Status ins = st->Run();
            if (!ins.ok()) return AtLine(r.line, ins);
          }
          {
            AIK_ASSIGN_OR_RETURN(
                Statement * st,
                s->W(db,
                     "INSERT INTO kv_head(ns, key, version) VALUES (?1, ?2, "
                     "?3) ON CONFLICT(ns, key) DO UPDATE SET version = "
                     "max(version, excluded.version)"));
            Use u(st);
            AIK_RETURN_IF_ERROR(st->BindText(1, r.ns));
            AIK_RETURN_IF_ERROR(st->BindText(2, r.key));
            AIK_RETURN_IF_ERROR(st->BindInt64(3, r.version));
            AIK_RETURN_IF_ERROR(st->Run());
          }
          a->bytes += static_cast<int64_t>(r.key.size() + r.value.size());
          a->records += 1;
          ++stats.kv_versions;
          break;
        }
        case ImportRecord::kEvent: {
          AIK_ASSIGN_OR_RETURN(Acc * a, ns_of(r));
          Status ins = s->InsertEvent(db, r.ns, r.seq, r.time_ns, r.kind,
                                      r.value, r.expires_ns);
          if (!ins.ok()) return AtLine(r.line, ins);
          a->bytes += static_cast<int64_t>(r.kind.size() + r.value.size());
          a->records += 1;
          a->max_seq = std::max(a->max_seq, r.seq);
          ++stats.events;
          break;
        }
        case ImportRecord::kDoc: {
          AIK_ASSIGN_OR_RETURN(Acc * a, ns_of(r));
          if (!r.embedding.empty()) {
            Status d = s->CheckDim(db, a->row, r.embedding.size() / 4,
                                   "embedding_b64");
            if (!d.ok()) return AtLine(r.line, d);
          }
          AIK_ASSIGN_OR_RETURN(
              Statement * st,
              s->W(db,
                   "INSERT INTO docs(ns, doc_id, version, text, metadata, "
                   "embedding, created_ns, updated_ns, expires_ns) VALUES "
                   "(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"));
          Use u(st);
          AIK_RETURN_IF_ERROR(st->BindText(1, r.ns));
          AIK_RETURN_IF_ERROR(st->BindText(2, r.key));
          AIK_RETURN_IF_ERROR(st->BindInt64(3, r.version));
          AIK_RETURN_IF_ERROR(st->BindText(4, r.text));
          AIK_RETURN_IF_ERROR(st->BindText(5, r.metadata));
          if (r.embedding.empty()) {
            AIK_RETURN_IF_ERROR(st->BindNull(6));
          } else {
            AIK_RETURN_IF_ERROR(st->BindBlob(6, r.embedding));
          }
          AIK_RETURN_IF_ERROR(st->BindInt64(7, r.created_ns));
          AIK_RETURN_IF_ERROR(st->BindInt64(8, r.updated_ns));
          AIK_RETURN_IF_ERROR(st->BindInt64(9, r.expires_ns));
          Status ins = st->Run();
          if (!ins.ok()) return AtLine(r.line, ins);
          a->bytes +=
              static_cast<int64_t>(r.key.size() + r.text.size() +
                                   r.metadata.size() + r.embedding.size());
          a->records += 1;
          a->docs = true;
          ++stats.documents;
          break;
        }
      }
    }
    for (auto& [name, a] : touched) {
      Status q = s->Charge(db, a.row, a.bytes, a.records);
      if (!q.ok()) return q;
      if (a.max_seq >= a.row.next_event_seq) {
        AIK_ASSIGN_OR_RETURN(
            Statement * st,
            s->W(db,
                 "UPDATE namespaces SET next_event_seq = ?1 WHERE name = ?2"));
        Use u(st);
        AIK_RETURN_IF_ERROR(st->BindInt64(1, a.max_seq + 1));
        AIK_RETURN_IF_ERROR(st->BindText(2, name));
        AIK_RETURN_IF_ERROR(st->Run());
      }
      if (a.docs) {
        internal::VectorDelta d;
        d.op = internal::VectorDelta::kDrop;
        d.ns = name;
        s->pending.push_back(std::move(d));
      }
    }
    return stats;
  });
}

}  // namespace aikernel::memory
