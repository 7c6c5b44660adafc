// Internal to the audit part: the sparse time marks that let a time-range
// query narrow to a sequence range without an index on records(time_ns).
//
// A mark (table time_marks, schema version 3) closes a block of records
// (previous mark's last_seq, last_seq] and holds
//   max_time_ns: the largest time_ns of records 1..last_seq (a running max,
//                so non-decreasing in last_seq), and
//   min_time_ns: the smallest time_ns of the block's own records.
// time_ns is receipt time and records are appended when their call ends, so
// time_ns is not monotonic in seq; both bounds hold for every record
// whatever the order. Records after the newest mark (the tail) have no mark
// yet and are always scanned. The ledger writes a mark with each checkpoint
// and after every kMaxBlock records, in the same transaction as the records
// it closes, so a snapshot's marks always describe records that snapshot
// holds.
//
// Thread-safety: TimeMarks is state of the ledger's writer (one thread at a
// time, like the rest of the writer's state); SeqRangesFor is a pure read on
// the caller's connection.
#pragma once

#include <cstdint>
#include <limits>
#include <optional>
#include <vector>

#include "common/status.h"
#include "store/database.h"

namespace aikernel::audit::internal {

// The migration to schema version 3: creates time_marks (blocks of 1024
// records over the existing rows) and drops records_time.
extern const char kTimeMarksMigration[];

// The writer's running state: what the next mark will say.
struct TimeMarks {
  static constexpr uint64_t kMaxBlock = 4096;
  uint64_t last_mark = 0;  // last_seq of the newest mark (0: none)
  int64_t running_max = std::numeric_limits<int64_t>::min();
  int64_t block_min = std::numeric_limits<int64_t>::max();

  void Add(int64_t time_ns) {
    if (time_ns > running_max) running_max = time_ns;
    if (time_ns < block_min) block_min = time_ns;
  }
};

// Reads the newest mark and the tail after it (seq > last_mark), so a
// reopened ledger goes on where the file stops.
StatusOr<TimeMarks> LoadTimeMarks(store::Database &db);

// Prepares the INSERT the writer binds with WriteTimeMark.
StatusOr<store::Statement> PrepareTimeMarkInsert(store::Database &db);
// Inserts the mark closing (marks->last_mark, sequence] if that block has
// records, and starts the next block.
Status WriteTimeMark(store::Statement &insert, uint64_t sequence,
                     TimeMarks *marks);

// The first mark (lowest last_seq, at most `through`) whose bounds do not
// hold for its records: a record of its block above its max_time_ns or below
// its min_time_ns, or a max_time_ns below the previous mark's. Such a mark
// could hide records from time queries. nullopt: all hold. One pass over
// the records' time_ns on the caller's connection.
struct BadTimeMark {
  uint64_t last_seq = 0;
  uint64_t first_seq = 0;  // the first record of its block
};
StatusOr<std::optional<BadTimeMark>> FindBadTimeMark(store::Database &db,
                                                     uint64_t through);

// A range of sequences: after < seq <= through.
struct SeqRange {
  uint64_t after = 0;
  uint64_t through = std::numeric_limits<uint64_t>::max();
};

// The sequence ranges (ascending, disjoint) that can hold records with
// since <= time_ns < until, from the marks in the caller's current read
// transaction. Every matching record lies in them; not every record in
// them matches (the caller still filters on time_ns). `has_marks` false
// (a file older than schema version 3): one range, everything.
StatusOr<std::vector<SeqRange>> SeqRangesFor(store::Database &db,
                                             bool has_marks,
                                             std::optional<int64_t> since_ns,
                                             std::optional<int64_t> until_ns);

}  // namespace aikernel::audit::internal
