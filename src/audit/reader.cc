#include "audit/reader.h"

#include <algorithm>
#include <vector>

#include "audit/row.h"
#include "audit/time_marks.h"
#include "store/database.h"

namespace aikernel::audit {

class Reader::Impl {
 public:
  std::unique_ptr<store::Database> db;
  bool has_time_marks = false;  // schema version 3 or later
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
  impl->has_time_marks = version >= 3;
  return std::unique_ptr<Reader>(new Reader(std::move(impl)));
}

StatusOr<uint64_t> Reader::Query(const Filter& filter,
                                 const std::function<bool(const Record&)>& fn) {
  const bool newest_first = filter.last && filter.limit > 0;
  // Each range of sequences (time_marks.h) is walked by rowid; the time
  // terms below keep the answer exact inside it. `last` walks backwards and
  // stops after `limit` hits.
  std::string sql = absl::StrCat("SELECT ", internal::kRecordColumns,
                                 " FROM records WHERE seq > ?1 AND seq <= ?2");
  if (!filter.principal.empty()) sql += " AND principal = ?3";
  if (!filter.action.empty()) sql += " AND action = ?4";
  if (filter.decision) sql += " AND decision = ?5";
  if (filter.since_ns) sql += " AND time_ns >= ?6";
  if (filter.until_ns) sql += " AND time_ns < ?7";
  sql += newest_first ? " ORDER BY seq DESC" : " ORDER BY seq ASC";
  if (filter.limit > 0) sql += " LIMIT ?8";

  AIK_ASSIGN_OR_RETURN(store::Statement st, impl_->db->Prepare(sql));
  auto bind = [&](const internal::SeqRange& range, uint64_t limit) -> Status {
    st.Reset();
    const auto i64 = [](uint64_t v) {
      return static_cast<int64_t>(std::min<uint64_t>(v, INT64_MAX));
    };
    AIK_RETURN_IF_ERROR(st.BindInt64(1, i64(range.after)));
    AIK_RETURN_IF_ERROR(st.BindInt64(2, i64(range.through)));
    if (!filter.principal.empty()) {
      AIK_RETURN_IF_ERROR(st.BindText(3, filter.principal));
    }
    if (!filter.action.empty()) {
      AIK_RETURN_IF_ERROR(st.BindText(4, filter.action));
    }
    if (filter.decision) {
      AIK_RETURN_IF_ERROR(
          st.BindInt64(5, static_cast<int64_t>(*filter.decision)));
    }
    if (filter.since_ns) AIK_RETURN_IF_ERROR(st.BindInt64(6, *filter.since_ns));
    if (filter.until_ns) AIK_RETURN_IF_ERROR(st.BindInt64(7, *filter.until_ns));
    if (filter.limit > 0) AIK_RETURN_IF_ERROR(st.BindInt64(8, i64(limit)));
    return absl::OkStatus();
  };

  // One read transaction so the marks and the walk see one snapshot.
  AIK_RETURN_IF_ERROR(impl_->db->Exec("BEGIN"));
  auto finish = [&](StatusOr<uint64_t> result) -> StatusOr<uint64_t> {
    st.Reset();
    impl_->db->Exec("COMMIT").IgnoreError();
    return result;
  };
  StatusOr<std::vector<internal::SeqRange>> ranges = internal::SeqRangesFor(
      *impl_->db, impl_->has_time_marks, filter.since_ns, filter.until_ns);
  if (!ranges.ok()) return finish(ranges.status());
  // The filter's own sequence bounds, applied to every range.
  const uint64_t before =
      filter.before_sequence ? filter.before_sequence : UINT64_MAX;
  std::vector<internal::SeqRange> walk;
  for (internal::SeqRange r : *ranges) {
    r.after = std::max(r.after, filter.after_sequence);
    r.through = std::min(r.through, before - 1);
    if (r.after < r.through) walk.push_back(r);
  }
  if (newest_first) std::reverse(walk.begin(), walk.end());

  uint64_t found = 0;  // rows read (counts against the limit)
  uint64_t passed = 0;
  std::vector<Record> newest;  // `last`: collected newest first
  Record r;
  for (const internal::SeqRange& range : walk) {
    if (filter.limit > 0 && found >= filter.limit) break;
    Status s = bind(range, filter.limit - found);
    if (!s.ok()) return finish(s);
    for (;;) {
      StatusOr<bool> row = st.Step();
      if (!row.ok()) return finish(row.status());
      if (!*row) break;
      ++found;
      Record& into = newest_first ? newest.emplace_back() : r;
      s = internal::ReadRecordRow(st, &into);
      if (!s.ok()) return finish(s);
      if (newest_first) continue;
      ++passed;
      if (!fn(r)) return finish(passed);
    }
  }
  for (auto it = newest.rbegin(); it != newest.rend(); ++it) {
    ++passed;
    if (!fn(*it)) break;
  }
  return finish(passed);
}

}  // namespace aikernel::audit
