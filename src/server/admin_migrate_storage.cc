#include "server/admin_migrate_storage.h"

#include "core/digest.h"
#include "core/error.h"
#include "core/random.h"
#include "core/time.h"
#include "metadata/pg_connection.h"
#include "metadata/sqlite_store.h"
#include "oci/manifest.h"
#include "server/stores.h"
#include "storage/filesystem_store.h"

#include <fcntl.h>
#include <sqlite3.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <sstream>
#include <thread>
#include <vector>

namespace berth::server {

namespace {

using metadata::PgConnection;
using Clock = std::chrono::steady_clock;

// One row as text: integers in decimal, booleans as 0 or 1, BLOB and
// bytea values as their bytes, nullopt for NULL. Both databases' rows are
// read into this form, so that they can be compared.
using Row = std::vector<std::optional<std::string>>;

// A condition the operator must resolve; its message is printed as it is.
class MigrationError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Bytes read from a blob at a time: one S3 part by default.
constexpr std::size_t kBufferBytes = 8 << 20;

// Differences listed in a message before "and N more".
constexpr std::size_t kListedDifferences = 10;

std::string format_bytes(std::uint64_t bytes) {
  const char* const units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double value = static_cast<double>(bytes);
  std::size_t unit = 0;
  while (value >= 1024 && unit + 1 < std::size(units)) {
    value /= 1024;
    ++unit;
  }
  char text[32];
  if (unit == 0) {
    std::snprintf(text, sizeof(text), "%llu B", static_cast<unsigned long long>(bytes));
  } else {
    std::snprintf(text, sizeof(text), "%.2f %s", value, units[unit]);
  }
  return text;
}

std::string format_rate(std::uint64_t bytes, double seconds) {
  if (seconds <= 0) return "-";
  return format_bytes(static_cast<std::uint64_t>(static_cast<double>(bytes) / seconds)) + "/s";
}

std::string quote_identifier(const std::string& name) {
  std::string out = "\"";
  for (char c : name) {
    if (c == '"') out += '"';
    out += c;
  }
  out += '"';
  return out;
}

std::string quote_literal(const std::string& text) {
  std::string out = "'";
  for (char c : text) {
    if (c == '\'') out += '\'';
    out += c;
  }
  out += '\'';
  return out;
}

// "1 row", "2 rows".
std::string rows_text(std::uint64_t count) { return std::to_string(count) + (count == 1 ? " row" : " rows"); }

// "a", "a and b", "a, b and c", with at most kListedDifferences items.
std::string join_list(const std::vector<std::string>& items) {
  std::string out;
  std::size_t shown = std::min(items.size(), kListedDifferences);
  for (std::size_t i = 0; i < shown; ++i) {
    if (i > 0) out += (i + 1 == shown && shown == items.size()) ? " and " : ", ";
    out += items[i];
  }
  if (shown < items.size()) out += " and " + std::to_string(items.size() - shown) + " more";
  return out;
}

// ---------------------------------------------------------------------------
// What the copy does with each table.

enum class Treatment {
  kCopy,     // rows copied, then compared with the source
  kDerived,  // filled by PostgreSQL's triggers from the copied rows, then compared
  kSkip,     // neither copied nor compared
};

struct TableRule {
  const char* name;
  Treatment treatment;
  // Columns that PostgreSQL's triggers set on insert: compared, not copied.
  std::vector<std::string> computed = {};
  // An SQL condition that selects the rows both sides compare.
  const char* compare_where = nullptr;
  // For the summary: what the rows of a skipped table are, or which rows
  // a derived table compares.
  const char* note = nullptr;
  // PostgreSQL columns that SQLite has no column for, with the SQLite
  // expression that gives their values.
  std::vector<std::pair<std::string, std::string>> source_expressions = {};
  // Columns that the comparison reads through an expression, the same on
  // both sides, instead of as they are.
  std::vector<std::pair<std::string, std::string>> compare_expressions = {};
};

// Every table of SQLite's schema version 6, in the order of the copy: a
// table comes after the tables that its foreign keys and PostgreSQL's
// triggers read. A table missing here stops the copy, so that a new table
// is never left behind silently.
const std::vector<TableRule>& table_rules() {
  static const std::vector<TableRule> rules = {
      {"accounts", Treatment::kCopy},
      {"identities", Treatment::kCopy},
      {"api_keys", Treatment::kCopy},
      {"policies", Treatment::kCopy},
      {"namespaces", Treatment::kCopy},
      {"deleted_namespaces", Treatment::kCopy},
      {"account_settings", Treatment::kCopy},
      {"account_quotas", Treatment::kCopy},
      {"retention_policies", Treatment::kCopy},
      {"repositories", Treatment::kCopy, {"account_id"}},
      {"blobs", Treatment::kCopy, {"ref_count"}},
      {"repository_blobs", Treatment::kCopy},
      {"manifests", Treatment::kCopy, {"account_id"}},
      // SQLite's trigger sets account_id on blob references only (its
      // migration 5 set it on every row), PostgreSQL's on every row. Only
      // blob references count toward usage, so only theirs are compared.
      {"manifest_references", Treatment::kCopy, {"account_id"}, nullptr, nullptr, {},
       {{"account_id", "CASE WHEN kind = 'blob' THEN account_id END"}}},
      {"tags", Treatment::kCopy},
      {"trash", Treatment::kCopy},
      {"trash_references", Treatment::kCopy},
      {"image_facts", Treatment::kCopy},
      {"pull_traffic", Treatment::kCopy},
      {"job_runs", Treatment::kCopy},
      // After tags, because the tags trigger queues a row for each tagged
      // manifest. The copy deletes those and copies SQLite's, which keep
      // their state (indexed, packages).
      // SQLite claims queued rows of one second in rowid order, and
      // PostgreSQL keeps that order in queue_order.
      {"va_inventories", Treatment::kCopy, {}, nullptr, nullptr, {{"queue_order", "rowid"}}},
      {"va_advisories", Treatment::kCopy},
      {"va_affected", Treatment::kCopy},
      {"va_feed", Treatment::kCopy},
      {"va_exemptions", Treatment::kCopy},
      {"account_blobs", Treatment::kDerived},
      // Both databases keep an account's row at 0 bytes once its last image
      // is gone, but the copy creates rows only for accounts that have
      // images.
      {"account_usage", Treatment::kDerived, {}, "storage_bytes <> 0", "accounts with usage above 0"},
      {"uploads", Treatment::kSkip, {}, nullptr,
       "upload sessions in progress: their data stays in the source, so clients start those uploads again"},
      {"job_leases", Treatment::kSkip, {}, nullptr, "leases of the stopped server's background jobs"},
  };
  return rules;
}

struct Column {
  std::string name;
  // The expression that the comparison reads on both sides, if not the
  // column itself.
  std::string compare;
  // The SQLite expression that reads the column: its quoted name, or the
  // expression from TableRule::source_expressions.
  std::string source;
  bool bytea = false;
  bool identity = false;
  bool computed = false;
};

struct TablePlan {
  const TableRule* rule;
  std::vector<Column> columns;  // in PostgreSQL's order

