// audit::Reader: read-only queries over a ledger file.
//
// Opens its own read-only SQLite connection, so readers never wait on the
// writer (WAL). One Reader is not thread-safe; open one per thread or call.
// Every filter is exact. A time range is first narrowed to sequence ranges
// by the ledger's sparse time marks (time_marks.h; a file older than schema
// version 3 has none and is scanned whole), then filtered on time_ns.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "audit/record.h"
#include "common/status.h"

namespace aikernel::audit {

struct Filter {
  std::string principal;            // exact match; empty: any
  std::string action;               // exact match; empty: any
  std::optional<Decision> decision;  // empty: any
  std::optional<int64_t> since_ns;  // time >= since
  std::optional<int64_t> until_ns;  // time < until
  uint64_t after_sequence = 0;      // sequence > after_sequence
  uint64_t before_sequence = 0;     // sequence < before_sequence; 0: any
  uint64_t limit = 0;               // 0: no limit
  bool last = false;  // the newest `limit` matches (still returned oldest first)
};

class Reader {
 public:
  static StatusOr<std::unique_ptr<Reader>> Open(const std::string& path);
  ~Reader();

  // Calls `fn` for each matching record in ascending sequence order until
  // `fn` returns false. Returns the number of records passed to `fn`.
  StatusOr<uint64_t> Query(const Filter& filter,
                           const std::function<bool(const Record&)>& fn);

  class Impl;

 private:
  explicit Reader(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace aikernel::audit
