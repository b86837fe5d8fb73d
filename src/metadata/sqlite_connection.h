// A thin RAII layer over the SQLite C API: one connection with a cache of
// prepared statements, and statements that reset themselves.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>

namespace berth::metadata {

class SqliteConnection;

// A prepared statement borrowed from a connection's cache. Resets and
// clears its bindings when it goes out of scope. Not thread-safe.
class Statement {
 public:
  Statement(SqliteConnection& connection, sqlite3_stmt* statement);
  ~Statement();
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  // Bind parameters by 1-based index.
  Statement& bind(int index, std::int64_t value);
  Statement& bind(int index, std::string_view text);
  Statement& bind_blob(int index, std::string_view bytes);
  Statement& bind_null(int index);

  // Steps once; returns true while a row is available.
  bool step();
  // Steps to completion, for statements that return no rows.
  void run();

  std::int64_t column_int(int index) const;
  std::string column_text(int index) const;
  bool column_is_null(int index) const;

 private:
  SqliteConnection& connection_;
  sqlite3_stmt* statement_;
};

class SqliteConnection {
 public:
  // Opens (creating if needed) the database at `path`. Throws
  // core::InternalError with SQLite's message on failure.
  explicit SqliteConnection(const std::string& path);
  ~SqliteConnection();
  SqliteConnection(const SqliteConnection&) = delete;
  SqliteConnection& operator=(const SqliteConnection&) = delete;

  // Runs one or more statements without results (schema, pragmas, BEGIN).
  void exec(const char* sql);

  // A prepared statement for `sql`, compiled once per connection. `sql`
  // must be a string literal: the cache is keyed by its address.
  Statement prepare(const char* sql);

  int changes() const { return sqlite3_changes(db_); }
  std::int64_t last_insert_rowid() const { return sqlite3_last_insert_rowid(db_); }
  [[noreturn]] void fail(const std::string& what) const;

 private:
  sqlite3* db_ = nullptr;
  std::unordered_map<const char*, sqlite3_stmt*> statements_;
};

// Runs a write transaction: BEGIN IMMEDIATE on construction, ROLLBACK on
// destruction unless commit() was called.
class Transaction {
 public:
  explicit Transaction(SqliteConnection& connection, bool write);
  ~Transaction();
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;
  void commit();

 private:
  SqliteConnection& connection_;
  bool open_ = true;
};

}  // namespace berth::metadata
