#include "audit/reader.h"

#include <vector>

#include "audit/row.h"
#include "store/database.h"

namespace aikernel::audit {

class Reader::Impl {
 public:
  std::unique_ptr<store::Database> db;
};

Reader::Reader(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Reader::~Reader() = default;

StatusOr<std::unique_ptr<Reader>> Reader::Open(const std::string& path) {
  store::DatabaseOptions o;
  o.path = path;
  o.read_only = true;
  o.mmap_size = int64_t{1} << 30;
  auto impl = std::make_unique<Impl>();
  AIK_ASSIGN_OR_RETURN(impl->db, store::Database::Open(o));
  AIK_ASSIGN_OR_RETURN(int64_t version, impl->db->UserVersion());
  const int64_t newest = static_cast<int64_t>(internal::Schema().size());
  if (version == 0) {
    return absl::FailedPreconditionError(path + " is not an audit ledger");
  }
  if (version > newest) {
    return absl::FailedPreconditionError(
        absl::StrCat(path, ": schema version ", version,
                     " is newer than this build (", newest, ")"));
  }
  return std::unique_ptr<Reader>(new Reader(std::move(impl)));
}

StatusOr<uint64_t> Reader::Query(const Filter& filter,
                                 const std::function<bool(const Record&)>& fn) {
  const bool newest_first = filter.last && filter.limit > 0;
  // Without statistics SQLite prefers walking the rowid (no sort) for a
  // time range with ORDER BY seq, which reads the whole table when the
  // range is recent. Walk the time index instead and sort the matches;
  // `last` keeps the backwards rowid walk, which stops after `limit` hits.
  const bool by_time = (filter.since_ns || filter.until_ns) && !newest_first &&
                       filter.principal.empty() && filter.action.empty();
  std::string sql = absl::StrCat(
      "SELECT ", internal::kRecordColumns, " FROM records",
      by_time ? " INDEXED BY records_time" : "", " WHERE seq > ?1");
  if (!filter.principal.empty()) sql += " AND principal = ?2";
  if (!filter.action.empty()) sql += " AND action = ?3";
  if (filter.decision) sql += " AND decision = ?4";
  if (filter.since_ns) sql += " AND time_ns >= ?5";
  if (filter.until_ns) sql += " AND time_ns < ?6";
  if (filter.before_sequence) sql += " AND seq < ?8";
  sql += newest_first ? " ORDER BY seq DESC" : " ORDER BY seq ASC";
  if (filter.limit > 0) sql += " LIMIT ?7";

  AIK_ASSIGN_OR_RETURN(store::Statement st, impl_->db->Prepare(sql));
  AIK_RETURN_IF_ERROR(
      st.BindInt64(1, static_cast<int64_t>(filter.after_sequence)));
  if (!filter.principal.empty()) {
    AIK_RETURN_IF_ERROR(st.BindText(2, filter.principal));
  }
  if (!filter.action.empty())
    AIK_RETURN_IF_ERROR(st.BindText(3, filter.action));
  if (filter.decision) {
    AIK_RETURN_IF_ERROR(
        st.BindInt64(4, static_cast<int64_t>(*filter.decision)));
  }
  if (filter.since_ns) AIK_RETURN_IF_ERROR(st.BindInt64(5, *filter.since_ns));
  if (filter.until_ns) AIK_RETURN_IF_ERROR(st.BindInt64(6, *filter.until_ns));
  if (filter.before_sequence) {
    AIK_RETURN_IF_ERROR(st.BindInt64(
        8, static_cast<int64_t>(std::min<uint64_t>(filter.before_sequence, INT64_MAX))));
  }
  if (filter.limit > 0) {
    AIK_RETURN_IF_ERROR(st.BindInt64(
        7, static_cast<int64_t>(std::min<uint64_t>(filter.limit, INT64_MAX))));
  }

  // One read transaction so the walk sees one snapshot.
  AIK_RETURN_IF_ERROR(impl_->db->Exec("BEGIN"));
  auto finish = [&](StatusOr<uint64_t> result) -> StatusOr<uint64_t> {
    st.Reset();
    impl_->db->Exec("COMMIT").IgnoreError();
    return result;
  };

  uint64_t passed = 0;
  if (newest_first) {
    std::vector<Record> rows;
    for (;;) {
      StatusOr<bool> row = st.Step();
      if (!row.ok()) return finish(row.status());
      if (!*row) break;
      rows.emplace_back();
      Status s = internal::ReadRecordRow(st, &rows.back());
      if (!s.ok()) return finish(s);
    }
    for (auto it = rows.rbegin(); it != rows.rend(); ++it) {
      ++passed;
      if (!fn(*it)) break;
    }
    return finish(passed);
  }
  Record r;
  for (;;) {
    StatusOr<bool> row = st.Step();
    if (!row.ok()) return finish(row.status());
    if (!*row) break;
    Status s = internal::ReadRecordRow(st, &r);
    if (!s.ok()) return finish(s);
    ++passed;
    if (!fn(r)) break;
  }
  return finish(passed);
}

}  // namespace aikernel::audit