  std::string name() const { return rule->name; }
  bool compared() const { return rule->treatment != Treatment::kSkip; }
};

enum class Side { kSource, kTarget };

// The columns as a SELECT or COPY list for one side.
std::string column_list(const std::vector<Column>& columns, Side side) {
  std::string out;
  for (const auto& column : columns) {
    if (!out.empty()) out += ", ";
    out += side == Side::kSource ? column.source : quote_identifier(column.name);
  }
  return out;
}

std::vector<Column> copied_columns(const TablePlan& plan) {
  std::vector<Column> out;
  for (const auto& column : plan.columns) {
    if (!column.computed) out.push_back(column);
  }
  return out;
}

// The SELECT that reads the columns both sides compare.
std::string compare_query(const TablePlan& plan, Side side) {
  std::string list;
  for (const auto& column : plan.columns) {
    if (!list.empty()) list += ", ";
    if (!column.compare.empty()) {
      list += column.compare;
    } else {
      list += side == Side::kSource ? column.source : quote_identifier(column.name);
    }
  }
  std::string sql = "SELECT " + list + " FROM " + quote_identifier(plan.name());
  if (plan.rule->compare_where != nullptr) sql += std::string(" WHERE ") + plan.rule->compare_where;
  return sql;
}

// ---------------------------------------------------------------------------
// An order-independent digest of a table's rows: the sum of the rows'
// SHA-256 hashes modulo 2^256, and the row count.

// SHA-256 of the row's values, each marked as NULL or prefixed with its
// length, in hex.
std::string hash_row(const Row& row) {
  core::Hasher hasher(core::DigestAlgorithm::kSha256);
  for (const auto& value : row) {
    if (!value) {
      hasher.update("N", 1);
      continue;
    }
    std::array<unsigned char, 9> header{'V'};
    std::uint64_t length = value->size();
    for (int i = 0; i < 8; ++i) header[1 + i] = static_cast<unsigned char>(length >> (8 * i));
    hasher.update(header.data(), header.size());
    hasher.update(value->data(), value->size());
  }
  return hasher.digest().hex();
}

class TableDigest {
 public:
  void add(const Row& row) {
    const std::string hex = hash_row(row);
    unsigned carry = 0;
    for (std::size_t word = 0; word < sum_.size(); ++word) {
      std::uint64_t part = std::stoull(hex.substr(word * 16, 16), nullptr, 16);
      std::uint64_t total = sum_[word] + part;
      unsigned next_carry = total < part ? 1 : 0;
      total += carry;
      if (total < carry) next_carry = 1;
      sum_[word] = total;
      carry = next_carry;
    }
    ++rows_;
  }

  std::uint64_t rows() const { return rows_; }
  bool operator==(const TableDigest& other) const = default;

 private:
  std::uint64_t rows_ = 0;
  std::array<std::uint64_t, 4> sum_{};
};

// ---------------------------------------------------------------------------
// The source database, read through SQLite's C API because the tables'
// columns are only known at run time.

class SourceDatabase {
 public:
  explicit SourceDatabase(const std::string& path) : path_(path) {
    if (sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, nullptr) != SQLITE_OK) {
      std::string message = db_ ? sqlite3_errmsg(db_) : "out of memory";
      sqlite3_close(db_);
      throw core::InternalError("cannot open database " + path + ": " + message);
    }
    sqlite3_busy_timeout(db_, 30000);
  }
  ~SourceDatabase() { sqlite3_close(db_); }
  SourceDatabase(const SourceDatabase&) = delete;
  SourceDatabase& operator=(const SourceDatabase&) = delete;

  void exec(const char* sql) {
    char* message = nullptr;
    if (sqlite3_exec(db_, sql, nullptr, nullptr, &message) != SQLITE_OK) {
      std::string text = message ? message : sqlite3_errmsg(db_);
      sqlite3_free(message);
      throw core::InternalError("SQLite statement \"" + std::string(sql) + "\" on " + path_ + " failed: " + text);
    }
  }

  // Runs `sql` and passes each row to `each`.
  void rows(const std::string& sql, const std::function<void(const Row&)>& each) {
    sqlite3_stmt* statement = nullptr;
    if (sqlite3_prepare_v2(db_, sql.c_str(), -1, &statement, nullptr) != SQLITE_OK) fail(sql);
    struct Finalizer {
      sqlite3_stmt* statement;
      ~Finalizer() { sqlite3_finalize(statement); }
    } finalizer{statement};
    int columns = sqlite3_column_count(statement);
    Row row(static_cast<std::size_t>(columns));
    for (;;) {
      int status = sqlite3_step(statement);
      if (status == SQLITE_DONE) return;
      if (status != SQLITE_ROW) fail(sql);
      for (int i = 0; i < columns; ++i) {
        auto& value = row[static_cast<std::size_t>(i)];
        switch (sqlite3_column_type(statement, i)) {
          case SQLITE_NULL:
            value.reset();
            break;
          case SQLITE_BLOB: {
            const void* data = sqlite3_column_blob(statement, i);
            int size = sqlite3_column_bytes(statement, i);
            value.emplace(static_cast<const char*>(data), static_cast<std::size_t>(size));
            break;
          }
          default: {
            const unsigned char* text = sqlite3_column_text(statement, i);
            int size = sqlite3_column_bytes(statement, i);
            value.emplace(reinterpret_cast<const char*>(text), static_cast<std::size_t>(size));
          }
        }
      }
      each(row);
    }
  }

  std::int64_t count(const std::string& sql) {
    std::int64_t result = 0;
    rows(sql, [&](const Row& row) { result = row[0] ? std::stoll(*row[0]) : 0; });
    return result;
  }

 private:
  [[noreturn]] void fail(const std::string& sql) {
    throw core::InternalError("SQLite statement \"" + sql + "\" on " + path_ + " failed: " + sqlite3_errmsg(db_));
  }

