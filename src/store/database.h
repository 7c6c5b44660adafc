// store::Database and store::Statement: RAII over one SQLite connection and
// its prepared statements.
//
// Contract
// - Database owns exactly one sqlite3* and closes it on destruction; Statement
//   owns one sqlite3_stmt* and finalizes it on destruction. Both are
//   move-only. Every Statement must be destroyed before its Database.
// - Neither is thread-safe: a Database and its Statements belong to one
//   thread at a time (the connection is opened SQLITE_OPEN_NOMUTEX). For
//   writes, hand the Database to a store::Writer, which owns it on its thread.
// - Open() applies, on a writable connection: journal_mode=WAL, the configured
//   synchronous level, busy_timeout, foreign_keys=ON. A read-only connection
//   gets busy_timeout only (WAL is a property of the file).
// - Migrate() brings the schema to the newest version, recorded in
//   PRAGMA user_version; each step runs in its own IMMEDIATE transaction and
//   either fully applies or leaves the previous version. A file whose version
//   is newer than this build knows is refused (FAILED_PRECONDITION).
// - Errors are Status values naming the SQLite error and the statement:
//   SQLITE_BUSY/LOCKED/IOERR/FULL/READONLY/CANTOPEN -> UNAVAILABLE,
//   CORRUPT/NOTADB -> DATA_LOSS, CONSTRAINT -> FAILED_PRECONDITION,
//   anything else INTERNAL. No exceptions.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

struct sqlite3;
struct sqlite3_stmt;

namespace aikernel::store {

enum class Synchronous { kOff, kNormal, kFull, kExtra };
const char* SynchronousName(Synchronous s);  // "OFF", "NORMAL", ...

struct DatabaseOptions {
  std::string path;
  bool read_only = false;  // SQLITE_OPEN_READONLY; never creates the file
  bool create = true;      // create the file if missing (ignored if read_only)
  Synchronous synchronous = Synchronous::kFull;
  std::chrono::milliseconds busy_timeout{5000};
  // Bytes of the file to memory-map for reads (0: SQLite's default, none).
  int64_t mmap_size = 0;
  // Pages of page cache (negative: KiB, as PRAGMA cache_size). 0: default.
  int cache_size = 0;
};

// Maps a SQLite result code (primary or extended) to a Status with `what`
// and SQLite's message.
Status SqliteStatus(int rc, std::string_view what, std::string_view message);

class Statement {
 public:
  Statement() = default;
  Statement(sqlite3_stmt* stmt, sqlite3* db) : stmt_(stmt), db_(db) {}
  ~Statement();
  Statement(Statement&& o) noexcept;
  Statement& operator=(Statement&& o) noexcept;
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  // Parameter indexes are 1-based (SQLite's convention). Text and blob
  // binds copy the bytes unless *NoCopy, whose bytes must stay valid until
  // the next Reset() or destruction.
  Status BindInt64(int index, int64_t value);
  Status BindText(int index, std::string_view value);
  Status BindTextNoCopy(int index, std::string_view value);
  Status BindBlob(int index, std::string_view value);
  Status BindBlobNoCopy(int index, const void* data, size_t n);
  Status BindNull(int index);

  // Steps once. true: a row is ready (read it with Column*); false: done.
  StatusOr<bool> Step();
  // Steps to completion, ignoring rows; then resets.
  Status Run();
  // Resets for re-execution and clears bindings.
  void Reset();

  // Column indexes are 0-based. Views stay valid until the next Step/Reset.
  int64_t ColumnInt64(int col) const;
  std::string_view ColumnText(int col) const;
  std::string_view ColumnBlob(int col) const;
  bool ColumnIsNull(int col) const;
  int ColumnCount() const;

  sqlite3_stmt* get() const { return stmt_; }
  std::string Sql() const;

 private:
  Status Check(int rc, std::string_view what) const;
  sqlite3_stmt* stmt_ = nullptr;
  sqlite3* db_ = nullptr;
};

// One schema step: SQL executed (may hold several statements) to go from
// user_version `index` to `index + 1` where `index` is its position.
using Migrations = std::vector<std::string>;

class Database {
 public:
  static StatusOr<std::unique_ptr<Database>> Open(
      const DatabaseOptions& options);
  ~Database();
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;

  // Runs one or more SQL statements (no results).
  Status Exec(std::string_view sql);
  StatusOr<Statement> Prepare(std::string_view sql);

  StatusOr<int64_t> UserVersion();
  // Applies migrations[v..] where v is the current user_version. Returns the
  // resulting version. FAILED_PRECONDITION if the file is newer.
  StatusOr<int64_t> Migrate(const Migrations& migrations);

  int64_t LastInsertRowId() const;
  int Changes() const;
  std::string ErrorMessage() const;
  const DatabaseOptions& options() const { return options_; }
  // The raw handle, for what this class does not wrap. Still owned here.
  sqlite3* handle() const { return db_; }

 private:
  Database(sqlite3* db, DatabaseOptions options)
      : db_(db), options_(std::move(options)) {}
  sqlite3* db_;
  DatabaseOptions options_;
};

}  // namespace aikernel::store
