#include "metadata/sqlite_connection.h"

#include "core/error.h"

#include <spdlog/spdlog.h>

namespace berth::metadata {

using core::InternalError;

Statement::Statement(SqliteConnection& connection, sqlite3_stmt* statement)
    : connection_(connection), statement_(statement) {}

Statement::~Statement() {
  sqlite3_reset(statement_);
  sqlite3_clear_bindings(statement_);
}

Statement& Statement::bind(int index, std::int64_t value) {
  if (sqlite3_bind_int64(statement_, index, value) != SQLITE_OK) connection_.fail("bind");
  return *this;
}

Statement& Statement::bind(int index, std::string_view text) {
  if (sqlite3_bind_text(statement_, index, text.data(), static_cast<int>(text.size()), SQLITE_TRANSIENT) != SQLITE_OK) {
    connection_.fail("bind");
  }
  return *this;
}

Statement& Statement::bind_blob(int index, std::string_view bytes) {
  // A zero-length blob must still bind as a blob, not NULL, hence the
  // non-null pointer for empty input.
  const char* data = bytes.empty() ? "" : bytes.data();
  if (sqlite3_bind_blob(statement_, index, data, static_cast<int>(bytes.size()), SQLITE_TRANSIENT) != SQLITE_OK) {
    connection_.fail("bind");
  }
  return *this;
}

Statement& Statement::bind_null(int index) {
  if (sqlite3_bind_null(statement_, index) != SQLITE_OK) connection_.fail("bind");
  return *this;
}

bool Statement::step() {
  int rc = sqlite3_step(statement_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  connection_.fail(std::string("statement \"") + sqlite3_sql(statement_) + "\"");
}

void Statement::run() {
  while (step()) {
  }
}

std::int64_t Statement::column_int(int index) const { return sqlite3_column_int64(statement_, index); }

std::string Statement::column_text(int index) const {
  const void* data = sqlite3_column_blob(statement_, index);
  int size = sqlite3_column_bytes(statement_, index);
  if (data == nullptr) return {};
  return std::string(static_cast<const char*>(data), static_cast<std::size_t>(size));
}

bool Statement::column_is_null(int index) const { return sqlite3_column_type(statement_, index) == SQLITE_NULL; }

SqliteConnection::SqliteConnection(const std::string& path) {
  int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
  if (sqlite3_open_v2(path.c_str(), &db_, flags, nullptr) != SQLITE_OK) {
    std::string message = db_ ? sqlite3_errmsg(db_) : "out of memory";
    sqlite3_close(db_);
    db_ = nullptr;
    throw InternalError("cannot open database " + path + ": " + message);
  }
  sqlite3_extended_result_codes(db_, 1);
  // Writers are serialized in-process; the timeout covers offline admin
  // commands that open the same database.
  sqlite3_busy_timeout(db_, 30000);
}

SqliteConnection::~SqliteConnection() {
  for (auto& [sql, statement] : statements_) sqlite3_finalize(statement);
  sqlite3_close(db_);
}

void SqliteConnection::exec(const char* sql) {
  char* message = nullptr;
  if (sqlite3_exec(db_, sql, nullptr, nullptr, &message) != SQLITE_OK) {
    std::string text = message ? message : "unknown error";
    sqlite3_free(message);
    throw InternalError(std::string("SQLite failed on \"") + sql + "\": " + text);
  }
}

Statement SqliteConnection::prepare(const char* sql) {
  auto it = statements_.find(sql);
  if (it == statements_.end()) {
    sqlite3_stmt* statement = nullptr;
    if (sqlite3_prepare_v3(db_, sql, -1, SQLITE_PREPARE_PERSISTENT, &statement, nullptr) != SQLITE_OK) {
      fail(std::string("prepare \"") + sql + "\"");
    }
    it = statements_.emplace(sql, statement).first;
  }
  return Statement(*this, it->second);
}

void SqliteConnection::fail(const std::string& what) const {
  throw InternalError("SQLite " + what + " failed: " + sqlite3_errmsg(db_));
}

Transaction::Transaction(SqliteConnection& connection, bool write) : connection_(connection) {
  connection_.exec(write ? "BEGIN IMMEDIATE" : "BEGIN");
}

Transaction::~Transaction() {
  if (!open_) return;
  try {
    connection_.exec("ROLLBACK");
  } catch (const std::exception& error) {
    spdlog::error("sqlite_rollback_failed error={}", error.what());
  }
}

void Transaction::commit() {
  connection_.exec("COMMIT");
  open_ = false;
}

}  // namespace berth::metadata
