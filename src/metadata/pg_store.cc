#include "metadata/pg_store.h"

#include "core/error.h"
#include "metadata/pg_schema.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <limits>
#include <random>
#include <thread>

namespace berth::metadata {

using core::Digest;
using core::InternalError;

namespace {

// Quotes an identifier for SQL text ("my schema" -> "\"my schema\"").
std::string quote_identifier(const std::string& name) {
  std::string out = "\"";
  for (char c : name) {
    if (c == '"') out += '"';
    out += c;
  }
  out += '"';
  return out;
}

// Serializes migrations across nodes; any constant unlikely to clash with
// another application's advisory locks.
constexpr std::int64_t kMigrationLock = 0x6265727468'6d6967;  // "berthmig"

}  // namespace

std::int64_t PgStore::probe_limit(std::size_t limit) {
  constexpr std::size_t kLargest = static_cast<std::size_t>(std::numeric_limits<std::int64_t>::max()) - 1;
  return static_cast<std::int64_t>(std::min(limit, kLargest)) + 1;
}

int PgStore::schema_version() { return static_cast<int>(pg_migrations().size()); }

std::unique_ptr<PgConnection> PgStore::connect() {
  auto connection = std::make_unique<PgConnection>(options_.conninfo);
  connection->exec("SET search_path TO " + quote_identifier(options_.schema));
  return connection;
}

PgStore::Lease::Lease(PgStore& store) : store_(store) {
  {
    std::unique_lock<std::mutex> lock(store_.pool_mutex_);
    store_.pool_available_.wait(lock, [&] { return !store_.idle_.empty() || store_.open_ < store_.options_.connections; });
    if (!store_.idle_.empty()) {
      connection_ = std::move(store_.idle_.back());
      store_.idle_.pop_back();
      return;
    }
    ++store_.open_;
  }
  try {
    connection_ = store_.connect();
  } catch (...) {
    {
      std::lock_guard<std::mutex> lock(store_.pool_mutex_);
      --store_.open_;
    }
    store_.pool_available_.notify_one();
    throw;
  }
}

PgStore::Lease::~Lease() {
  {
    std::lock_guard<std::mutex> lock(store_.pool_mutex_);
    if (connection_ && !connection_->broken()) {
      store_.idle_.push_back(std::move(connection_));
    } else {
      // Dropped; the next lease opens a new connection in its place.
      --store_.open_;
    }
  }
  store_.pool_available_.notify_one();
}

PgStore::PgStore(PgOptions options) : options_(std::move(options)) {
  if (options_.connections == 0) options_.connections = 1;
  if (options_.schema.empty()) options_.schema = "public";
  {
    PgConnection connection(options_.conninfo);
    connection.exec("CREATE SCHEMA IF NOT EXISTS " + quote_identifier(options_.schema));
  }
  if (options_.migrate) {
    apply_migrations();
  } else {
    int version = database_version();
    if (version < schema_version()) {
      throw InternalError("the PostgreSQL schema \"" + options_.schema + "\" is at version " + std::to_string(version) +
                          " but this berthd needs version " + std::to_string(schema_version()) +
                          "; run `berthd admin migrate` first");
    }
  }
  int version = database_version();
  if (version > schema_version()) {
    throw InternalError("the PostgreSQL schema \"" + options_.schema + "\" is at version " + std::to_string(version) +
                        ", newer than this berthd (version " + std::to_string(schema_version()) +
                        "); run a berthd at least as new as the one that migrated it");
  }
}

PgStore::~PgStore() = default;

int PgStore::database_version() {
  return read([](PgConnection& connection) -> int {
    auto exists = connection.prepare("SELECT to_regclass('berth_schema') IS NOT NULL");
    if (!exists.step() || exists.column_int(0) == 0) return 0;
    auto query = connection.prepare("SELECT version FROM berth_schema");
    return query.step() ? static_cast<int>(query.column_int(0)) : 0;
  });
}

int PgStore::apply_migrations() {
  Lease lease(*this);
  auto& connection = *lease;
  {
    auto lock = connection.prepare("SELECT pg_advisory_lock($1)");
    lock.bind(1, kMigrationLock).run();
  }
  int applied = 0;
  try {
    connection.exec("CREATE TABLE IF NOT EXISTS berth_schema (version INTEGER NOT NULL)");
    int version = 0;
    {
      auto query = connection.prepare("SELECT version FROM berth_schema");
      if (query.step()) {
        version = static_cast<int>(query.column_int(0));
      } else {
        connection.exec("INSERT INTO berth_schema (version) VALUES (0)");
      }
    }
    auto migrations = pg_migrations();
    for (auto index = static_cast<std::size_t>(version); index < migrations.size(); ++index) {
      connection.exec("BEGIN");
      try {
        connection.exec(migrations[index]);
        auto update = connection.prepare("UPDATE berth_schema SET version = $1");
        update.bind(1, static_cast<std::int64_t>(index + 1)).run();
        connection.exec("COMMIT");
      } catch (...) {
        abandon_transaction(connection);
        throw;
      }
      spdlog::info("postgres_migrated schema={} version={}", options_.schema, index + 1);
      ++applied;
    }
  } catch (...) {
    try {
      auto unlock = connection.prepare("SELECT pg_advisory_unlock($1)");
      unlock.bind(1, kMigrationLock).run();
    } catch (const std::exception&) {
    }
    throw;
  }
  auto unlock = connection.prepare("SELECT pg_advisory_unlock($1)");
  unlock.bind(1, kMigrationLock).run();
  return applied;
}

void PgStore::finish_transaction(PgConnection& connection) {
  connection.exec(connection.take_discard() ? "ROLLBACK" : "COMMIT");
}

void PgStore::abandon_transaction(PgConnection& connection) {
  connection.take_discard();
  // Nothing to roll back when the connection is gone, or when COMMIT
  // itself failed and so already ended the transaction.
  if (connection.broken() || PQtransactionStatus(connection.native()) == PQTRANS_IDLE) return;
  try {
    connection.exec("ROLLBACK");
  } catch (const std::exception& error) {
    spdlog::error("postgres_rollback_failed error={}", error.what());
  }
}

void PgStore::back_off(int attempt) {
  thread_local std::minstd_rand random(std::random_device{}());
  int ceiling = std::min(2 << std::min(attempt, 7), 200);  // milliseconds
  std::uniform_int_distribution<int> pick(1, ceiling);
  std::this_thread::sleep_for(std::chrono::milliseconds(pick(random)));
}

}  // namespace berth::metadata
