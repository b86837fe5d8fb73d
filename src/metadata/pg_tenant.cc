// The tenant part of PgStore: accounts, identities, API keys, access
// policies and namespaces, ported from sqlite_tenant.cc. The rows that
// depend on an identity (API keys, policies) or on a repository (blob
// links, manifests, references, tags) are removed through ON DELETE
// CASCADE.
//
// The checks that decide a write (the account exists, the namespace name
// is free, the account is below its namespace limit) read in the same
// SERIALIZABLE transaction as the write. So two nodes that create
// namespaces for one account at once cannot both pass the limit. One of
// them fails with a serialization failure, write() runs it again, and then
// it counts the other's namespace. A body that returns early without
// writing still commits rather than rolling back, because PostgreSQL
// guarantees what a serializable transaction read only once it commits.
//
// The repositories of a namespace are exactly the names in
// namespace_range(), because the name columns use the "C" collation.
#include "metadata/pg_store.h"
#include "metadata/store_rows.h"

#include "core/error.h"
#include "core/time.h"

#include <algorithm>
#include <stdexcept>
#include <utility>

namespace berth::metadata {

using core::InternalError;

namespace {

bool account_exists(PgConnection& connection, const std::string& id) {
  auto query = connection.prepare("SELECT 1 FROM accounts WHERE id = $1");
  query.bind(1, id);
  return query.step();
}

}  // namespace

// --- Accounts ---------------------------------------------------------------

bool PgStore::create_account(const AccountRecord& account) {
  return write([&](PgConnection& connection) {
    // Without a conflict target, DO NOTHING covers both the id and the name.
    auto insert = connection.prepare(
        "INSERT INTO accounts (id, name, plan, created_at) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING");
    insert.bind(1, account.id).bind(2, account.name).bind(3, account.plan).bind(4, account.created_at).run();
    return insert.changes() > 0;
  });
}

std::optional<AccountRecord> PgStore::find_account(const std::string& id) {
  return read([&](PgConnection& connection) -> std::optional<AccountRecord> {
    auto query = connection.prepare("SELECT id, name, plan, created_at FROM accounts WHERE id = $1");
    query.bind(1, id);
    if (!query.step()) return std::nullopt;
    return read_account(query);
  });
}

std::optional<AccountRecord> PgStore::find_account_by_name(const std::string& name) {
  return read([&](PgConnection& connection) -> std::optional<AccountRecord> {
    auto query = connection.prepare("SELECT id, name, plan, created_at FROM accounts WHERE name = $1");
    query.bind(1, name);
    if (!query.step()) return std::nullopt;
    return read_account(query);
  });
}

std::vector<AccountRecord> PgStore::list_accounts() {
  return read([](PgConnection& connection) {
    auto query = connection.prepare("SELECT id, name, plan, created_at FROM accounts ORDER BY name");
    std::vector<AccountRecord> out;
    while (query.step()) out.push_back(read_account(query));
    return out;
  });
}

// --- Identities -------------------------------------------------------------

bool PgStore::create_identity(const IdentityRecord& identity) {
  return write([&](PgConnection& connection) {
    if (!account_exists(connection, identity.account_id)) return false;

    auto insert = connection.prepare(
        "INSERT INTO identities (id, account_id, kind, name, description, created_at) "
        "VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING");
    insert.bind(1, identity.id)
        .bind(2, identity.account_id)
        .bind(3, identity_kind_name(identity.kind))
        .bind(4, identity.name)
        .bind(5, identity.description)
        .bind(6, identity.created_at)
        .run();
    return insert.changes() > 0;
  });
}

std::optional<IdentityRecord> PgStore::find_identity(const std::string& id) {
  return read([&](PgConnection& connection) -> std::optional<IdentityRecord> {
    auto query = connection.prepare(
        "SELECT id, account_id, kind, name, description, created_at FROM identities WHERE id = $1");
    query.bind(1, id);
    if (!query.step()) return std::nullopt;
    return read_identity(query);
  });
}

std::optional<IdentityRecord> PgStore::find_identity_by_name(const std::string& account_id, IdentityKind kind,
                                                             const std::string& name) {
  return read([&](PgConnection& connection) -> std::optional<IdentityRecord> {
    auto query = connection.prepare(
        "SELECT id, account_id, kind, name, description, created_at FROM identities "
        "WHERE account_id = $1 AND kind = $2 AND name = $3");
    query.bind(1, account_id).bind(2, identity_kind_name(kind)).bind(3, name);
    if (!query.step()) return std::nullopt;
    return read_identity(query);
  });
}

std::vector<IdentityRecord> PgStore::list_identities(const std::string& account_id) {
  return read([&](PgConnection& connection) {
    auto query = connection.prepare(
        "SELECT id, account_id, kind, name, description, created_at FROM identities WHERE account_id = $1 "
        "ORDER BY created_at, id");
    query.bind(1, account_id);
    std::vector<IdentityRecord> out;
    while (query.step()) out.push_back(read_identity(query));
    return out;
  });
}

bool PgStore::delete_identity(const std::string& id) {
  return write([&](PgConnection& connection) {
    // The identity's API keys and policies go with it through ON DELETE CASCADE.
    auto remove = connection.prepare("DELETE FROM identities WHERE id = $1");
    remove.bind(1, id).run();
    return remove.changes() > 0;
  });
}

// --- API keys ---------------------------------------------------------------

bool PgStore::create_api_key(const ApiKeyRecord& key) {
  return write([&](PgConnection& connection) {
    {
      auto query = connection.prepare("SELECT 1 FROM identities WHERE id = $1");
      query.bind(1, key.identity_id);
      if (!query.step()) return false;
    }

    // key.account_id is not stored, because reads take it from the identity.
    auto insert = connection.prepare(
        "INSERT INTO api_keys (id, identity_id, name, description, secret_hash, created_at, last_used_at) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING");
    insert.bind(1, key.id)
        .bind(2, key.identity_id)
        .bind(3, key.name)
        .bind(4, key.description)
        .bind(5, key.secret_hash)
        .bind(6, key.created_at)
        .bind(7, key.last_used_at)
        .run();
    return insert.changes() > 0;
  });
}

std::optional<ApiKeyRecord> PgStore::find_api_key(const std::string& id) {
  return read([&](PgConnection& connection) -> std::optional<ApiKeyRecord> {
    auto query = connection.prepare(
        "SELECT k.id, k.identity_id, i.account_id, k.name, k.description, k.secret_hash, k.created_at, "
        "k.last_used_at FROM api_keys k JOIN identities i ON i.id = k.identity_id WHERE k.id = $1");
    query.bind(1, id);
    if (!query.step()) return std::nullopt;
    return read_api_key(query);
  });
}

std::optional<ApiKeyRecord> PgStore::find_api_key_by_hash(const std::string& secret_hash) {
  return read([&](PgConnection& connection) -> std::optional<ApiKeyRecord> {
    auto query = connection.prepare(
        "SELECT k.id, k.identity_id, i.account_id, k.name, k.description, k.secret_hash, k.created_at, "
        "k.last_used_at FROM api_keys k JOIN identities i ON i.id = k.identity_id WHERE k.secret_hash = $1");
    query.bind(1, secret_hash);
    if (!query.step()) return std::nullopt;
    return read_api_key(query);
  });
}

std::vector<ApiKeyRecord> PgStore::list_api_keys(const std::string& account_id) {
  return read([&](PgConnection& connection) {
    auto query = connection.prepare(
        "SELECT k.id, k.identity_id, i.account_id, k.name, k.description, k.secret_hash, k.created_at, "
        "k.last_used_at FROM api_keys k JOIN identities i ON i.id = k.identity_id WHERE i.account_id = $1 "
        "ORDER BY k.created_at, k.id");
    query.bind(1, account_id);
    std::vector<ApiKeyRecord> out;
    while (query.step()) out.push_back(read_api_key(query));
    return out;
  });
}

bool PgStore::delete_api_key(const std::string& id) {
  return write([&](PgConnection& connection) {
    auto remove = connection.prepare("DELETE FROM api_keys WHERE id = $1");
    remove.bind(1, id).run();
    return remove.changes() > 0;
  });
}

std::uint64_t PgStore::access_generation() {
  return read([&](PgConnection& connection) -> std::uint64_t {
    auto query = connection.prepare("SELECT generation FROM access_changes");
    if (!query.step()) {
      throw InternalError(
          "the table access_changes has no row, although schema migration 2 inserts one; it was deleted outside berthd");
    }
    return static_cast<std::uint64_t>(query.column_int(0));
  });
}

void PgStore::touch_api_key(const std::string& id, std::int64_t used_at) {
  write([&](PgConnection& connection) {
    // Never moves the time back, so a request that finishes late does not
    // hide a later use. A key used again within the same second changes no
    // row.
    auto update =
        connection.prepare("UPDATE api_keys SET last_used_at = $1 WHERE id = $2 AND last_used_at < $1");
    update.bind(1, used_at).bind(2, id).run();
  });
}

// --- Access policies --------------------------------------------------------

bool PgStore::create_policy(const PolicyRecord& policy) {
  if (!is_role(policy.role)) {
    throw std::invalid_argument("policy role must be Reader, Writer or Manager, not \"" + policy.role + "\"");
  }

  return write([&](PgConnection& connection) {
    {
      auto query = connection.prepare("SELECT account_id FROM identities WHERE id = $1");
      query.bind(1, policy.identity_id);
      if (!query.step() || query.column_text(0) != policy.account_id) return false;
    }

    auto insert = connection.prepare(
        "INSERT INTO policies (id, account_id, identity_id, role, namespace_name, created_at) "
        "VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING");
    insert.bind(1, policy.id)
        .bind(2, policy.account_id)
        .bind(3, policy.identity_id)
        .bind(4, policy.role)
        .bind(5, policy.namespace_name)
        .bind(6, policy.created_at)
        .run();
    return insert.changes() > 0;
  });
}

std::vector<PolicyRecord> PgStore::list_policies(const std::string& account_id) {
  return read([&](PgConnection& connection) {
    auto query = connection.prepare(
        "SELECT id, account_id, identity_id, role, namespace_name, created_at FROM policies WHERE account_id = $1 "
        "ORDER BY created_at, id");
    query.bind(1, account_id);
    std::vector<PolicyRecord> out;
    while (query.step()) out.push_back(read_access_policy(query));
    return out;
  });
}

std::vector<PolicyRecord> PgStore::identity_policies(const std::string& identity_id) {
  return read([&](PgConnection& connection) {
    auto query = connection.prepare(
        "SELECT id, account_id, identity_id, role, namespace_name, created_at FROM policies WHERE identity_id = $1 "
        "ORDER BY created_at, id");
    query.bind(1, identity_id);
    std::vector<PolicyRecord> out;
    while (query.step()) out.push_back(read_access_policy(query));
    return out;
  });
}

bool PgStore::delete_policy(const std::string& id) {
  return write([&](PgConnection& connection) {
    auto remove = connection.prepare("DELETE FROM policies WHERE id = $1");
    remove.bind(1, id).run();
    return remove.changes() > 0;
  });
}

// --- Namespaces -------------------------------------------------------------

CreateNamespaceResult PgStore::create_namespace(const NamespaceRecord& ns, std::size_t max_per_account) {
  return write([&](PgConnection& connection) {
    if (!account_exists(connection, ns.account_id)) return CreateNamespaceResult::kAccountUnknown;

    {
      // Because this transaction read the name as free, PostgreSQL (9.6 and
      // later) fails a concurrent insert of the same name with a
      // serialization failure, which write() retries, not a unique violation.
      auto query = connection.prepare("SELECT account_id FROM namespaces WHERE name = $1");
      query.bind(1, ns.name);
      if (query.step()) {
        return query.column_text(0) == ns.account_id ? CreateNamespaceResult::kAlreadyOwned
                                                      : CreateNamespaceResult::kOwnedByOtherAccount;
      }
    }
    {
      auto query = connection.prepare("SELECT count(*) FROM namespaces WHERE account_id = $1");
      query.bind(1, ns.account_id);
      if (!query.step()) throw InternalError("count(*) of namespaces returned no row");
      if (static_cast<std::uint64_t>(query.column_int(0)) >= max_per_account) {
        return CreateNamespaceResult::kLimitReached;
      }
    }

    {
      auto insert = connection.prepare(
          "INSERT INTO namespaces (name, account_id, is_public, created_at, updated_at) "
          "VALUES ($1, $2, $3, $4, $5)");
      insert.bind(1, ns.name)
          .bind(2, ns.account_id)
          .bind(3, static_cast<std::int64_t>(ns.is_public ? 1 : 0))
          .bind(4, ns.created_at)
          .bind(5, ns.updated_at)
          .run();
    }
    // If the name was deleted before, repositories under it are left over
    // from an upload that finished just after the delete. No account owns
    // them, so the new owner starts without them. Repositories under a
    // name that was never a namespace (a database from before namespaces
    // existed) are kept for the account that creates it.
    bool was_deleted = false;
    {
      auto forget = connection.prepare("DELETE FROM deleted_namespaces WHERE name = $1");
      forget.bind(1, ns.name).run();
      was_deleted = forget.changes() > 0;
    }
    if (was_deleted) {
      auto [first, end] = namespace_range(ns.name);
      {
        auto remove = connection.prepare("DELETE FROM repositories WHERE name >= $1 AND name < $2");
        remove.bind(1, first).bind(2, end).run();
      }
      {
        auto remove = connection.prepare("DELETE FROM uploads WHERE repository >= $1 AND repository < $2");
        remove.bind(1, first).bind(2, end).run();
      }
    }
    return CreateNamespaceResult::kCreated;
  });
}

std::optional<NamespaceRecord> PgStore::find_namespace(const std::string& name) {
  return read([&](PgConnection& connection) -> std::optional<NamespaceRecord> {
    auto query = connection.prepare(
        "SELECT name, account_id, is_public, created_at, updated_at FROM namespaces WHERE name = $1");
    query.bind(1, name);
    if (!query.step()) return std::nullopt;
    return read_namespace(query);
  });
}

std::vector<NamespaceRecord> PgStore::list_namespaces(const std::string& account_id) {
  return read([&](PgConnection& connection) {
    auto query = connection.prepare(
        "SELECT name, account_id, is_public, created_at, updated_at FROM namespaces WHERE account_id = $1 "
        "ORDER BY name");
    query.bind(1, account_id);
    std::vector<NamespaceRecord> out;
    while (query.step()) out.push_back(read_namespace(query));
    return out;
  });
}

std::vector<NamespaceRecord> PgStore::list_public_namespaces() {
  return read([](PgConnection& connection) {
    auto query = connection.prepare(
        "SELECT name, account_id, is_public, created_at, updated_at FROM namespaces WHERE is_public "
        "ORDER BY name");
    std::vector<NamespaceRecord> out;
    while (query.step()) out.push_back(read_namespace(query));
    return out;
  });
}

bool PgStore::set_namespace_public(const std::string& name, bool is_public) {
  std::int64_t now = core::unix_now();
  return write([&](PgConnection& connection) {
    auto update = connection.prepare("UPDATE namespaces SET is_public = $1, updated_at = $2 WHERE name = $3");
    update.bind(1, static_cast<std::int64_t>(is_public ? 1 : 0)).bind(2, now).bind(3, name).run();
    return update.changes() > 0;
  });
}

bool PgStore::delete_namespace(const std::string& name) {
  std::int64_t now = core::unix_now();
  return write([&](PgConnection& connection) {
    {
      auto remove = connection.prepare("DELETE FROM namespaces WHERE name = $1");
      remove.bind(1, name).run();
      // An unknown namespace leaves repositories under its name alone.
      if (remove.changes() == 0) return false;
    }
    {
      auto remember = connection.prepare(
          "INSERT INTO deleted_namespaces (name, deleted_at) VALUES ($1, $2) "
          "ON CONFLICT (name) DO UPDATE SET deleted_at = excluded.deleted_at");
      remember.bind(1, name).bind(2, now).run();
    }

    auto [first, end] = namespace_range(name);
    {
      // Blob links, manifests, their references and tags go with each
      // repository through ON DELETE CASCADE. Blob rows stay, because other
      // repositories may link the same blobs. collect_blob() later removes
      // those that no manifest or trash entry references.
      auto remove = connection.prepare("DELETE FROM repositories WHERE name >= $1 AND name < $2");
      remove.bind(1, first).bind(2, end).run();
    }
    {
      auto remove = connection.prepare("DELETE FROM uploads WHERE repository >= $1 AND repository < $2");
      remove.bind(1, first).bind(2, end).run();
    }
    {
      // Grants on the old namespace must not apply to a namespace that later
      // takes the same name.
      auto remove = connection.prepare("DELETE FROM policies WHERE namespace_name = $1");
      remove.bind(1, name).run();
    }
    return true;
  });
}

NamePage PgStore::list_namespace_repositories(const std::vector<std::string>& namespaces, const std::string& after,
                                              std::size_t limit) {
  std::vector<std::string> distinct = namespaces;
  std::sort(distinct.begin(), distinct.end());
  distinct.erase(std::unique(distinct.begin(), distinct.end()), distinct.end());

  // One range scan of the name index per namespace, each stopping one row
  // past the page. The first limit + 1 names of the union are among those
  // rows, so sorting them gives the page and the `more` flag. The scans
  // share one snapshot.
  std::vector<std::string> names = read_snapshot([&](PgConnection& connection) {
    std::vector<std::string> found;
    for (const auto& name : distinct) {
      auto [first, end] = namespace_range(name);
      if (after >= end) continue;
      // PostgreSQL starts the index scan at the greater of the two lower
      // bounds, so late pages do not scan the start of the namespace.
      auto query = connection.prepare(
          "SELECT name FROM repositories WHERE name >= $1 AND name > $2 AND name < $3 ORDER BY name LIMIT $4");
      query.bind(1, first).bind(2, after).bind(3, end).bind(4, probe_limit(limit));
      while (query.step()) found.push_back(query.column_text(0));
    }
    return found;
  });
  std::sort(names.begin(), names.end());
  // Overlapping ranges can only come from a namespace argument with a '/'.
  names.erase(std::unique(names.begin(), names.end()), names.end());

  NamePage page;
  if (names.size() > limit) {
    page.more = true;
    names.resize(limit);
  }
  page.names = std::move(names);
  return page;
}

// --- Account settings -------------------------------------------------------

AccountSettings PgStore::account_settings(const std::string& account_id) {
  return read([&](PgConnection& connection) {
    auto query = connection.prepare("SELECT platform_metrics FROM account_settings WHERE account_id = $1");
    query.bind(1, account_id);
    AccountSettings settings;
    if (query.step()) settings.platform_metrics = query.column_int(0) != 0;
    return settings;
  });
}

bool PgStore::set_account_settings(const std::string& account_id, const AccountSettings& settings) {
  std::int64_t now = core::unix_now();
  return write([&](PgConnection& connection) {
    if (!account_exists(connection, account_id)) return false;

    auto upsert = connection.prepare(
        "INSERT INTO account_settings (account_id, platform_metrics, updated_at) VALUES ($1, $2, $3) "
        "ON CONFLICT (account_id) DO UPDATE SET platform_metrics = excluded.platform_metrics, "
        "updated_at = excluded.updated_at");
    upsert.bind(1, account_id)
        .bind(2, static_cast<std::int64_t>(settings.platform_metrics ? 1 : 0))
        .bind(3, now)
        .run();
    return true;
  });
}

}  // namespace berth::metadata
