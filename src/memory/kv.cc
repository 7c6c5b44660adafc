// Memory: versioned key/value (put, get, delete, list, history, batch, CAS).
#include "memory/internal.h"

namespace aikernel::memory {

namespace {

constexpr size_t kMaxValueBytes = size_t{16} << 20;

Status CheckValue(std::string_view value, std::string_view field) {
  if (value.size() > kMaxValueBytes) {
    return internal::Invalid(field, "is larger than 16 MiB");
  }
  return absl::OkStatus();
}

constexpr char kKvColumns[] =
    "key, version, deleted, value, created_ns, expires_ns";

KvEntry ReadEntry(const Statement& st, bool with_value) {
  KvEntry e;
  e.key = std::string(st.ColumnText(0));
  e.version = st.ColumnInt64(1);
  e.deleted = st.ColumnInt64(2) != 0;
  if (with_value) e.value = std::string(st.ColumnBlob(3));
  e.created_ns = st.ColumnInt64(4);
  e.expires_ns = st.ColumnInt64(5);
  return e;
}

bool Live(const KvEntry& e, int64_t now) {
  return !e.deleted && (e.expires_ns == 0 || e.expires_ns > now);
}

// Writer thread: one put (deleted=false) or tombstone (deleted=true).
StatusOr<KvEntry> WriteOne(Memory::Shared* s, Database& db, NsRow& ns,
                           std::string_view key, std::string_view value,
                           const PutOptions& options, bool deleted,
                           std::string_view field) {
  const int64_t now = s->Now();
  int64_t head = 0;
  {
    AIK_ASSIGN_OR_RETURN(
        Statement * st,
        s->W(db, "SELECT version FROM kv_head WHERE ns = ?1 AND key = ?2"));
    Use u(st);
    AIK_RETURN_IF_ERROR(st->BindText(1, ns.name));
    AIK_RETURN_IF_ERROR(st->BindText(2, key));
    AIK_ASSIGN_OR_RETURN(bool row, st->Step());
    if (row) head = st->ColumnInt64(0);
  }
  int64_t live = 0;
  if (head > 0) {
    AIK_ASSIGN_OR_RETURN(
        Statement * st,
        s->W(db, absl::StrCat("SELECT ", kKvColumns,
                              " FROM kv WHERE ns = ?1 AND key = ?2 AND "
                              "version = ?3")));
    Use u(st);
    AIK_RETURN_IF_ERROR(st->BindText(1, ns.name));
    AIK_RETURN_IF_ERROR(st->BindText(2, key));
    AIK_RETURN_IF_ERROR(st->BindInt64(3, head));
    AIK_ASSIGN_OR_RETURN(bool row, st->Step());
    if (row && Live(ReadEntry(*st, false), now)) live = head;
  }
  if (options.expected_version && *options.expected_version != live) {
    return absl::FailedPreconditionError(
        absl::StrCat("memory ", ns.name, " key \"", AV(key),
                     "\": version mismatch: "
                     "expected ",
                     *options.expected_version, ", current ", live,
                     live == 0 ? " (absent)" : ""));
  }
  if (deleted && live == 0) {
    return absl::NotFoundError(absl::StrCat("memory ", ns.name, " key \"",
                                            AV(key), "\" does not exist"));
  }
  KvEntry e;
  e.key = std::string(key);
  e.version = head + 1;
  e.deleted = deleted;
  e.created_ns = now;
  e.expires_ns = deleted ? 0 : internal::TtlToExpiry(now, options.ttl);
  AIK_RETURN_IF_ERROR(
      s->Charge(db, ns, static_cast<int64_t>(key.size() + value.size()), 1));
  {
    AIK_ASSIGN_OR_RETURN(
        Statement * st,
        s->W(db,
             "INSERT INTO kv(ns, key, version, deleted, value, created_ns, "
             "expires_ns) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"));
    Use u(st);
    AIK_RETURN_IF_ERROR(st->BindText(1, ns.name));
    AIK_RETURN_IF_ERROR(st->BindText(2, key));
    AIK_RETURN_IF_ERROR(st->BindInt64(3, e.version));
    AIK_RETURN_IF_ERROR(st->BindInt64(4, deleted ? 1 : 0));
    // A null pointer would bind NULL; an empty value is a zero-length blob.
    static const char kEmpty[1] = {0};
    AIK_RETURN_IF_ERROR(st->BindBlobNoCopy(
        5, value.empty() ? kEmpty : value.data(), value.size()));
    AIK_RETURN_IF_ERROR(st->BindInt64(6, e.created_ns));
    AIK_RETURN_IF_ERROR(st->BindInt64(7, e.expires_ns));
    AIK_RETURN_IF_ERROR(st->Run());
  }
  {
    AIK_ASSIGN_OR_RETURN(
        Statement * st,
        s->W(db,
             "INSERT INTO kv_head(ns, key, version) VALUES (?1, ?2, ?3) "
             "ON CONFLICT(ns, key) DO UPDATE SET version = excluded.version"));
    Use u(st);
    AIK_RETURN_IF_ERROR(st->BindText(1, ns.name));
    AIK_RETURN_IF_ERROR(st->BindText(2, key));
    AIK_RETURN_IF_ERROR(st->BindInt64(3, e.version));
    AIK_RETURN_IF_ERROR(st->Run());
  }
  (void)field;
  return e;
}

Status CheckNsExists(Memory::Shared::Lease& lease, std::string_view ns) {
  AIK_ASSIGN_OR_RETURN(Statement * st,
                       lease.Stmt("SELECT 1 FROM namespaces WHERE name = ?1"));
  Use u(st);
  AIK_RETURN_IF_ERROR(st->BindText(1, ns));
  AIK_ASSIGN_OR_RETURN(bool row, st->Step());
  return row ? absl::OkStatus() : internal::NamespaceNotFound(ns);
}

}  // namespace

StatusOr<KvEntry> Memory::Put(std::string_view ns, std::string_view key,
                              std::string_view value,
                              const PutOptions& options) {
  AIK_RETURN_IF_ERROR(internal::CheckNamespaceName(ns));
  AIK_RETURN_IF_ERROR(internal::CheckKey(key, "key"));
  AIK_RETURN_IF_ERROR(CheckValue(value, "value"));
  if (options.ttl.count() < 0) return internal::Invalid("ttl", "is negative");
  Shared* s = s_.get();
  return s->Write<KvEntry>(
      [s, ns, key, value, &options](Database& db) -> StatusOr<KvEntry> {
        AIK_ASSIGN_OR_RETURN(NsRow row, s->LoadNs(db, ns));
        return WriteOne(s, db, row, key, value, options, false, "key");
      });
}

StatusOr<int64_t> Memory::Delete(std::string_view ns, std::string_view key,
                                 std::optional<int64_t> expected_version) {
  AIK_RETURN_IF_ERROR(internal::CheckNamespaceName(ns));
  AIK_RETURN_IF_ERROR(internal::CheckKey(key, "key"));
  Shared* s = s_.get();
  PutOptions o;
  o.expected_version = expected_version;
  return s->Write<int64_t>([s, ns, key, o](Database& db) -> StatusOr<int64_t> {
    AIK_ASSIGN_OR_RETURN(NsRow row, s->LoadNs(db, ns));
    AIK_ASSIGN_OR_RETURN(KvEntry e,
                         WriteOne(s, db, row, key, {}, o, true, "key"));
    return e.version;
  });
}

StatusOr<std::vector<int64_t>> Memory::PutBatch(
    std::string_view ns, const std::vector<KvWrite>& writes) {
  AIK_RETURN_IF_ERROR(internal::CheckNamespaceName(ns));
  if (writes.empty()) return internal::Invalid("writes", "is empty");
  for (size_t i = 0; i < writes.size(); ++i) {
    const std::string f = absl::StrCat("writes[", i, "]");
    AIK_RETURN_IF_ERROR(internal::CheckKey(writes[i].key, f + ".key"));
    AIK_RETURN_IF_ERROR(CheckValue(writes[i].value, f + ".value"));
    if (writes[i].options.ttl.count() < 0) {
      return internal::Invalid(f + ".ttl", "is negative");
    }
  }
  Shared* s = s_.get();
  return s->Write<std::vector<int64_t>>(
      [s, ns, &writes](Database& db) -> StatusOr<std::vector<int64_t>> {
        AIK_ASSIGN_OR_RETURN(NsRow row, s->LoadNs(db, ns));
        std::vector<int64_t> versions;
        versions.reserve(writes.size());
        for (size_t i = 0; i < writes.size(); ++i) {
          const KvWrite& w = writes[i];
          StatusOr<KvEntry> e =
              WriteOne(s, db, row, w.key, w.value, w.options, false, "key");
          if (!e.ok()) {
            return absl::Status(
                e.status().code(),
                absl::StrCat("writes[", i, "]: ", e.status().message()));
          }
          versions.push_back(e->version);
        }
        return versions;
      });
}

StatusOr<KvEntry> Memory::Get(std::string_view ns, std::string_view key,
                              int64_t version) {
  AIK_RETURN_IF_ERROR(internal::CheckNamespaceName(ns));
  AIK_RETURN_IF_ERROR(internal::CheckKey(key, "key"));
  if (version < 0) return internal::Invalid("version", "is negative");
  const int64_t now = s_->Now();
  AIK_ASSIGN_OR_RETURN(auto lease, s_->Read());
  AIK_ASSIGN_OR_RETURN(
      Statement * st,
      lease.Stmt(version == 0
                     ? absl::StrCat("SELECT ", kKvColumns,
                                    " FROM kv WHERE ns = ?1 AND key = ?2 "
                                    "ORDER BY version DESC LIMIT 1")
                     : absl::StrCat("SELECT ", kKvColumns,
                                    " FROM kv WHERE ns = ?1 AND key = ?2 AND "
                                    "version = ?3")));
  Use u(st);
  AIK_RETURN_IF_ERROR(st->BindText(1, ns));
  AIK_RETURN_IF_ERROR(st->BindText(2, key));
  if (version != 0) AIK_RETURN_IF_ERROR(st->BindInt64(3, version));
  AIK_ASSIGN_OR_RETURN(bool row, st->Step());
  if (row) {
    KvEntry e = ReadEntry(*st, true);
    if (Live(e, now)) return e;
    return absl::NotFoundError(absl::StrCat(
        "memory ", AV(ns), " key \"", AV(key), "\"",
        version != 0 ? absl::StrCat(" version ", version) : "",
        e.deleted ? absl::StrCat(" is deleted (version ", e.version, ")")
                  : " has expired"));
  }
  AIK_RETURN_IF_ERROR(CheckNsExists(lease, ns));
  return absl::NotFoundError(
      absl::StrCat("memory ", AV(ns), " key \"", AV(key), "\"",
                   version != 0 ? absl::StrCat(" version ", version) : "",
                   " does not exist"));
}

StatusOr<KvPage> Memory::List(std::string_view ns, const ListOptions& o) {
  AIK_RETURN_IF_ERROR(internal::CheckNamespaceName(ns));
  if (o.limit == 0 || o.limit > 10000) {
    return internal::Invalid("limit", "must be 1..10000");
  }
  const int64_t now = s_->Now();
  AIK_ASSIGN_OR_RETURN(auto lease, s_->Read());
  AIK_RETURN_IF_ERROR(CheckNsExists(lease, ns));
  AIK_ASSIGN_OR_RETURN(
      Statement * st,
      lease.Stmt("SELECT k.key, k.version, k.deleted, k.value, k.created_ns, "
                 "k.expires_ns FROM kv_head h JOIN kv k ON k.ns = h.ns AND "
                 "k.key = h.key AND k.version = h.version WHERE h.ns = ?1 AND "
                 "h.key >= ?2 AND (?3 = '' OR h.key < ?3) AND h.key > ?4 AND "
                 "k.deleted = 0 AND (k.expires_ns = 0 OR k.expires_ns > ?5) "
                 "ORDER BY h.key LIMIT ?6"));
  Use u(st);
  const std::string end = internal::PrefixEnd(o.prefix);
  AIK_RETURN_IF_ERROR(st->BindText(1, ns));
  AIK_RETURN_IF_ERROR(st->BindText(2, o.prefix));
  AIK_RETURN_IF_ERROR(st->BindText(3, end));
  AIK_RETURN_IF_ERROR(st->BindText(4, o.page_token));
  AIK_RETURN_IF_ERROR(st->BindInt64(5, now));
  AIK_RETURN_IF_ERROR(st->BindInt64(6, static_cast<int64_t>(o.limit) + 1));
  KvPage page;
  for (;;) {
    AIK_ASSIGN_OR_RETURN(bool row, st->Step());
    if (!row) break;
    if (page.entries.size() == o.limit) {
      page.next_page_token = page.entries.back().key;
      break;
    }
    page.entries.push_back(ReadEntry(*st, o.include_values));
  }
  return page;
}

StatusOr<std::vector<KvEntry>> Memory::History(std::string_view ns,
                                               std::string_view key,
                                               size_t limit) {
  AIK_RETURN_IF_ERROR(internal::CheckNamespaceName(ns));
  AIK_RETURN_IF_ERROR(internal::CheckKey(key, "key"));
  if (limit == 0 || limit > 10000) {
    return internal::Invalid("limit", "must be 1..10000");
  }
  const int64_t now = s_->Now();
  AIK_ASSIGN_OR_RETURN(auto lease, s_->Read());
  AIK_ASSIGN_OR_RETURN(
      Statement * st,
      lease.Stmt(absl::StrCat(
          "SELECT ", kKvColumns,
          " FROM kv WHERE ns = ?1 AND key = ?2 AND (expires_ns = 0 OR "
          "expires_ns > ?3) ORDER BY version DESC LIMIT ?4")));
  Use u(st);
  AIK_RETURN_IF_ERROR(st->BindText(1, ns));
  AIK_RETURN_IF_ERROR(st->BindText(2, key));
  AIK_RETURN_IF_ERROR(st->BindInt64(3, now));
  AIK_RETURN_IF_ERROR(st->BindInt64(4, static_cast<int64_t>(limit)));
  std::vector<KvEntry> out;
  for (;;) {
    AIK_ASSIGN_OR_RETURN(bool row, st->Step());
    if (!row) break;
    out.push_back(ReadEntry(*st, true));
  }
  if (out.empty()) {
    AIK_RETURN_IF_ERROR(CheckNsExists(lease, ns));
    return absl::NotFoundError(absl::StrCat("memory ", AV(ns), " key \"",
                                            AV(key), "\" has no versions"));
  }
  return out;
}

}  // namespace aikernel::memory
