#include "metadata/pg_connection.h"

#include <charconv>

namespace berth::metadata {

namespace {

constexpr Oid kByteaOid = 17;

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Decodes bytea's hex text output ("\x0a1b...").
std::string decode_bytea(const char* text, int length) {
  if (length < 2 || text[0] != '\\' || text[1] != 'x') {
    throw core::InternalError("PostgreSQL returned a bytea value that is not in hex format; set bytea_output = hex");
  }
  std::string out;
  out.reserve(static_cast<std::size_t>(length - 2) / 2);
  for (int i = 2; i + 1 < length; i += 2) {
    int high = hex_value(text[i]);
    int low = hex_value(text[i + 1]);
    if (high < 0 || low < 0) throw core::InternalError("PostgreSQL returned a malformed bytea value");
    out.push_back(static_cast<char>(high * 16 + low));
  }
  return out;
}

}  // namespace

PgStatement::PgStatement(PgConnection& connection, const std::string& name, const char* sql)
    : connection_(&connection), name_(name), sql_(sql) {}

PgStatement::PgStatement(PgStatement&& other) noexcept
    : connection_(other.connection_),
      name_(std::move(other.name_)),
      sql_(other.sql_),
      values_(std::move(other.values_)),
      nulls_(std::move(other.nulls_)),
      formats_(std::move(other.formats_)),
      result_(other.result_),
      row_(other.row_),
      rows_(other.rows_),
      changes_(other.changes_) {
  other.result_ = nullptr;
}

PgStatement::~PgStatement() {
  if (result_ != nullptr) PQclear(result_);
}

void PgStatement::slot(int index) {
  if (index < 1) throw core::InternalError("PostgreSQL parameters are numbered from 1");
  auto size = static_cast<std::size_t>(index);
  if (values_.size() < size) {
    values_.resize(size);
    nulls_.resize(size, true);
    formats_.resize(size, 0);
  }
}

PgStatement& PgStatement::bind(int index, std::int64_t value) {
  slot(index);
  values_[index - 1] = std::to_string(value);
  nulls_[index - 1] = false;
  formats_[index - 1] = 0;
  return *this;
}

PgStatement& PgStatement::bind(int index, std::string_view text) {
  slot(index);
  values_[index - 1].assign(text);
  nulls_[index - 1] = false;
  formats_[index - 1] = 0;
  return *this;
}

PgStatement& PgStatement::bind_blob(int index, std::string_view bytes) {
  slot(index);
  values_[index - 1].assign(bytes);
  nulls_[index - 1] = false;
  formats_[index - 1] = 1;
  return *this;
}

PgStatement& PgStatement::bind_null(int index) {
  slot(index);
  values_[index - 1].clear();
  nulls_[index - 1] = true;
  formats_[index - 1] = 0;
  return *this;
}

void PgStatement::execute() {
  std::vector<const char*> values(values_.size());
  std::vector<int> lengths(values_.size());
  for (std::size_t i = 0; i < values_.size(); ++i) {
    values[i] = nulls_[i] ? nullptr : values_[i].data();
    lengths[i] = static_cast<int>(values_[i].size());
  }
  PGresult* result =
      PQexecPrepared(connection_->conn_, name_.c_str(), static_cast<int>(values.size()), values.data(),
                     lengths.data(), formats_.data(), 0);
  auto status = PQresultStatus(result);
  if (status != PGRES_TUPLES_OK && status != PGRES_COMMAND_OK) {
    connection_->fail(std::string("statement \"") + sql_ + "\"", result);
  }
  result_ = result;
  rows_ = PQntuples(result);
  const char* affected = PQcmdTuples(result);
  changes_ = 0;
  if (affected != nullptr && *affected != '\0') {
    std::from_chars(affected, affected + std::char_traits<char>::length(affected), changes_);
  }
  connection_->changes_ = changes_;
}

bool PgStatement::step() {
  if (result_ == nullptr) execute();
  if (row_ + 1 >= rows_) {
    row_ = rows_;
    return false;
  }
  ++row_;
  return true;
}

void PgStatement::run() {
  if (result_ == nullptr) execute();
}

std::int64_t PgStatement::column_int(int index) const {
  if (PQgetisnull(result_, row_, index)) return 0;
  const char* text = PQgetvalue(result_, row_, index);
  int length = PQgetlength(result_, row_, index);
  if (length == 1 && (text[0] == 't' || text[0] == 'f')) return text[0] == 't' ? 1 : 0;  // boolean
  std::int64_t value = 0;
  auto [end, error] = std::from_chars(text, text + length, value);
  if (error != std::errc() || end != text + length) {
    std::string message = "PostgreSQL column ";
    message.append(std::to_string(index)).append(" of \"").append(sql_).append("\" is not an integer: ");
    message.append(text, static_cast<std::size_t>(length));
    throw core::InternalError(message);
  }
  return value;
}

std::string PgStatement::column_text(int index) const {
  if (PQgetisnull(result_, row_, index)) return {};
  const char* text = PQgetvalue(result_, row_, index);
  int length = PQgetlength(result_, row_, index);
  if (PQftype(result_, index) == kByteaOid) return decode_bytea(text, length);
  return std::string(text, static_cast<std::size_t>(length));
}

bool PgStatement::column_is_null(int index) const { return PQgetisnull(result_, row_, index) != 0; }

PgConnection::PgConnection(const std::string& conninfo) {
  conn_ = PQconnectdb(conninfo.c_str());
  if (conn_ == nullptr) throw PgError("cannot connect to PostgreSQL: out of memory", "");
  if (PQstatus(conn_) != CONNECTION_OK) {
    std::string message = PQerrorMessage(conn_);
    while (!message.empty() && (message.back() == '\n' || message.back() == ' ')) message.pop_back();
    PQfinish(conn_);
    conn_ = nullptr;
    throw PgError("cannot connect to PostgreSQL: " + message, "");
  }
  exec("SET bytea_output = hex; SET client_min_messages = warning");
}

PgConnection::~PgConnection() {
  if (conn_ != nullptr) PQfinish(conn_);
}

void PgConnection::exec(const char* sql) {
  PGresult* result = PQexec(conn_, sql);
  auto status = PQresultStatus(result);
  if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) fail(std::string("\"") + sql + "\"", result);
  PQclear(result);
}

