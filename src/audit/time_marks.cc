#include "audit/time_marks.h"

#include <algorithm>

namespace aikernel::audit::internal {

// The running max over blocks of 1024 existing records: an aggregate inside
// a window function (max of the block maxima so far).
const char kTimeMarksMigration[] = R"sql(
CREATE TABLE time_marks(
  last_seq    INTEGER PRIMARY KEY,
  max_time_ns INTEGER NOT NULL,
  min_time_ns INTEGER NOT NULL
);
CREATE INDEX time_marks_max ON time_marks(max_time_ns);
INSERT INTO time_marks(last_seq, max_time_ns, min_time_ns)
  SELECT max(seq), max(max(time_ns)) OVER (ORDER BY max(seq)), min(time_ns)
  FROM records GROUP BY (seq - 1) / 1024;
DROP INDEX IF EXISTS records_time;
)sql";

namespace {

// One int64 from a one-row query; `fallback` when there is no row or NULL.
StatusOr<int64_t> QueryInt(store::Statement &st, int64_t fallback) {
  AIK_ASSIGN_OR_RETURN(bool row, st.Step());
  int64_t v = (row && !st.ColumnIsNull(0)) ? st.ColumnInt64(0) : fallback;
  st.Reset();
  return v;
}

}  // namespace

StatusOr<TimeMarks> LoadTimeMarks(store::Database &db) {
  TimeMarks m;
  AIK_ASSIGN_OR_RETURN(
      store::Statement last,
      db.Prepare("SELECT last_seq, max_time_ns FROM time_marks "
                 "ORDER BY last_seq DESC LIMIT 1"));
  AIK_ASSIGN_OR_RETURN(bool row, last.Step());
  if (row) {
    m.last_mark = static_cast<uint64_t>(last.ColumnInt64(0));
    m.running_max = last.ColumnInt64(1);
  }
  AIK_ASSIGN_OR_RETURN(
      store::Statement tail,
      db.Prepare("SELECT min(time_ns), max(time_ns) FROM records "
                 "WHERE seq > ?1"));
  AIK_RETURN_IF_ERROR(tail.BindInt64(1, static_cast<int64_t>(m.last_mark)));
  AIK_ASSIGN_OR_RETURN(row, tail.Step());
  if (row && !tail.ColumnIsNull(0)) {
    m.Add(tail.ColumnInt64(0));
    m.Add(tail.ColumnInt64(1));
  }
  return m;
}

StatusOr<store::Statement> PrepareTimeMarkInsert(store::Database &db) {
  return db.Prepare(
      "INSERT INTO time_marks(last_seq, max_time_ns, min_time_ns) "
      "VALUES (?1, ?2, ?3)");
}

Status WriteTimeMark(store::Statement &insert, uint64_t sequence,
                     TimeMarks *marks) {
  if (sequence <= marks->last_mark) return absl::OkStatus();  // empty block
  AIK_RETURN_IF_ERROR(insert.BindInt64(1, static_cast<int64_t>(sequence)));
  AIK_RETURN_IF_ERROR(insert.BindInt64(2, marks->running_max));
  AIK_RETURN_IF_ERROR(insert.BindInt64(3, marks->block_min));
  AIK_RETURN_IF_ERROR(insert.Run());
  marks->last_mark = sequence;
  marks->block_min = std::numeric_limits<int64_t>::max();
  return absl::OkStatus();
}

StatusOr<std::optional<BadTimeMark>> FindBadTimeMark(store::Database &db,
                                                     uint64_t through) {
  AIK_ASSIGN_OR_RETURN(store::Statement st, db.Prepare(R"sql(
WITH b AS (
  SELECT last_seq, max_time_ns AS mx, min_time_ns AS mn,
         lag(last_seq, 1, 0) OVER w AS first_after,
         lag(max_time_ns) OVER w AS prev_mx
  FROM time_marks WINDOW w AS (ORDER BY last_seq))
SELECT b.last_seq, b.first_after FROM b
WHERE b.last_seq <= ?1 AND (b.mx < b.prev_mx OR EXISTS (
  SELECT 1 FROM records r WHERE r.seq > b.first_after AND r.seq <= b.last_seq
    AND (r.time_ns > b.mx OR r.time_ns < b.mn)))
ORDER BY b.last_seq LIMIT 1)sql"));
  AIK_RETURN_IF_ERROR(st.BindInt64(
      1, static_cast<int64_t>(std::min<uint64_t>(through, INT64_MAX))));
  AIK_ASSIGN_OR_RETURN(bool row, st.Step());
  if (!row) return std::optional<BadTimeMark>();
  return std::optional<BadTimeMark>(
      BadTimeMark{static_cast<uint64_t>(st.ColumnInt64(0)),
                  static_cast<uint64_t>(st.ColumnInt64(1)) + 1});
}

StatusOr<std::vector<SeqRange>> SeqRangesFor(store::Database &db,
                                             bool has_marks,
                                             std::optional<int64_t> since_ns,
                                             std::optional<int64_t> until_ns) {
  if (!has_marks || (!since_ns && !until_ns))
    return std::vector<SeqRange>{SeqRange{}};
  AIK_ASSIGN_OR_RETURN(store::Statement newest,
                       db.Prepare("SELECT max(last_seq) FROM time_marks"));
  AIK_ASSIGN_OR_RETURN(int64_t tail, QueryInt(newest, 0));

  // Every record up to a mark whose running max is below `since` is older
  // than `since`: start after the last such mark (binary search on the
  // index, the running max being non-decreasing in last_seq).
  int64_t lo = 0;
  if (since_ns) {
    AIK_ASSIGN_OR_RETURN(
        store::Statement st,
        db.Prepare("SELECT last_seq FROM time_marks WHERE max_time_ns < ?1 "
                   "ORDER BY max_time_ns DESC, last_seq DESC LIMIT 1"));
    AIK_RETURN_IF_ERROR(st.BindInt64(1, *since_ns));
    AIK_ASSIGN_OR_RETURN(lo, QueryInt(st, 0));
  }
  // The newest marked block holding a record below `until` ends the marked
  // part of the scan; blocks after it hold none. Walks back from the newest
  // mark, no further than `lo`.
  int64_t hi = tail;
  if (until_ns) {
    AIK_ASSIGN_OR_RETURN(
        store::Statement st,
        db.Prepare("SELECT last_seq FROM time_marks WHERE last_seq > ?1 AND "
                   "min_time_ns < ?2 ORDER BY last_seq DESC LIMIT 1"));
    AIK_RETURN_IF_ERROR(st.BindInt64(1, lo));
    AIK_RETURN_IF_ERROR(st.BindInt64(2, *until_ns));
    AIK_ASSIGN_OR_RETURN(hi, QueryInt(st, lo));
  }
  const auto u = [](int64_t v) { return static_cast<uint64_t>(v); };
  if (hi >= tail) return std::vector<SeqRange>{SeqRange{u(lo)}};
  std::vector<SeqRange> out;
  if (hi > lo) out.push_back({u(lo), u(hi)});
  out.push_back(SeqRange{u(std::max(lo, tail))});  // the unmarked tail
  return out;
}

}  // namespace aikernel::audit::internal