  std::string path_;
  sqlite3* db_ = nullptr;
};

// ---------------------------------------------------------------------------
// The target database, through libpq on one connection.

constexpr Oid kBoolOid = 16;
constexpr Oid kByteaOid = 17;

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Converts row `index` of a text-format result into a Row: bytea from its
// hex output to bytes, booleans to 0 or 1 as SQLite stores them.
Row read_pg_row(PGresult* result, int index) {
  int columns = PQnfields(result);
  Row row(static_cast<std::size_t>(columns));
  for (int i = 0; i < columns; ++i) {
    if (PQgetisnull(result, index, i)) continue;
    const char* text = PQgetvalue(result, index, i);
    auto length = static_cast<std::size_t>(PQgetlength(result, index, i));
    Oid type = PQftype(result, i);
    if (type == kBoolOid) {
      row[static_cast<std::size_t>(i)] = std::string(text[0] == 't' ? "1" : "0");
    } else if (type == kByteaOid) {
      if (length < 2 || text[0] != '\\' || text[1] != 'x') {
        throw core::InternalError("PostgreSQL returned a bytea value that is not in hex format");
      }
      std::string bytes;
      bytes.reserve((length - 2) / 2);
      for (std::size_t at = 2; at + 1 < length; at += 2) {
        int high = hex_digit(text[at]);
        int low = hex_digit(text[at + 1]);
        if (high < 0 || low < 0) throw core::InternalError("PostgreSQL returned a malformed bytea value");
        bytes.push_back(static_cast<char>(high * 16 + low));
      }
      row[static_cast<std::size_t>(i)] = std::move(bytes);
    } else {
      row[static_cast<std::size_t>(i)] = std::string(text, length);
    }
  }
  return row;
}

// Reads every result of the query in progress, so that the connection
// can take the next one.
void drain_results(PGconn* conn) {
  while (PGresult* rest = PQgetResult(conn)) PQclear(rest);
}

// Runs `sql` and passes each row to `each` as it arrives (libpq's
// single-row mode), so that a large table is never held in memory.
void pg_rows(PgConnection& connection, const std::string& sql, const std::function<void(const Row&)>& each) {
  PGconn* conn = connection.native();
  if (PQsendQuery(conn, sql.c_str()) == 0) connection.fail("query \"" + sql + "\"", nullptr);
  PQsetSingleRowMode(conn);
  PGresult* failed = nullptr;
  while (PGresult* result = PQgetResult(conn)) {
    auto status = PQresultStatus(result);
    if (status == PGRES_SINGLE_TUPLE && failed == nullptr) {
      try {
        each(read_pg_row(result, 0));
      } catch (...) {
        PQclear(result);
        drain_results(conn);
        throw;
      }
      PQclear(result);
    } else if (status == PGRES_TUPLES_OK || status == PGRES_COMMAND_OK || status == PGRES_SINGLE_TUPLE) {
      PQclear(result);
    } else if (failed == nullptr) {
      failed = result;
    } else {
      PQclear(result);
    }
  }
  if (failed != nullptr) connection.fail("query \"" + sql + "\"", failed);
}

std::int64_t pg_count(PgConnection& connection, const std::string& sql) {
  std::int64_t result = 0;
  pg_rows(connection, sql, [&](const Row& row) { result = row[0] ? std::stoll(*row[0]) : 0; });
  return result;
}

// Appends `value` to a line of COPY's text format.
void append_copy_value(std::string& line, const std::optional<std::string>& value, const Column& column) {
  if (!value) {
    line += "\\N";
    return;
  }
  if (column.bytea) {
    // bytea's hex input, with its backslash escaped for COPY.
    static const char digits[] = "0123456789abcdef";
    line += "\\\\x";
    for (unsigned char c : *value) {
      line += digits[c >> 4];
      line += digits[c & 15];
    }
    return;
  }
  for (char c : *value) {
    switch (c) {
      case '\\':
        line += "\\\\";
        break;
      case '\n':
        line += "\\n";
        break;
      case '\r':
        line += "\\r";
        break;
      case '\t':
        line += "\\t";
        break;
      default:
        line += c;
    }
  }
}

// COPY table (columns) FROM STDIN, fed row by row. Row triggers fire as
// for INSERT. Aborts the COPY unless finish() ran.
class CopyIn {
 public:
  CopyIn(PgConnection& connection, const std::string& table, const std::vector<Column>& columns)
      : connection_(connection), table_(table), columns_(columns) {
    std::string sql = "COPY " + quote_identifier(table) + " (" + column_list(columns, Side::kTarget) + ") FROM STDIN";
    PGresult* result = PQexec(connection_.native(), sql.c_str());
    if (PQresultStatus(result) != PGRES_COPY_IN) connection_.fail("\"" + sql + "\"", result);
    PQclear(result);
    open_ = true;
  }

  ~CopyIn() {
    if (!open_) return;
    PQputCopyEnd(connection_.native(), "migrate-storage stopped");
    drain_results(connection_.native());
  }

  CopyIn(const CopyIn&) = delete;
  CopyIn& operator=(const CopyIn&) = delete;

  void add(const Row& row) {
    for (std::size_t i = 0; i < columns_.size(); ++i) {
      if (i > 0) buffer_ += '\t';
      append_copy_value(buffer_, row[i], columns_[i]);
    }
    buffer_ += '\n';
    ++rows_;
    if (buffer_.size() >= (1 << 20)) flush();
  }

  std::uint64_t finish() {
    flush();
    open_ = false;
    PGconn* conn = connection_.native();
    if (PQputCopyEnd(conn, nullptr) != 1) connection_.fail("COPY into " + table_, nullptr);
    PGresult* failed = nullptr;
    while (PGresult* result = PQgetResult(conn)) {
      if (PQresultStatus(result) != PGRES_COMMAND_OK && failed == nullptr) {
        failed = result;
      } else {
        PQclear(result);
      }
    }
    if (failed != nullptr) connection_.fail("COPY into " + table_, failed);
    return rows_;
  }

 private:
  void flush() {
    if (buffer_.empty()) return;
    if (PQputCopyData(connection_.native(), buffer_.data(), static_cast<int>(buffer_.size())) != 1) {
      connection_.fail("COPY into " + table_, nullptr);
    }
    buffer_.clear();
  }

  PgConnection& connection_;
  std::string table_;
  std::vector<Column> columns_;
  std::string buffer_;
  std::uint64_t rows_ = 0;
  bool open_ = false;
};

// ---------------------------------------------------------------------------
// The tables of both databases, checked against table_rules().

std::vector<TablePlan> plan_tables(SourceDatabase& source, PgConnection& target, const std::string& schema) {
  std::set<std::string> known;
  for (const auto& rule : table_rules()) known.insert(rule.name);

  std::set<std::string> source_tables;
  source.rows("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'",
              [&](const Row& row) { source_tables.insert(*row[0]); });
  std::set<std::string> target_tables;
  pg_rows(target,
          "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() "
          "AND table_type = 'BASE TABLE' AND table_name <> 'berth_schema'",
          [&](const Row& row) { target_tables.insert(*row[0]); });
  for (const auto& table : source_tables) {
    if (!known.contains(table)) {
      throw MigrationError("the source database has a table \"" + table +
                           "\" that migrate-storage has no rule for; this berthd cannot copy it");
    }
  }
  for (const auto& table : known) {
    if (!source_tables.contains(table)) {
      throw MigrationError("the source database has no table \"" + table +
                           "\", so it is not a database of this berthd's version");
    }
    if (!target_tables.contains(table)) {
      throw MigrationError("the PostgreSQL schema \"" + schema + "\" has no table \"" + table +
                           "\"; run `berthd admin migrate` with this configuration");
    }
  }

  std::vector<TablePlan> plans;
  for (const auto& rule : table_rules()) {
    TablePlan plan{&rule, {}};
    std::set<std::string> source_columns;
    source.rows("SELECT name FROM pragma_table_info(" + quote_literal(rule.name) + ")",
                [&](const Row& row) { source_columns.insert(*row[0]); });
    pg_rows(target,
            "SELECT column_name, data_type, is_identity FROM information_schema.columns "
            "WHERE table_schema = current_schema() AND table_name = " +
                quote_literal(rule.name) + " ORDER BY ordinal_position",
            [&](const Row& row) {
              Column column{.name = *row[0],
                            .source = quote_identifier(*row[0]),
                            .bytea = *row[1] == "bytea",
                            .identity = *row[2] == "YES"};
              column.computed = std::find(rule.computed.begin(), rule.computed.end(), column.name) !=
                                rule.computed.end();
              for (const auto& [name, expression] : rule.compare_expressions) {
                if (name == column.name) column.compare = expression;
              }
              plan.columns.push_back(std::move(column));
            });
    std::set<std::string> target_columns;
    for (auto& column : plan.columns) {
      auto expression = std::find_if(rule.source_expressions.begin(), rule.source_expressions.end(),
                                     [&](const auto& entry) { return entry.first == column.name; });
      if (expression != rule.source_expressions.end() && !source_columns.contains(column.name)) {
        column.source = expression->second;
      } else {
        target_columns.insert(column.name);
      }
    }
    if (source_columns != target_columns) {
      std::vector<std::string> only_source;
      std::vector<std::string> only_target;
      std::set_difference(source_columns.begin(), source_columns.end(), target_columns.begin(),
                          target_columns.end(), std::back_inserter(only_source));
      std::set_difference(target_columns.begin(), target_columns.end(), source_columns.begin(),
                          source_columns.end(), std::back_inserter(only_target));
      throw MigrationError("the columns of table \"" + std::string(rule.name) +
                           "\" differ between SQLite and PostgreSQL (only in SQLite: " +
                           (only_source.empty() ? "none" : join_list(only_source)) +
                           "; only in PostgreSQL: " + (only_target.empty() ? "none" : join_list(only_target)) +
                           "); this berthd cannot copy it");
    }
    plans.push_back(std::move(plan));
  }
  return plans;
}

// ---------------------------------------------------------------------------
// Comparison of both databases, table by table.

struct Comparison {
  std::map<std::string, TableDigest> source;
  std::map<std::string, TableDigest> target;

