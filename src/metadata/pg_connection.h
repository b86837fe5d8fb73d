// A thin RAII layer over libpq, shaped like sqlite_connection.h so that the
// PostgreSQL store reads like the SQLite one: one connection with a cache
// of prepared statements, and statements bound by 1-based index.
#pragma once

#include "core/error.h"

#include <libpq-fe.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace berth::metadata {

// A failed statement. sqlstate() is PostgreSQL's five-character code
// (e.g. 40001 for a serialization failure), empty when the connection
// itself failed.
class PgError : public core::InternalError {
 public:
  PgError(const std::string& message, std::string sqlstate)
      : core::InternalError(message), sqlstate_(std::move(sqlstate)) {}
  const std::string& sqlstate() const { return sqlstate_; }
  // A serialization failure or deadlock: the transaction can run again.
  bool retryable() const { return sqlstate_ == "40001" || sqlstate_ == "40P01"; }
  // The connection is gone (SQLSTATE class 08, or no SQLSTATE at all).
  bool connection_lost() const { return sqlstate_.empty() || sqlstate_.starts_with("08"); }

 private:
  std::string sqlstate_;
};

class PgConnection;

// A prepared statement and, once executed, its whole result. Parameters
// are sent as text, except those bound with bind_blob (binary bytea). A
// bytea column is decoded by column_text. Not thread-safe.
class PgStatement {
 public:
  PgStatement(PgConnection& connection, const std::string& name, const char* sql);
  ~PgStatement();
  PgStatement(const PgStatement&) = delete;
  PgStatement& operator=(const PgStatement&) = delete;
  PgStatement(PgStatement&& other) noexcept;

  PgStatement& bind(int index, std::int64_t value);
  PgStatement& bind(int index, std::string_view text);
  PgStatement& bind_blob(int index, std::string_view bytes);
  PgStatement& bind_null(int index);

  // Executes on the first call; then returns true while a row is
  // available, moving to the next row on each call.
  bool step();
  // Executes, for statements whose rows are not read.
  void run();
  // Rows inserted, updated or deleted by the execution.
  std::int64_t changes() const { return changes_; }

  std::int64_t column_int(int index) const;
  std::string column_text(int index) const;
  bool column_is_null(int index) const;

 private:
  void execute();
  void slot(int index);

  PgConnection* connection_;
  std::string name_;
  const char* sql_;
  std::vector<std::string> values_;
  std::vector<bool> nulls_;
  std::vector<int> formats_;
  PGresult* result_ = nullptr;
  int row_ = -1;
  int rows_ = 0;
  std::int64_t changes_ = 0;
};

class PgConnection {
 public:
  // Connects with a libpq connection string or URI. Throws PgError with
  // libpq's message on failure.
  explicit PgConnection(const std::string& conninfo);
  ~PgConnection();
  PgConnection(const PgConnection&) = delete;
  PgConnection& operator=(const PgConnection&) = delete;

  // Runs one or more statements without parameters or results.
  void exec(const char* sql);
  void exec(const std::string& sql) { exec(sql.c_str()); }

  // A statement for `sql`, prepared on the server once per connection.
  // `sql` must be a string literal: the cache is keyed by its address.
  PgStatement prepare(const char* sql);

  // Rows changed by the last statement executed through prepare().
  std::int64_t changes() const { return changes_; }

  // True when the connection is unusable and must be replaced.
  bool broken() const;

  // Inside PgStore::write(): roll the transaction back instead of
  // committing it when the callback returns.
  void discard_transaction() { discard_ = true; }
  bool take_discard() {
    bool discard = discard_;
    discard_ = false;
    return discard;
  }

  // Throws PgError built from `result` (which may be null) and frees it.
  [[noreturn]] void fail(const std::string& what, PGresult* result) const;

  PGconn* native() { return conn_; }

 private:
  friend class PgStatement;
  PGconn* conn_ = nullptr;
  std::unordered_map<const char*, std::string> statements_;
  std::int64_t changes_ = 0;
  bool discard_ = false;
};

// A 64-bit key for pg_advisory_lock derived from `text` (FNV-1a).
std::int64_t advisory_key(std::string_view text);

}  // namespace berth::metadata
