// Memory: the episodic log (append, read by time range and kind).
#include <cerrno>
#include <cstdlib>

#include "memory/internal.h"

namespace aikernel::memory {

namespace {

bool ParseToken(std::string_view token, int64_t* time_ns, int64_t* seq) {
  size_t colon = token.find(':');
  if (colon == std::string_view::npos) return false;
  std::string t(token.substr(0, colon)), s(token.substr(colon + 1));
  char* end = nullptr;
  errno = 0;
  *time_ns = std::strtoll(t.c_str(), &end, 10);
  if (errno != 0 || end == t.c_str() || *end != '\0') return false;
  *seq = std::strtoll(s.c_str(), &end, 10);
  if (errno != 0 || end == s.c_str() || *end != '\0') return false;
  return true;
}

}  // namespace

Status Memory::Shared::InsertEvent(Database& db, std::string_view ns,
                                   int64_t seq, int64_t time_ns,
                                   std::string_view kind,
                                   std::string_view payload,
                                   int64_t expires_ns) {
  AIK_ASSIGN_OR_RETURN(
      Statement * st,
      W(db,
        "INSERT INTO events(ns, seq, time_ns, kind, payload, expires_ns) "
        "VALUES (?1, ?2, ?3, ?4, ?5, ?6)"));
  Use u(st);
  AIK_RETURN_IF_ERROR(st->BindText(1, ns));
  AIK_RETURN_IF_ERROR(st->BindInt64(2, seq));
  AIK_RETURN_IF_ERROR(st->BindInt64(3, time_ns));
  AIK_RETURN_IF_ERROR(st->BindText(4, kind));
  AIK_RETURN_IF_ERROR(st->BindTextNoCopy(5, payload));
  AIK_RETURN_IF_ERROR(st->BindInt64(6, expires_ns));
  return st->Run();
}

StatusOr<Event> Memory::AppendEvent(std::string_view ns, const EventInput& in) {
  AIK_RETURN_IF_ERROR(internal::CheckNamespaceName(ns));
  if (in.kind.empty() || in.kind.size() > 128 ||
      !internal::ValidUtf8(in.kind)) {
    return internal::Invalid("kind", "must be 1..128 bytes of UTF-8");
  }
  if (in.time_ns < 0) return internal::Invalid("time_ns", "is negative");
  if (in.ttl.count() < 0) return internal::Invalid("ttl", "is negative");
  if (in.payload.size() > (size_t{16} << 20)) {
    return internal::Invalid("payload", "is larger than 16 MiB");
  }
  AIK_ASSIGN_OR_RETURN(
      std::string payload,
      internal::CanonicalJson(in.payload.empty() ? "null" : in.payload, false,
                              "payload"));
  Shared* s = s_.get();
  return s->Write<Event>([s, ns, &in,
                          &payload](Database& db) -> StatusOr<Event> {
    AIK_ASSIGN_OR_RETURN(NsRow row, s->LoadNs(db, ns));
    const int64_t now = s->Now();
    Event e;
    e.seq = row.next_event_seq;
    e.time_ns = in.time_ns != 0 ? in.time_ns : now;
    e.kind = in.kind;
    e.expires_ns = internal::TtlToExpiry(now, in.ttl);
    AIK_RETURN_IF_ERROR(s->Charge(
        db, row, static_cast<int64_t>(e.kind.size() + payload.size()), 1));
    AIK_RETURN_IF_ERROR(s->InsertEvent(db, row.name, e.seq, e.time_ns, e.kind,
                                       payload, e.expires_ns));
    {
      AIK_ASSIGN_OR_RETURN(
          Statement * st,
          s->W(db,
               "UPDATE namespaces SET next_event_seq = ?1 WHERE name = ?2"));
      Use u(st);
      AIK_RETURN_IF_ERROR(st->BindInt64(1, e.seq + 1));
      AIK_RETURN_IF_ERROR(st->BindText(2, row.name));
      AIK_RETURN_IF_ERROR(st->Run());
    }
    e.payload = payload;
    return e;
  });
}

StatusOr<EventPage> Memory::ReadEvents(std::string_view ns,
                                       const EventQuery& q) {
  AIK_RETURN_IF_ERROR(internal::CheckNamespaceName(ns));
  if (q.limit == 0 || q.limit > 10000) {
    return internal::Invalid("limit", "must be 1..10000");
  }
  if (q.from_ns > q.to_ns)
    return internal::Invalid("from_ns", "is after to_ns");
  int64_t after_t = INT64_MIN, after_seq = 0;
  if (!q.page_token.empty() &&
      !ParseToken(q.page_token, &after_t, &after_seq)) {
    return internal::Invalid("page_token", "is not a token ReadEvents gave");
  }
  const int64_t now = s_->Now();
  AIK_ASSIGN_OR_RETURN(auto lease, s_->Read());
  {
    AIK_ASSIGN_OR_RETURN(
        Statement * st, lease.Stmt("SELECT 1 FROM namespaces WHERE name = ?1"));
    Use u(st);
    AIK_RETURN_IF_ERROR(st->BindText(1, ns));
    AIK_ASSIGN_OR_RETURN(bool row, st->Step());
    if (!row) return internal::NamespaceNotFound(ns);
  }
  std::string sql =
      "SELECT seq, time_ns, kind, payload, expires_ns FROM events WHERE "
      "ns = ?1 AND time_ns >= ?2 AND time_ns < ?3 AND (time_ns, seq) > "
      "(?4, ?5) AND (expires_ns = 0 OR expires_ns > ?6)";
  if (!q.kinds.empty()) {
    sql += " AND kind IN (";
    for (size_t i = 0; i < q.kinds.size(); ++i) {
      absl::StrAppend(&sql, i ? ", " : "", "?", 8 + i);
    }
    sql += ")";
  }
  sql += " ORDER BY time_ns, seq LIMIT ?7";
  // Kind lists vary; only the common shapes stay cached.
  AIK_ASSIGN_OR_RETURN(Statement * st, lease.Stmt(sql));
  Use u(st);
  AIK_RETURN_IF_ERROR(st->BindText(1, ns));
  AIK_RETURN_IF_ERROR(st->BindInt64(2, q.from_ns));
  AIK_RETURN_IF_ERROR(st->BindInt64(3, q.to_ns));
  AIK_RETURN_IF_ERROR(st->BindInt64(4, after_t));
  AIK_RETURN_IF_ERROR(st->BindInt64(5, after_seq));
  AIK_RETURN_IF_ERROR(st->BindInt64(6, now));
  AIK_RETURN_IF_ERROR(st->BindInt64(7, static_cast<int64_t>(q.limit) + 1));
  for (size_t i = 0; i < q.kinds.size(); ++i) {
    AIK_RETURN_IF_ERROR(st->BindText(static_cast<int>(8 + i), q.kinds[i]));
  }
  EventPage page;
  for (;;) {
    AIK_ASSIGN_OR_RETURN(bool row, st->Step());
    if (!row) break;
    if (page.events.size() == q.limit) {
      const Event& last = page.events.back();
      page.next_page_token = absl::StrCat(last.time_ns, ":", last.seq);
      break;
    }
    Event e;
    e.seq = st->ColumnInt64(0);
    e.time_ns = st->ColumnInt64(1);
    e.kind = std::string(st->ColumnText(2));
    e.payload = std::string(st->ColumnText(3));
    e.expires_ns = st->ColumnInt64(4);
    page.events.push_back(std::move(e));
  }
  return page;
}

}  // namespace aikernel::memory
