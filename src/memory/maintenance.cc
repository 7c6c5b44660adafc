// Memory: TTL purge (the writer's idle hook) and compaction of superseded
// key/value versions.
#include <map>

#include "memory/internal.h"

namespace aikernel::memory {

namespace {

struct Freed {
  int64_t bytes = 0, records = 0;
};

Status ReleaseUsage(Memory::Shared* s, Database& db,
                    const std::map<std::string, Freed>& freed) {
  for (const auto& [ns, f] : freed) {
    AIK_ASSIGN_OR_RETURN(
        Statement * st,
        s->W(db,
             "UPDATE namespaces SET used_bytes = max(0, used_bytes - ?1), "
             "used_records = max(0, used_records - ?2) WHERE name = ?3"));
    Use u(st);
    AIK_RETURN_IF_ERROR(st->BindInt64(1, f.bytes));
    AIK_RETURN_IF_ERROR(st->BindInt64(2, f.records));
    AIK_RETURN_IF_ERROR(st->BindText(3, ns));
    AIK_RETURN_IF_ERROR(st->Run());
  }
  return absl::OkStatus();
}

// Runs a DELETE ... RETURNING ns, bytes[, id, has_embedding]; accumulates.
StatusOr<int64_t> DeleteReturning(Memory::Shared* s, Database& db,
                                  const std::string& sql,
                                  const std::function<Status(Statement&)>& bind,
                                  std::map<std::string, Freed>* freed,
                                  bool docs) {
  AIK_ASSIGN_OR_RETURN(Statement * st, s->W(db, sql));
  Use u(st);
  AIK_RETURN_IF_ERROR(bind(*st));
  int64_t n = 0;
  for (;;) {
    AIK_ASSIGN_OR_RETURN(bool row, st->Step());
    if (!row) break;
    ++n;
    Freed& f = (*freed)[std::string(st->ColumnText(0))];
    f.bytes += st->ColumnInt64(1);
    f.records += 1;
    if (docs && st->ColumnInt64(3) != 0) {
      internal::VectorDelta d;
      d.op = internal::VectorDelta::kRemove;
      d.ns = std::string(st->ColumnText(0));
      d.id = st->ColumnInt64(2);
      s->pending.push_back(std::move(d));
    }
  }
  return n;
}

}  // namespace

StatusOr<PurgeStats> Memory::Shared::Purge(Database& db) {
  const int64_t now = Now();
  const int64_t limit = static_cast<int64_t>(opt.purge_batch);
  auto bind = [&](Statement& st) -> Status {
    AIK_RETURN_IF_ERROR(st.BindInt64(1, now));
    return st.BindInt64(2, limit);
  };
  std::map<std::string, Freed> freed;
  PurgeStats stats;
  AIK_ASSIGN_OR_RETURN(
      stats.kv_versions,
      DeleteReturning(
          this, db,
          "DELETE FROM kv WHERE (ns, key, version) IN (SELECT ns, key, "
          "version FROM kv WHERE expires_ns > 0 AND expires_ns <= ?1 LIMIT "
          "?2) RETURNING ns, length(CAST(key AS BLOB)) + length(value)",
          bind, &freed, false));
  AIK_ASSIGN_OR_RETURN(
      stats.events,
      DeleteReturning(
          this, db,
          "DELETE FROM events WHERE (ns, seq) IN (SELECT ns, seq FROM events "
          "WHERE expires_ns > 0 AND expires_ns <= ?1 LIMIT ?2) RETURNING ns, "
          "length(CAST(kind AS BLOB)) + length(CAST(payload AS BLOB))",
          bind, &freed, false));
  AIK_ASSIGN_OR_RETURN(
      stats.documents,
      DeleteReturning(
          this, db,
          "DELETE FROM docs WHERE id IN (SELECT id FROM docs WHERE "
          "expires_ns > 0 AND expires_ns <= ?1 LIMIT ?2) RETURNING ns, "
          "length(CAST(doc_id AS BLOB)) + length(CAST(text AS BLOB)) + "
          "length(CAST(metadata AS BLOB)) + ifnull(length(embedding), 0), id, "
          "embedding IS NOT NULL",
          bind, &freed, true));
  stats.more = stats.kv_versions == limit || stats.events == limit ||
               stats.documents == limit;
  AIK_RETURN_IF_ERROR(ReleaseUsage(this, db, freed));
  return stats;
}

void Memory::Shared::MaybePurge(Database& db) {
  const auto now = std::chrono::steady_clock::now();
  if (now - last_purge < opt.purge_interval) return;
  last_purge = now;
  if (!db.Exec("SAVEPOINT aik_purge").ok()) return;
  const size_t pending_before = pending.size();
  if (!Purge(db).ok()) {
    db.Exec("ROLLBACK TO aik_purge").IgnoreError();
    pending.resize(pending_before);
  }
  db.Exec("RELEASE aik_purge").IgnoreError();
}

StatusOr<PurgeStats> Memory::PurgeExpired() {
  Shared* s = s_.get();
  return s->Write<PurgeStats>(
      [s](Database& db) -> StatusOr<PurgeStats> { return s->Purge(db); });
}

StatusOr<CompactStats> Memory::Compact(std::string_view ns,
                                       std::chrono::nanoseconds horizon) {
  if (!ns.empty()) AIK_RETURN_IF_ERROR(internal::CheckNamespaceName(ns));
  if (horizon.count() < 0) return internal::Invalid("horizon", "is negative");
  Shared* s = s_.get();
  return s->Write<CompactStats>(
      [s, ns, horizon](Database& db) -> StatusOr<CompactStats> {
        if (!ns.empty()) AIK_RETURN_IF_ERROR(s->LoadNs(db, ns).status());
        const int64_t cutoff = s->Now() - horizon.count();
        auto bind = [&](Statement& st) -> Status {
          AIK_RETURN_IF_ERROR(st.BindText(1, ns));
          return st.BindInt64(2, cutoff);
        };
        std::map<std::string, Freed> freed;
        CompactStats stats;
        // Superseded versions (a newer version exists) created before the
        // cutoff.
        AIK_ASSIGN_OR_RETURN(
            int64_t a,
            DeleteReturning(
                s, db,
                "DELETE FROM kv WHERE (?1 = '' OR ns = ?1) AND created_ns < ?2 "
                "AND version < (SELECT h.version FROM kv_head h WHERE h.ns = "
                "kv.ns AND h.key = kv.key) RETURNING ns, length(CAST(key AS "
                "BLOB)) + length(value)",
                bind, &freed, false));
        // Tombstones older than the cutoff (their older versions went above).
        // kv_head keeps the version number, so versions are never reused.
        AIK_ASSIGN_OR_RETURN(
            int64_t b,
            DeleteReturning(
                s, db,
                "DELETE FROM kv WHERE (?1 = '' OR ns = ?1) AND deleted = 1 AND "
                "created_ns < ?2 RETURNING ns, length(CAST(key AS BLOB)) + "
                "length(value)",
                bind, &freed, false));
        stats.versions_dropped = a + b;
        for (const auto& [n, f] : freed) stats.bytes_freed += f.bytes;
        AIK_RETURN_IF_ERROR(ReleaseUsage(s, db, freed));
        return stats;
      });
}

}  // namespace aikernel::memory