PgStatement PgConnection::prepare(const char* sql) {
  auto it = statements_.find(sql);
  if (it == statements_.end()) {
    std::string name = "s";
    name.append(std::to_string(statements_.size() + 1));
    PGresult* result = PQprepare(conn_, name.c_str(), sql, 0, nullptr);
    if (PQresultStatus(result) != PGRES_COMMAND_OK) fail(std::string("prepare \"") + sql + "\"", result);
    PQclear(result);
    it = statements_.emplace(sql, std::move(name)).first;
  }
  return PgStatement(*this, it->second, sql);
}

bool PgConnection::broken() const { return conn_ == nullptr || PQstatus(conn_) != CONNECTION_OK; }

void PgConnection::fail(const std::string& what, PGresult* result) const {
  std::string sqlstate;
  std::string message;
  if (result != nullptr) {
    const char* state = PQresultErrorField(result, PG_DIAG_SQLSTATE);
    if (state != nullptr) sqlstate = state;
    message = PQresultErrorMessage(result);
    PQclear(result);
  }
  if (message.empty()) message = PQerrorMessage(conn_);
  while (!message.empty() && (message.back() == '\n' || message.back() == ' ')) message.pop_back();
  throw PgError("PostgreSQL " + what + " failed: " + message, sqlstate);
}

std::int64_t advisory_key(std::string_view text) {
  std::uint64_t hash = 14695981039346656037ULL;
  for (unsigned char c : text) {
    hash ^= c;
    hash *= 1099511628211ULL;
  }
  return static_cast<std::int64_t>(hash);
}

}  // namespace berth::metadata
