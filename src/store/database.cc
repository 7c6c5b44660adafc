#include "store/database.h"

#include <sqlite3.h>

#include <utility>

namespace aikernel::store {

namespace {
// Debian's Abseil has its own string_view, not std::string_view.
absl::string_view AV(std::string_view s) { return {s.data(), s.size()}; }
}  // namespace

const char* SynchronousName(Synchronous s) {
  switch (s) {
    case Synchronous::kOff:
      return "OFF";
    case Synchronous::kNormal:
      return "NORMAL";
    case Synchronous::kFull:
      return "FULL";
    case Synchronous::kExtra:
      return "EXTRA";
  }
  return "FULL";
}

Status SqliteStatus(int rc, std::string_view what, std::string_view message) {
  if (rc == SQLITE_OK || rc == SQLITE_ROW || rc == SQLITE_DONE) {
    return absl::OkStatus();
  }
  std::string text = absl::StrCat("sqlite: ", AV(what), ": ", AV(message), " (",
                                  sqlite3_errstr(rc), ", code ", rc, ")");
  switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
    case SQLITE_IOERR:
    case SQLITE_FULL:
    case SQLITE_READONLY:
    case SQLITE_CANTOPEN:
    case SQLITE_PROTOCOL:
      return absl::UnavailableError(text);
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
      return absl::DataLossError(text);
    case SQLITE_CONSTRAINT:
      return absl::FailedPreconditionError(text);
    case SQLITE_NOTFOUND:
      return absl::NotFoundError(text);
    case SQLITE_PERM:
    case SQLITE_AUTH:
      return absl::PermissionDeniedError(text);
    default:
      return absl::InternalError(text);
  }
}

// ---- Statement ----

Statement::~Statement() {
  if (stmt_ != nullptr) sqlite3_finalize(stmt_);
}

Statement::Statement(Statement&& o) noexcept
    : stmt_(std::exchange(o.stmt_, nullptr)), db_(o.db_) {}

Statement& Statement::operator=(Statement&& o) noexcept {
  if (this != &o) {
    if (stmt_ != nullptr) sqlite3_finalize(stmt_);
    stmt_ = std::exchange(o.stmt_, nullptr);
    db_ = o.db_;
  }
  return *this;
}

Status Statement::Check(int rc, std::string_view what) const {
  if (rc == SQLITE_OK) return absl::OkStatus();
  return SqliteStatus(rc, absl::StrCat(AV(what), " [", Sql(), "]"),
                      db_ != nullptr ? sqlite3_errmsg(db_) : "");
}

std::string Statement::Sql() const {
  const char* s = stmt_ != nullptr ? sqlite3_sql(stmt_) : nullptr;
  return s != nullptr ? s : "";
}

Status Statement::BindInt64(int index, int64_t value) {
  return Check(sqlite3_bind_int64(stmt_, index, value), "bind");
}
Status Statement::BindText(int index, std::string_view value) {
  return Check(sqlite3_bind_text64(stmt_, index, value.data(), value.size(),
                                   SQLITE_TRANSIENT, SQLITE_UTF8),
               "bind");
}
Status Statement::BindTextNoCopy(int index, std::string_view value) {
  return Check(sqlite3_bind_text64(stmt_, index, value.data(), value.size(),
                                   SQLITE_STATIC, SQLITE_UTF8),
               "bind");
}
Status Statement::BindBlob(int index, std::string_view value) {
  return Check(sqlite3_bind_blob64(stmt_, index, value.data(), value.size(),
                                   SQLITE_TRANSIENT),
               "bind");
}
Status Statement::BindBlobNoCopy(int index, const void* data, size_t n) {
  return Check(sqlite3_bind_blob64(stmt_, index, data, n, SQLITE_STATIC),
               "bind");
}
Status Statement::BindNull(int index) {
  return Check(sqlite3_bind_null(stmt_, index), "bind");
}

StatusOr<bool> Statement::Step() {
  int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  return Check(rc, "step");
}

Status Statement::Run() {
  for (;;) {
    int rc = sqlite3_step(stmt_);
    if (rc == SQLITE_ROW) continue;
    Status s = rc == SQLITE_DONE ? absl::OkStatus() : Check(rc, "step");
    Reset();
    return s;
  }
}

void Statement::Reset() {
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
}

int64_t Statement::ColumnInt64(int col) const {
  return sqlite3_column_int64(stmt_, col);
}
std::string_view Statement::ColumnText(int col) const {
  const unsigned char* p = sqlite3_column_text(stmt_, col);
  int n = sqlite3_column_bytes(stmt_, col);
  if (p == nullptr) return {};
  return {reinterpret_cast<const char*>(p), static_cast<size_t>(n)};
}
std::string_view Statement::ColumnBlob(int col) const {
  const void* p = sqlite3_column_blob(stmt_, col);
  int n = sqlite3_column_bytes(stmt_, col);
  if (p == nullptr) return {};
  return {static_cast<const char*>(p), static_cast<size_t>(n)};
}
bool Statement::ColumnIsNull(int col) const {
  return sqlite3_column_type(stmt_, col) == SQLITE_NULL;
}
int Statement::ColumnCount() const { return sqlite3_column_count(stmt_); }

// ---- Database ----