  std::vector<std::string> differing() const {
    std::vector<std::string> out;
    for (const auto& [table, digest] : source) {
      if (!(target.at(table) == digest)) out.push_back(table);
    }
    return out;
  }
};

Comparison compare_tables(SourceDatabase& source, PgConnection& target, const std::vector<TablePlan>& plans) {
  Comparison comparison;
  for (const auto& plan : plans) {
    if (!plan.compared()) continue;
    TableDigest& source_digest = comparison.source[plan.name()];
    source.rows(compare_query(plan, Side::kSource), [&](const Row& row) { source_digest.add(row); });
    TableDigest& target_digest = comparison.target[plan.name()];
    pg_rows(target, compare_query(plan, Side::kTarget), [&](const Row& row) { target_digest.add(row); });
  }
  return comparison;
}

std::string describe_table_difference(const Comparison& comparison, const std::string& table) {
  auto source_rows = comparison.source.at(table).rows();
  auto target_rows = comparison.target.at(table).rows();
  if (source_rows != target_rows) {
    return table + " (" + rows_text(source_rows) + " in the source, " + std::to_string(target_rows) +
           " in the target)";
  }
  return table + " (" + rows_text(source_rows) + " on both sides, with different values)";
}

// A row for a message: values cut to 40 bytes, in parentheses.
std::string render_row(const Row& row) {
  std::string out = "(";
  for (std::size_t i = 0; i < row.size(); ++i) {
    if (i > 0) out += ", ";
    if (!row[i]) {
      out += "NULL";
    } else if (row[i]->size() > 40) {
      out += row[i]->substr(0, 40) + "...";
    } else {
      out += *row[i];
    }
  }
  return out + ")";
}

// Lists rows of `plan`'s table that only one side has, for a table whose
// digests differ.
std::string describe_row_differences(SourceDatabase& source, PgConnection& target, const TablePlan& plan) {
  // By row hash: how many more times the source has the row than the
  // target, and the row as rendered for the message.
  std::map<std::string, std::pair<std::int64_t, std::string>> rows;
  source.rows(compare_query(plan, Side::kSource), [&](const Row& row) {
    auto& entry = rows[hash_row(row)];
    entry.first += 1;
    if (entry.second.empty()) entry.second = render_row(row);
  });
  pg_rows(target, compare_query(plan, Side::kTarget), [&](const Row& row) {
    auto& entry = rows[hash_row(row)];
    entry.first -= 1;
    if (entry.second.empty()) entry.second = render_row(row);
  });
  std::vector<std::string> only_source;
  std::vector<std::string> only_target;
  for (const auto& [hash, entry] : rows) {
    if (entry.first > 0) only_source.push_back(entry.second);
    if (entry.first < 0) only_target.push_back(entry.second);
  }
  std::string out = " In " + plan.name() + " (" + column_list(plan.columns, Side::kTarget) + "),";
  if (!only_source.empty()) out += " only the source has " + join_list(only_source);
  if (!only_source.empty() && !only_target.empty()) out += ", and";
  if (!only_target.empty()) out += " only PostgreSQL has " + join_list(only_target);
  return out + ".";
}

// Two columns of a table as a map from the first to the second.
std::map<std::string, std::string> read_pairs(const std::function<void(const std::function<void(const Row&)>&)>& rows) {
  std::map<std::string, std::string> out;
  rows([&](const Row& row) { out[row[0].value_or("NULL")] = row[1].value_or("NULL"); });
  return out;
}

// The entries whose values differ, as "KEY: S in SQLite, T computed by
// PostgreSQL", with `absent` for a key that one side lacks.
std::vector<std::string> pair_differences(const std::map<std::string, std::string>& source,
                                          const std::map<std::string, std::string>& target, const std::string& absent) {
  std::vector<std::string> out;
  std::set<std::string> keys;
  for (const auto& [key, value] : source) keys.insert(key);
  for (const auto& [key, value] : target) keys.insert(key);
  for (const auto& key : keys) {
    auto in_source = source.find(key);
    auto in_target = target.find(key);
    std::string source_value = in_source == source.end() ? absent : in_source->second;
    std::string target_value = in_target == target.end() ? absent : in_target->second;
    if (source_value != target_value) {
      out.push_back(key + ": " + source_value + " in SQLite, " + target_value + " computed by PostgreSQL");
    }
  }
  return out;
}

// Explains which reference counts and usage values PostgreSQL computed
// differently from SQLite.
std::string describe_derived_differences(SourceDatabase& source, PgConnection& target) {
  std::string out;
  const std::string blobs_sql = "SELECT digest, ref_count FROM blobs";
  auto source_counts = read_pairs([&](const auto& each) { source.rows(blobs_sql, each); });
  auto target_counts = read_pairs([&](const auto& each) { pg_rows(target, blobs_sql, each); });
  auto counts = pair_differences(source_counts, target_counts, "no row");
  if (!counts.empty()) out += " Reference counts of blobs differ: " + join_list(counts) + ".";

  const std::string usage_sql = "SELECT account_id, storage_bytes FROM account_usage WHERE storage_bytes <> 0";
  auto source_usage = read_pairs([&](const auto& each) { source.rows(usage_sql, each); });
  auto target_usage = read_pairs([&](const auto& each) { pg_rows(target, usage_sql, each); });
  auto usage = pair_differences(source_usage, target_usage, "0");
  if (!usage.empty()) out += " Storage usage in bytes of accounts differs: " + join_list(usage) + ".";
  return out;
}

// ---------------------------------------------------------------------------
// The state of the target before the copy.

enum class TargetState { kEmpty, kComplete };

// Returns kEmpty when no compared table of the target has a row, and
// kComplete when every compared table equals the source's. Throws
// MigrationError for anything else.
TargetState inspect_target(SourceDatabase& source, PgConnection& target, const std::vector<TablePlan>& plans,
                           const std::string& schema, const std::string& source_dir) {
  std::int64_t rows = 0;
  for (const auto& plan : plans) {
    if (plan.compared()) rows += pg_count(target, "SELECT count(*) FROM " + quote_identifier(plan.name()));
  }
  if (rows == 0) return TargetState::kEmpty;

  Comparison comparison = compare_tables(source, target, plans);
  auto differing = comparison.differing();
  if (differing.empty()) return TargetState::kComplete;

  std::set<std::string> source_accounts;
  source.rows("SELECT name FROM accounts", [&](const Row& row) { source_accounts.insert(*row[0]); });
  std::vector<std::string> foreign_accounts;
  pg_rows(target, "SELECT name FROM accounts ORDER BY name", [&](const Row& row) {
    if (!source_accounts.contains(*row[0])) foreign_accounts.push_back(*row[0]);
  });
  std::vector<std::string> tables;
  for (const auto& table : differing) tables.push_back(describe_table_difference(comparison, table));

  std::string message = "the PostgreSQL schema \"" + schema +
                        "\" already holds data that is not a copy of " + source_dir + ":";
  if (!foreign_accounts.empty()) {
    message += " it has the account" + std::string(foreign_accounts.size() == 1 ? " " : "s ") +
               join_list(foreign_accounts) + ", which the source does not have;";
  }
  message += " the tables that differ are " + join_list(tables) +
             ". Copy into an empty schema: drop this one (DROP SCHEMA " + quote_identifier(schema) +
             " CASCADE) or set metadata.postgres.schema to a new name, and run migrate-storage before any berthd "
             "starts on it (its first start creates the account default unless auth.bootstrap is false)";
  throw MigrationError(message);
}

// ---------------------------------------------------------------------------
// Blobs.

// Reads the whole blob in order and passes each piece to `consume`;
// returns the bytes read.
std::uint64_t stream_blob(storage::BlobReader& reader, std::vector<char>& buffer,
                          const std::function<void(const char*, std::size_t)>& consume) {
  std::uint64_t offset = 0;
  while (std::size_t n = reader.read_at(offset, buffer.data(), buffer.size())) {
    consume(buffer.data(), n);
    offset += n;
  }
  return offset;
}

struct BlobCounters {
  std::atomic<std::uint64_t> done{0};
  std::atomic<std::uint64_t> done_bytes{0};
  // Bytes read so far, of finished blobs and of those in progress.
  std::atomic<std::uint64_t> streamed_bytes{0};
  std::atomic<std::uint64_t> copied{0};
  std::atomic<std::uint64_t> copied_bytes{0};
  std::atomic<std::uint64_t> verified{0};
  std::atomic<std::uint64_t> verified_bytes{0};
  std::atomic<std::uint64_t> replaced{0};
};

class BlobCopy {
 public:
  BlobCopy(storage::BlobStore& source, storage::BlobStore& target, const MigrateStorageOptions& options,
           std::ostream& progress)
      : source_(source), target_(target), options_(options), progress_(progress) {}

  // Copies or verifies every blob in `blobs`, all of which the source has.
  // Throws the first failure after the other workers stop.
  void run(std::vector<metadata::BlobRecord> blobs) {
    // Large blobs first, so that the last minutes are not one large blob
    // on one worker.
    std::sort(blobs.begin(), blobs.end(), [](const auto& a, const auto& b) { return a.size > b.size; });
    for (const auto& blob : blobs) total_bytes_ += blob.size;
    total_ = blobs.size();
    started_ = Clock::now();

    std::thread reporter([&] { report_progress(); });
    std::vector<std::thread> workers;
    std::size_t count = std::min<std::size_t>(static_cast<std::size_t>(std::max(options_.parallel, 1)), blobs.size());
    for (std::size_t i = 0; i < count; ++i) workers.emplace_back([&] { work(blobs); });
    for (auto& worker : workers) worker.join();
    {
      std::lock_guard<std::mutex> lock(mutex_);
      finished_ = true;
    }
    wake_.notify_all();
    reporter.join();
    if (failure_) std::rethrow_exception(failure_);
  }

  const BlobCounters& counters() const { return counters_; }
  double seconds() const { return std::chrono::duration<double>(Clock::now() - started_).count(); }

 private:
  void work(const std::vector<metadata::BlobRecord>& blobs) {
    std::vector<char> buffer(kBufferBytes);
    for (;;) {
      std::size_t index = next_.fetch_add(1);
      if (index >= blobs.size() || stop_.load()) return;
      try {
        transfer(blobs[index], buffer);
      } catch (...) {
        std::lock_guard<std::mutex> lock(mutex_);
        if (!failure_) failure_ = std::current_exception();
        stop_ = true;
        return;
      }
    }
  }

  void transfer(const metadata::BlobRecord& blob, std::vector<char>& buffer) {
    if (auto size = target_.stat(blob.digest)) {
      if (*size == blob.size && target_holds(blob, buffer)) {
        counters_.verified += 1;
        counters_.verified_bytes += blob.size;
        counters_.done += 1;
        counters_.done_bytes += blob.size;
        return;
      }
      // commit_upload keeps a blob that exists, so the bad one goes first.
      say("blob " + blob.digest.str() + " in the target does not match its digest; copying it again");
      target_.remove(blob.digest);
      counters_.replaced += 1;
    }
    copy(blob, buffer);
    counters_.copied += 1;
    counters_.copied_bytes += blob.size;
    counters_.done += 1;
    counters_.done_bytes += blob.size;
  }

  // Reads the target's blob back and hashes it.
  bool target_holds(const metadata::BlobRecord& blob, std::vector<char>& buffer) {
    auto reader = target_.open(blob.digest);
    if (!reader) return false;
    core::Hasher hasher(blob.digest.algorithm());
    std::uint64_t read = stream_blob(*reader, buffer, [&](const char* data, std::size_t n) {
      hasher.update(data, n);
      counters_.streamed_bytes += n;
    });
    return read == blob.size && hasher.digest() == blob.digest;
  }

  void copy(const metadata::BlobRecord& blob, std::vector<char>& buffer) {
    auto reader = source_.open(blob.digest);
    if (!reader) {
      throw MigrationError("blob " + blob.digest.str() + " disappeared from " + options_.source_dir +
                           " during the copy; stop everything that writes there and run again");
    }
    // The driver state stays in memory: no other process takes this upload
    // over, and an interrupted run starts the blob again.
    std::string upload = core::random_uuid();
    std::string state = target_.create_upload(upload);
    try {
      core::Hasher hasher(blob.digest.algorithm());
      std::uint64_t read = 0;
      {
        auto writer = target_.append_upload(upload, state, 0);
        if (!writer) throw core::InternalError("the target cannot open its new upload " + upload);
        read = stream_blob(*reader, buffer, [&](const char* data, std::size_t n) {
          hasher.update(data, n);
          writer->write(data, n);
          counters_.streamed_bytes += n;
        });
        state = writer->finish();
      }
      core::Digest actual = hasher.digest();
      if (actual != blob.digest || read != blob.size) {
        throw MigrationError("blob " + blob.digest.str() + " in " + options_.source_dir + " has " +
                             std::to_string(read) + " bytes that hash to " + actual.str() + " (recorded: " +
                             std::to_string(blob.size) +
                             " bytes); the source's disk damaged it. Push the images that use it again, or delete "
                             "them, and run again");
      }
      target_.commit_upload(upload, state, blob.digest);
    } catch (...) {
      try {
        target_.delete_upload(upload);
      } catch (const std::exception& error) {
        say("cannot remove the unfinished upload " + upload + ": " + error.what());
      }
      throw;
    }
    auto stored = target_.stat(blob.digest);
    if (!stored || *stored != blob.size) {
      throw core::InternalError("the target reports " + (stored ? std::to_string(*stored) + " bytes" : "no data") +
                                " for blob " + blob.digest.str() + " just after committing " +
                                std::to_string(blob.size) + " bytes");
    }
  }