StatusOr<std::unique_ptr<Database>> Database::Open(
    const DatabaseOptions& options) {
  int flags = SQLITE_OPEN_NOMUTEX;
  if (options.read_only) {
    flags |= SQLITE_OPEN_READONLY;
  } else {
    flags |= SQLITE_OPEN_READWRITE;
    if (options.create) flags |= SQLITE_OPEN_CREATE;
  }
  sqlite3* raw = nullptr;
  int rc = sqlite3_open_v2(options.path.c_str(), &raw, flags, nullptr);
  if (rc != SQLITE_OK) {
    Status s = SqliteStatus(rc, absl::StrCat("open ", options.path),
                            raw != nullptr ? sqlite3_errmsg(raw) : "");
    sqlite3_close(raw);
    return s;
  }
  sqlite3_extended_result_codes(raw, 1);
  std::unique_ptr<Database> db(new Database(raw, options));
  AIK_RETURN_IF_ERROR(db->Exec(
      absl::StrCat("PRAGMA busy_timeout=", options.busy_timeout.count(), ";")));
  if (options.mmap_size > 0) {
    AIK_RETURN_IF_ERROR(
        db->Exec(absl::StrCat("PRAGMA mmap_size=", options.mmap_size, ";")));
  }
  if (options.cache_size != 0) {
    AIK_RETURN_IF_ERROR(
        db->Exec(absl::StrCat("PRAGMA cache_size=", options.cache_size, ";")));
  }
  if (!options.read_only) {
    // journal_mode returns a row; check that WAL really took.
    AIK_ASSIGN_OR_RETURN(Statement jm, db->Prepare("PRAGMA journal_mode=WAL"));
    AIK_ASSIGN_OR_RETURN(bool row, jm.Step());
    if (!row || jm.ColumnText(0) != "wal") {
      return absl::UnavailableError(absl::StrCat(
          "sqlite: ", options.path, ": cannot enable WAL (journal_mode is ",
          row ? std::string(jm.ColumnText(0)) : "unknown", ")"));
    }
    AIK_RETURN_IF_ERROR(db->Exec(absl::StrCat(
        "PRAGMA synchronous=", SynchronousName(options.synchronous),
        "; PRAGMA foreign_keys=ON;")));
  }
  return db;
}

Database::~Database() {
  // sqlite3_close_v2 defers the close until every statement is finalized.
  if (db_ != nullptr) sqlite3_close_v2(db_);
}

Status Database::Exec(std::string_view sql) {
  std::string s(sql);
  char* err = nullptr;
  int rc = sqlite3_exec(db_, s.c_str(), nullptr, nullptr, &err);
  if (rc == SQLITE_OK) return absl::OkStatus();
  std::string msg = err != nullptr ? err : sqlite3_errmsg(db_);
  sqlite3_free(err);
  return SqliteStatus(rc, absl::StrCat("exec [", s, "]"), msg);
}

StatusOr<Statement> Database::Prepare(std::string_view sql) {
  sqlite3_stmt* stmt = nullptr;
  int rc = sqlite3_prepare_v3(db_, sql.data(), static_cast<int>(sql.size()),
                              SQLITE_PREPARE_PERSISTENT, &stmt, nullptr);
  if (rc != SQLITE_OK) {
    return SqliteStatus(rc, absl::StrCat("prepare [", AV(sql), "]"),
                        sqlite3_errmsg(db_));
  }
  if (stmt == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat("sqlite: prepare [", AV(sql), "]: no statement"));
  }
  return Statement(stmt, db_);
}

StatusOr<int64_t> Database::UserVersion() {
  AIK_ASSIGN_OR_RETURN(Statement st, Prepare("PRAGMA user_version"));
  AIK_ASSIGN_OR_RETURN(bool row, st.Step());
  return row ? st.ColumnInt64(0) : 0;
}

StatusOr<int64_t> Database::Migrate(const Migrations& migrations) {
  AIK_ASSIGN_OR_RETURN(int64_t version, UserVersion());
  const int64_t newest = static_cast<int64_t>(migrations.size());
  if (version > newest) {
    return absl::FailedPreconditionError(
        absl::StrCat(options_.path, ": schema version ", version,
                     " is newer than this build supports (", newest, ")"));
  }
  while (version < newest) {
    AIK_RETURN_IF_ERROR(Exec("BEGIN IMMEDIATE"));
    // Re-read under the write lock: another process may have migrated.
    StatusOr<int64_t> current = UserVersion();
    Status s = current.status();
    if (s.ok() && *current != version) {
      version = *current;
      s = Exec("ROLLBACK");
      if (!s.ok()) return s;
      if (version > newest) {
        return absl::FailedPreconditionError(
            absl::StrCat(options_.path, ": schema version ", version,
                         " is newer than this build supports (", newest, ")"));
      }
      continue;
    }
    if (s.ok()) s = Exec(migrations[version]);
    if (s.ok()) s = Exec(absl::StrCat("PRAGMA user_version=", version + 1));
    if (s.ok()) s = Exec("COMMIT");
    if (!s.ok()) {
      Exec("ROLLBACK").IgnoreError();
      return absl::Status(
          s.code(), absl::StrCat("migration to schema version ", version + 1,
                                 " failed: ", s.message()));
    }
    ++version;
  }
  return version;
}

int64_t Database::LastInsertRowId() const {
  return sqlite3_last_insert_rowid(db_);
}
int Database::Changes() const { return sqlite3_changes(db_); }
std::string Database::ErrorMessage() const { return sqlite3_errmsg(db_); }

}  // namespace aikernel::store