  void say(const std::string& line) {
    std::lock_guard<std::mutex> lock(output_mutex_);
    progress_ << "migrate-storage: " << line << std::endl;
  }

  void report_progress() {
    std::uint64_t last_streamed = 0;
    auto last_time = Clock::now();
    std::unique_lock<std::mutex> lock(mutex_);
    while (!finished_) {
      wake_.wait_for(lock, std::chrono::seconds(std::max(options_.progress_seconds, 1)));
      if (finished_) return;
      auto now = Clock::now();
      std::uint64_t streamed = counters_.streamed_bytes.load();
      double interval = std::chrono::duration<double>(now - last_time).count();
      say("blobs " + std::to_string(counters_.done.load()) + " of " + std::to_string(total_) + " (" +
          std::to_string(counters_.copied.load()) + " copied, " + std::to_string(counters_.verified.load()) +
          " already in the target and verified), " + format_bytes(counters_.done_bytes.load()) + " of " +
          format_bytes(total_bytes_) + " done, reading " + format_rate(streamed - last_streamed, interval));
      last_streamed = streamed;
      last_time = now;
    }
  }

  storage::BlobStore& source_;
  storage::BlobStore& target_;
  const MigrateStorageOptions& options_;
  std::ostream& progress_;

  BlobCounters counters_;
  std::uint64_t total_ = 0;
  std::uint64_t total_bytes_ = 0;
  Clock::time_point started_;
  std::atomic<std::size_t> next_{0};
  std::atomic<bool> stop_{false};

  std::mutex mutex_;  // guards failure_ and finished_
  std::condition_variable wake_;
  std::exception_ptr failure_;
  bool finished_ = false;
  std::mutex output_mutex_;
};

// ---------------------------------------------------------------------------
// Manifests in the target.

struct ManifestCheck {
  std::uint64_t manifests = 0;
  std::uint64_t trashed = 0;
  std::uint64_t references = 0;
  std::vector<std::string> errors;
};

// Checks every manifest and trashed manifest in the target: its content
// hashes to its digest and parses, and each blob it requires has a row and
// data of the row's size in the target's blob store.
ManifestCheck check_manifests(PgConnection& target, storage::BlobStore& blobs) {
  ManifestCheck check;
  std::map<std::string, std::uint64_t> sizes;
  pg_rows(target, "SELECT digest, size FROM blobs",
          [&](const Row& row) { sizes[*row[0]] = std::stoull(*row[1]); });
  std::map<std::string, std::optional<std::uint64_t>> stored;

  auto check_one = [&](const Row& row) {
    const std::string& repository = *row[0];
    const std::string& digest_text = *row[1];
    const std::string& media_type = *row[2];
    const std::string& content = *row[3];
    bool trashed = *row[4] == "1";
    std::string where = (trashed ? "trashed manifest " : "manifest ") + repository + "@" + digest_text;
    (trashed ? check.trashed : check.manifests) += 1;

    auto digest = core::Digest::parse(digest_text);
    if (!digest || core::digest_of(digest->algorithm(), content) != *digest) {
      check.errors.push_back(where + " does not hash to its digest");
      return;
    }
    oci::ParsedManifest parsed;
    try {
      parsed = oci::parse_manifest(content, media_type);
    } catch (const core::Error& error) {
      check.errors.push_back(where + " does not parse: " + error.what());
      return;
    }
    for (const auto& blob : parsed.required_blobs()) {
      ++check.references;
      auto recorded = sizes.find(blob.str());
      if (recorded == sizes.end()) {
        check.errors.push_back(where + " references blob " + blob.str() + ", which has no row in blobs");
        continue;
      }
      auto cached = stored.find(blob.str());
      if (cached == stored.end()) cached = stored.emplace(blob.str(), blobs.stat(blob)).first;
      if (!cached->second) {
        check.errors.push_back(where + " references blob " + blob.str() + ", which the blob store does not have");
      } else if (*cached->second != recorded->second) {
        check.errors.push_back(where + " references blob " + blob.str() + ", which has " +
                               std::to_string(*cached->second) + " bytes in the blob store but " +
                               std::to_string(recorded->second) + " in its row");
      }
    }
  };
  pg_rows(target,
          "SELECT r.name, m.digest, m.media_type, m.content, false FROM manifests m "
          "JOIN repositories r ON r.id = m.repository_id "
          "UNION ALL SELECT r.name, t.digest, t.media_type, t.content, true FROM trash t "
          "JOIN repositories r ON r.id = t.repository_id",
          check_one);
  return check;
}

// ---------------------------------------------------------------------------
// The copy of the rows.

void copy_rows(SourceDatabase& source, PgConnection& target, const std::vector<TablePlan>& plans,
               std::ostream& progress) {
  for (const auto& plan : plans) {
    if (plan.rule->treatment != Treatment::kCopy) continue;
    auto columns = copied_columns(plan);
    std::string select = "SELECT " + column_list(columns, Side::kSource) + " FROM " + quote_identifier(plan.name());
    if (plan.name() == "trash") {
      // An entry's part_of names the entry of the index it went to the
      // trash with. Parents are copied before their children, so that the
      // foreign key is satisfied whatever order their ids have.
      select = "WITH RECURSIVE depth(id, generation) AS (SELECT id, 0 FROM trash WHERE part_of IS NULL "
               "UNION ALL SELECT t.id, d.generation + 1 FROM trash t JOIN depth d ON t.part_of = d.id) "
               "SELECT " + column_list(columns, Side::kSource) +
               " FROM trash JOIN depth USING (id) ORDER BY generation, id";
    }
    if (plan.name() == "va_inventories") target.exec("DELETE FROM va_inventories");

    CopyIn copy(target, plan.name(), columns);
    source.rows(select, [&](const Row& row) { copy.add(row); });
    std::uint64_t rows = copy.finish();
    if (rows > 0) progress << "migrate-storage: copied " << rows_text(rows) << " of " << plan.name() << std::endl;
  }

  // Identity columns continue after the highest copied id.
  for (const auto& plan : plans) {
    for (const auto& column : plan.columns) {
      if (!column.identity) continue;
      std::string table = quote_identifier(plan.name());
      std::string name = quote_identifier(column.name);
      pg_rows(target,
              "SELECT setval(pg_get_serial_sequence(" + quote_literal(table) + ", " + quote_literal(column.name) +
                  "), coalesce(max(" + name + "), 0) + 1, false) FROM " + table,
              [](const Row&) {});
    }
  }
}

// ---------------------------------------------------------------------------
// The source data directory's lock, which berthd holds while it serves.

class SourceLock {
 public:
  explicit SourceLock(const std::filesystem::path& data) {
    std::filesystem::path path = data / "berth.lock";
    fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd_ < 0) throw MigrationError("cannot open " + path.string() + ": " + std::strerror(errno));
    if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
      ::close(fd_);
      throw MigrationError("berthd is running on " + data.string() + " (" + path.string() +
                           " is locked); stop it first, so that the copy is consistent");
    }
  }
  ~SourceLock() { ::close(fd_); }
  SourceLock(const SourceLock&) = delete;
  SourceLock& operator=(const SourceLock&) = delete;

 private:
  int fd_ = -1;
};

// A session-level advisory lock, so that two runs never copy into one
// schema at once.
class TargetLock {
 public:
  TargetLock(PgConnection& connection, const std::string& schema) : connection_(connection) {
    key_ = std::to_string(metadata::advisory_key("berth migrate-storage " + schema));
    bool taken = false;
    pg_rows(connection_, "SELECT pg_try_advisory_lock(" + key_ + ")",
            [&](const Row& row) { taken = row[0] == std::optional<std::string>("1"); });
    if (!taken) {
      throw MigrationError("another migrate-storage is copying into the PostgreSQL schema \"" + schema +
                           "\"; wait for it to finish");
    }
  }
  ~TargetLock() {
    try {
      pg_rows(connection_, "SELECT pg_advisory_unlock(" + key_ + ")", [](const Row&) {});
    } catch (const std::exception&) {
      // The lock goes with the session when the connection closes.
    }
  }
  TargetLock(const TargetLock&) = delete;
  TargetLock& operator=(const TargetLock&) = delete;

 private:
  PgConnection& connection_;
  std::string key_;
};

// ---------------------------------------------------------------------------

void print_counts(const std::vector<TablePlan>& plans, const Comparison& comparison,
                  const std::map<std::string, std::int64_t>& skipped_rows, std::ostream& out) {
  char line[160];
  std::snprintf(line, sizeof(line), "%-22s %10s %10s\n", "table", "source", "target");
  out << line;
  for (const auto& plan : plans) {
    if (plan.compared()) {
      std::snprintf(line, sizeof(line), "%-22s %10llu %10llu", plan.name().c_str(),
                    static_cast<unsigned long long>(comparison.source.at(plan.name()).rows()),
                    static_cast<unsigned long long>(comparison.target.at(plan.name()).rows()));
      out << line;
      if (plan.rule->note != nullptr) out << "  (" << plan.rule->note << ")";
    } else {
      std::snprintf(line, sizeof(line), "%-22s %10lld %10s", plan.name().c_str(),
                    static_cast<long long>(skipped_rows.at(plan.name())), "-");
      out << line << "  not copied: " << plan.rule->note;
    }
    out << "\n";
  }
}

// Throws MigrationError listing the problems, followed by `consequence`.
void check_manifests_or_throw(PgConnection& target, storage::BlobStore& blobs, const std::string& consequence,
                              std::ostream& out) {
  ManifestCheck check = check_manifests(target, blobs);
  if (!check.errors.empty()) {
    throw MigrationError("the target fails verification: " + join_list(check.errors) + ". " + consequence);
  }
  out << "verified " << check.manifests << " manifests and " << check.trashed
      << " trashed manifests: each hashes to its digest and parses, and the blob store has each of the "
      << check.references << " blobs they require with the size of its row\n";
}

// The source's blob records, split by whether the data directory has their
// data. A recorded blob without data that nothing uses is a leftover of an
// interrupted upload (berthd admin verify calls it a notice): its row is
// copied, and garbage collection removes it on the target as it would on
// the source. Data without a row is never served, so it stays behind.
struct SourceBlobs {
  std::vector<metadata::BlobRecord> with_data;
  std::map<std::string, std::uint64_t> sizes;  // of with_data, by digest
  std::set<std::string> without_data;

  // Whether a blob row read later is one of these, with the same size.
  bool contains(const std::string& digest, const std::string& size) const {
    auto found = sizes.find(digest);
    if (found != sizes.end()) return std::to_string(found->second) == size;
    return without_data.contains(digest);
  }
};

// Throws MigrationError naming every blob that is used but has no data, or
// whose file has another size than its record.
SourceBlobs find_source_blobs(metadata::SqliteStore& store, storage::FilesystemStore& blobs,
                              const std::string& source_dir) {
  SourceBlobs found;
  std::vector<std::string> damage;
  for (const auto& blob : store.list_blobs()) {
    auto size = blobs.stat(blob.digest);
    if (!size && blob.links == 0 && blob.ref_count == 0) {
      found.without_data.insert(blob.digest.str());
    } else if (!size) {
      damage.push_back("blob " + blob.digest.str() + " is used but its data is missing");
    } else if (*size != blob.size) {
      damage.push_back("blob " + blob.digest.str() + " is recorded with " + std::to_string(blob.size) +
                       " bytes but its file has " + std::to_string(*size));
    } else {
      found.with_data.push_back(blob);
      found.sizes[blob.digest.str()] = blob.size;
    }
  }
  if (!damage.empty()) {
    throw MigrationError("the source is damaged, so nothing was copied: " + join_list(damage) +
                         ". `berthd admin verify --data " + source_dir +
                         "` lists the damage; push the images that use those blobs again, or delete them, and run "
                         "again");
  }
  return found;
}

void print_blob_summary(const SourceBlobs& blobs, const BlobCopy& copy, std::ostream& out) {
  const auto& counters = copy.counters();
  std::uint64_t total_bytes = counters.copied_bytes + counters.verified_bytes;
  char seconds[32];
  std::snprintf(seconds, sizeof(seconds), "%.1f s", copy.seconds());
  out << "blobs: " << blobs.with_data.size() << " (" << format_bytes(total_bytes) << "): " << counters.copied
      << " copied (" << format_bytes(counters.copied_bytes) << "), " << counters.verified
      << " already in the target and verified (" << format_bytes(counters.verified_bytes) << ")";
  if (counters.replaced > 0) out << ", " << counters.replaced << " replaced because they did not match";
  if (!blobs.without_data.empty()) {
    out << "; " << blobs.without_data.size() << " recorded without data, rows copied only";
  }
  out << "; " << seconds << ", " << format_rate(total_bytes, copy.seconds()) << std::endl;
}

// Deletes the upload data in the target that no upload session records
// and that was last written no later than `started` (in whole seconds, so
// a run killed in the same second counts): what an interrupted run left.
// Nodes record a session for every upload that outlives a request, and no
// node runs on a target that the copy accepted. Returns how many uploads
// it deleted.
std::size_t remove_unfinished_uploads(storage::BlobStore& blobs, PgConnection& target, std::int64_t started) {
  std::set<std::string> sessions;
  pg_rows(target, "SELECT id FROM uploads", [&](const Row& row) { sessions.insert(*row[0]); });
  std::size_t removed = 0;
  for (const auto& id : blobs.list_uploads()) {
    if (sessions.contains(id)) continue;
    auto modified = blobs.upload_modified_at(id);
    if (modified && *modified > started) continue;
    blobs.delete_upload(id);
    ++removed;
  }
  return removed;
}

// Inside the source's read transaction: its blob rows must be those that
// the blob phase handled.
void check_source_unchanged(SourceDatabase& source, const SourceBlobs& blobs, const std::string& source_dir) {
  std::vector<std::string> changed;
  source.rows("SELECT digest, size FROM blobs", [&](const Row& row) {
    if (!blobs.contains(*row[0], *row[1])) changed.push_back(*row[0]);
  });
  if (!changed.empty()) {
    throw MigrationError("the source changed during the copy (blobs " + join_list(changed) +
                         "); stop every process that writes to " + source_dir + " and run again");
  }
}

// Copies the rows into the empty schema and checks them in one
// transaction, which commits only when everything matches.
Comparison copy_and_check_rows(SourceDatabase& source, PgConnection& target, const std::vector<TablePlan>& plans,
                               const std::string& schema, storage::BlobStore& blobs, std::ostream& out,
                               std::ostream& progress) {
  target.exec("BEGIN ISOLATION LEVEL SERIALIZABLE");
  try {
    // A berthd may have started on the target since inspect_target().
    for (const auto& plan : plans) {
      if (plan.compared() && pg_count(target, "SELECT count(*) FROM " + quote_identifier(plan.name())) != 0) {
        throw MigrationError("table " + plan.name() + " of the PostgreSQL schema \"" + schema +
                             "\" got rows while the blobs were copied; stop every berthd that uses it, empty it and "
                             "run again");
      }
    }
    copy_rows(source, target, plans, progress);
    Comparison comparison = compare_tables(source, target, plans);
    auto differing = comparison.differing();
    if (!differing.empty()) {
      std::vector<std::string> tables;
      std::string rows;
      for (const auto& table : differing) {
        tables.push_back(describe_table_difference(comparison, table));
        for (const auto& plan : plans) {
          if (plan.name() == table) rows += describe_row_differences(source, target, plan);
        }
      }
      std::string derived = describe_derived_differences(source, target);
      throw MigrationError("the copy was rolled back, because the rows in PostgreSQL differ from the source's in " +
                           join_list(tables) + "." + derived +
                           (derived.empty() ? "" : " PostgreSQL's triggers counted differently from SQLite's.") +
                           rows + " Nothing was committed");
    }
    check_manifests_or_throw(target, blobs, "The copy was rolled back, so nothing was committed", out);
    target.exec("COMMIT");
    return comparison;
  } catch (...) {
    if (!target.broken()) {
      try {
        target.exec("ROLLBACK");
      } catch (const std::exception&) {
        // The server rolls the transaction back when the connection closes.
      }
    }
    throw;
  }
}

// Checks a complete copy again, on one snapshot of the target.
Comparison check_existing_rows(SourceDatabase& source, PgConnection& target, const std::vector<TablePlan>& plans,
                               storage::BlobStore& blobs, std::ostream& out) {
  target.exec("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
  Comparison comparison = compare_tables(source, target, plans);
  if (!comparison.differing().empty()) {
    throw MigrationError("the target changed during the verification; stop every berthd that uses it and run again");
  }
  check_manifests_or_throw(target, blobs,
                           "Drop the schema and run migrate-storage again, or find the damage with `berthd admin "
                           "verify --deep`",
                           out);
  target.exec("COMMIT");
  return comparison;
}

void run_migration(const MigrateStorageOptions& options, const MigrationTarget& destination, std::ostream& out,
                   std::ostream& progress) {
  std::int64_t started = core::unix_now();
  std::filesystem::path source_dir(options.source_dir);
  std::filesystem::path database = source_dir / "berth.db";
  if (!std::filesystem::exists(database)) {
    throw MigrationError(options.source_dir + " is not a Berth data directory (it has no berth.db); pass the one the "
                         "embedded berthd used with --from DIR");
  }
  SourceLock source_lock(source_dir);

  // The source opens as berthd opens it, which brings an older schema up to
  // this build's version first.
  storage::FilesystemStore source_blobs(source_dir);
  metadata::SqliteStore source_store(metadata::SqliteOptions{.path = database.string(), .connections = 1});
  SourceDatabase source(database.string());

  storage::BlobStore& target_blobs = *destination.blobs;
  const std::string& schema = destination.postgres_schema;
  PgConnection target(destination.postgres_url);
  target.exec("SET search_path TO " + quote_identifier(schema));
  target.exec("SET client_encoding TO 'UTF8'");
  TargetLock target_lock(target, schema);

  progress << "migrate-storage: copying " << options.source_dir << " into the PostgreSQL schema \"" << schema
           << "\" and " << destination.blobs_description << std::endl;
  std::vector<TablePlan> plans = plan_tables(source, target, schema);
  TargetState state = inspect_target(source, target, plans, schema, options.source_dir);
  if (state == TargetState::kComplete) {
    progress << "migrate-storage: the target already holds a complete copy of " << options.source_dir
             << "; verifying it" << std::endl;
  }

  SourceBlobs blobs = find_source_blobs(source_store, source_blobs, options.source_dir);
  if (std::size_t removed = remove_unfinished_uploads(target_blobs, target, started)) {
    progress << "migrate-storage: deleted " << removed << " unfinished upload" << (removed == 1 ? "" : "s")
             << " that an interrupted run left in the target" << std::endl;
  }
  BlobCopy blob_copy(source_blobs, target_blobs, options, progress);
  blob_copy.run(blobs.with_data);
  print_blob_summary(blobs, blob_copy, out);

  // One read transaction on SQLite: a snapshot for all reads of the rows.
  source.exec("BEGIN");
  check_source_unchanged(source, blobs, options.source_dir);
  std::map<std::string, std::int64_t> skipped_rows;
  for (const auto& plan : plans) {
    if (plan.compared()) continue;
    skipped_rows[plan.name()] = source.count("SELECT count(*) FROM " + quote_identifier(plan.name()));
  }
  Comparison comparison = state == TargetState::kEmpty
                              ? copy_and_check_rows(source, target, plans, schema, target_blobs, out, progress)
                              : check_existing_rows(source, target, plans, target_blobs, out);
  source.exec("COMMIT");

  print_counts(plans, comparison, skipped_rows, out);
  if (state == TargetState::kEmpty) {
    out << "copied " << options.source_dir << " and verified the copy; start berthd with this configuration\n";
  } else {
    out << "the target already held a complete copy of " << options.source_dir
        << ", verified again; start berthd with this configuration\n";
  }
}

}  // namespace

int migrate_storage(const Config& config, const MigrateStorageOptions& options, std::ostream& out,
                    std::ostream& progress) {
  if (config.metadata_backend != "postgres" || config.storage_backend != "s3") {
    progress << "berthd: migrate-storage copies into PostgreSQL and S3, but the configuration sets metadata.backend "
                "to " << config.metadata_backend << " and storage.backend to " << config.storage_backend
             << "; pass a configuration with metadata.backend: postgres and storage.backend: s3 and their settings "
                "(docs/configuration.md) with --config\n";
    return 1;
  }
  Stores stores;
  try {
    // Opening PostgreSQL creates the schema or brings it to this build's
    // version (unless metadata.postgres.migrate is false).
    stores = open_stores(config, /*listen=*/false);
  } catch (const std::exception& error) {
    progress << "berthd: migrate-storage cannot open the target: " << error.what() << "\n";
    return 1;
  }
  MigrationTarget target{.postgres_url = config.postgres_url,
                         .postgres_schema = config.postgres_schema,
                         .blobs = stores.blobs.get(),
                         .blobs_description = "the S3 bucket " + config.s3_bucket};
  return copy_deployment(options, target, out, progress);
}

int copy_deployment(const MigrateStorageOptions& options, const MigrationTarget& target, std::ostream& out,
                    std::ostream& progress) {
  try {
    run_migration(options, target, out, progress);
    return 0;
  } catch (const MigrationError& error) {
    out.flush();
    progress << "berthd: migrate-storage: " << error.what() << std::endl;
  } catch (const std::exception& error) {
    out.flush();
    progress << "berthd: migrate-storage failed: " << error.what()
             << "\nRun the same command again to continue: it keeps the blobs copied so far after verifying them, "
                "and the rows are copied in one transaction, so none were committed"
             << std::endl;
  }
  return 1;
}

}  // namespace berth::server
