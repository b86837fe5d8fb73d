// The tenant part of SqliteStore: accounts, identities, API keys, access
// policies and namespaces. The rows that depend on an identity (API keys,
// policies) or on a repository (blob links, manifests, references, tags)
// are removed through ON DELETE CASCADE, which relies on the
// PRAGMA foreign_keys = ON that configure() sets on every connection.
//
// The repositories of a namespace are exactly the names in
// namespace_range(), because the name columns use SQLite's default BINARY
// collation, which compares bytes.
#include "metadata/sqlite_store.h"
#include "metadata/store_rows.h"

#include "core/error.h"
#include "core/time.h"

#include <algorithm>
#include <stdexcept>
#include <utility>

namespace berth::metadata {

using core::InternalError;

namespace {

bool account_exists(SqliteConnection& connection, const std::string& id) {
  auto query = connection.prepare("SELECT 1 FROM accounts WHERE id = ?");
  query.bind(1, id);
  return query.step();
}

}  // namespace

// --- Accounts ---------------------------------------------------------------

bool SqliteStore::create_account(const AccountRecord& account) {
  WriteScope scope(*this);
  // Without a conflict target, DO NOTHING covers both the id and the name.
  auto insert = scope.connection().prepare(
      "INSERT INTO accounts (id, name, plan, created_at) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING");
  insert.bind(1, account.id).bind(2, account.name).bind(3, account.plan).bind(4, account.created_at).run();
  bool created = scope.connection().changes() > 0;
  scope.commit();
  return created;
}

std::optional<AccountRecord> SqliteStore::find_account(const std::string& id) {
  Lease lease(*this);
  auto query = lease->prepare("SELECT id, name, plan, created_at FROM accounts WHERE id = ?");
  query.bind(1, id);
  if (!query.step()) return std::nullopt;
  return read_account(query);
}

std::optional<AccountRecord> SqliteStore::find_account_by_name(const std::string& name) {
  Lease lease(*this);
  auto query = lease->prepare("SELECT id, name, plan, created_at FROM accounts WHERE name = ?");
  query.bind(1, name);
  if (!query.step()) return std::nullopt;
  return read_account(query);
}

std::vector<AccountRecord> SqliteStore::list_accounts() {
  Lease lease(*this);
  auto query = lease->prepare("SELECT id, name, plan, created_at FROM accounts ORDER BY name");
  std::vector<AccountRecord> out;
  while (query.step()) out.push_back(read_account(query));
  return out;
}

// --- Identities -------------------------------------------------------------

bool SqliteStore::create_identity(const IdentityRecord& identity) {
  WriteScope scope(*this);
  auto& connection = scope.connection();
  if (!account_exists(connection, identity.account_id)) return false;

  auto insert = connection.prepare(
      "INSERT INTO identities (id, account_id, kind, name, description, created_at) VALUES (?, ?, ?, ?, ?, ?) "
      "ON CONFLICT DO NOTHING");
  insert.bind(1, identity.id)
      .bind(2, identity.account_id)
      .bind(3, identity_kind_name(identity.kind))
      .bind(4, identity.name)
      .bind(5, identity.description)
      .bind(6, identity.created_at)
      .run();
  bool created = connection.changes() > 0;
  scope.commit();
  return created;
}

std::optional<IdentityRecord> SqliteStore::find_identity(const std::string& id) {
  Lease lease(*this);
  auto query =
      lease->prepare("SELECT id, account_id, kind, name, description, created_at FROM identities WHERE id = ?");
  query.bind(1, id);
  if (!query.step()) return std::nullopt;
  return read_identity(query);
}

std::optional<IdentityRecord> SqliteStore::find_identity_by_name(const std::string& account_id, IdentityKind kind,
                                                                 const std::string& name) {
  Lease lease(*this);
  auto query = lease->prepare(
      "SELECT id, account_id, kind, name, description, created_at FROM identities "
      "WHERE account_id = ? AND kind = ? AND name = ?");
  query.bind(1, account_id).bind(2, identity_kind_name(kind)).bind(3, name);
  if (!query.step()) return std::nullopt;
  return read_identity(query);
}

std::vector<IdentityRecord> SqliteStore::list_identities(const std::string& account_id) {
  Lease lease(*this);
  auto query = lease->prepare(
      "SELECT id, account_id, kind, name, description, created_at FROM identities WHERE account_id = ? "
      "ORDER BY created_at, id");
  query.bind(1, account_id);
  std::vector<IdentityRecord> out;
  while (query.step()) out.push_back(read_identity(query));
  return out;
}

bool SqliteStore::delete_identity(const std::string& id) {
  WriteScope scope(*this);
  // The identity's API keys and policies go with it through ON DELETE CASCADE.
  auto remove = scope.connection().prepare("DELETE FROM identities WHERE id = ?");
  remove.bind(1, id).run();
  bool removed = scope.connection().changes() > 0;
  scope.commit();
  return removed;
}

// --- API keys ---------------------------------------------------------------

bool SqliteStore::create_api_key(const ApiKeyRecord& key) {
  WriteScope scope(*this);
  auto& connection = scope.connection();
  {
    auto query = connection.prepare("SELECT 1 FROM identities WHERE id = ?");
    query.bind(1, key.identity_id);
    if (!query.step()) return false;
  }

  // key.account_id is not stored, because reads take it from the identity.
  auto insert = connection.prepare(
      "INSERT INTO api_keys (id, identity_id, name, description, secret_hash, created_at, last_used_at) "
      "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING");
  insert.bind(1, key.id)
      .bind(2, key.identity_id)
      .bind(3, key.name)
      .bind(4, key.description)
      .bind(5, key.secret_hash)
      .bind(6, key.created_at)
      .bind(7, key.last_used_at)
      .run();
  bool created = connection.changes() > 0;
  scope.commit();
  return created;
}

std::optional<ApiKeyRecord> SqliteStore::find_api_key(const std::string& id) {
  Lease lease(*this);
  auto query = lease->prepare(
      "SELECT k.id, k.identity_id, i.account_id, k.name, k.description, k.secret_hash, k.created_at, k.last_used_at "
      "FROM api_keys k JOIN identities i ON i.id = k.identity_id WHERE k.id = ?");
  query.bind(1, id);
  if (!query.step()) return std::nullopt;
  return read_api_key(query);
}

std::optional<ApiKeyRecord> SqliteStore::find_api_key_by_hash(const std::string& secret_hash) {
  Lease lease(*this);
  auto query = lease->prepare(
      "SELECT k.id, k.identity_id, i.account_id, k.name, k.description, k.secret_hash, k.created_at, k.last_used_at "
      "FROM api_keys k JOIN identities i ON i.id = k.identity_id WHERE k.secret_hash = ?");
  query.bind(1, secret_hash);
  if (!query.step()) return std::nullopt;
  return read_api_key(query);
}

std::vector<ApiKeyRecord> SqliteStore::list_api_keys(const std::string& account_id) {
  Lease lease(*this);
  auto query = lease->prepare(
      "SELECT k.id, k.identity_id, i.account_id, k.name, k.description, k.secret_hash, k.created_at, k.last_used_at "
      "FROM api_keys k JOIN identities i ON i.id = k.identity_id WHERE i.account_id = ? "
      "ORDER BY k.created_at, k.id");
  query.bind(1, account_id);
  std::vector<ApiKeyRecord> out;
  while (query.step()) out.push_back(read_api_key(query));
  return out;
}

bool SqliteStore::delete_api_key(const std::string& id) {
  WriteScope scope(*this);
  auto remove = scope.connection().prepare("DELETE FROM api_keys WHERE id = ?");
  remove.bind(1, id).run();
  bool removed = scope.connection().changes() > 0;
  scope.commit();
  return removed;
}

void SqliteStore::touch_api_key(const std::string& id, std::int64_t used_at) {
  WriteScope scope(*this);
  // Never moves the time back, so a request that finishes late does not
  // hide a later use. A key used again within the same second changes no
  // row.
  auto update = scope.connection().prepare("UPDATE api_keys SET last_used_at = ? WHERE id = ? AND last_used_at < ?");
  update.bind(1, used_at).bind(2, id).bind(3, used_at).run();
  scope.commit();
}

// --- Access policies --------------------------------------------------------

bool SqliteStore::create_policy(const PolicyRecord& policy) {
  if (!is_role(policy.role)) {
    throw std::invalid_argument("policy role must be Reader, Writer or Manager, not \"" + policy.role + "\"");
  }

  WriteScope scope(*this);
  auto& connection = scope.connection();
  {
    auto query = connection.prepare("SELECT account_id FROM identities WHERE id = ?");
    query.bind(1, policy.identity_id);
    if (!query.step() || query.column_text(0) != policy.account_id) return false;
  }

  auto insert = connection.prepare(
      "INSERT INTO policies (id, account_id, identity_id, role, namespace_name, created_at) VALUES (?, ?, ?, ?, ?, ?) "
      "ON CONFLICT DO NOTHING");
  insert.bind(1, policy.id)
      .bind(2, policy.account_id)
      .bind(3, policy.identity_id)
      .bind(4, policy.role)
      .bind(5, policy.namespace_name)
      .bind(6, policy.created_at)
      .run();
  bool created = connection.changes() > 0;
  scope.commit();
  return created;
}

std::vector<PolicyRecord> SqliteStore::list_policies(const std::string& account_id) {
  Lease lease(*this);
  auto query = lease->prepare(
      "SELECT id, account_id, identity_id, role, namespace_name, created_at FROM policies WHERE account_id = ? "
      "ORDER BY created_at, id");
  query.bind(1, account_id);
  std::vector<PolicyRecord> out;
  while (query.step()) out.push_back(read_access_policy(query));
  return out;
}

std::vector<PolicyRecord> SqliteStore::identity_policies(const std::string& identity_id) {
  Lease lease(*this);
  auto query = lease->prepare(
      "SELECT id, account_id, identity_id, role, namespace_name, created_at FROM policies WHERE identity_id = ? "
      "ORDER BY created_at, id");
  query.bind(1, identity_id);
  std::vector<PolicyRecord> out;
  while (query.step()) out.push_back(read_access_policy(query));
  return out;
}

bool SqliteStore::delete_policy(const std::string& id) {
  WriteScope scope(*this);
  auto remove = scope.connection().prepare("DELETE FROM policies WHERE id = ?");
  remove.bind(1, id).run();
  bool removed = scope.connection().changes() > 0;
  scope.commit();
  return removed;
}

// --- Namespaces -------------------------------------------------------------

CreateNamespaceResult SqliteStore::create_namespace(const NamespaceRecord& ns, std::size_t max_per_account) {
  WriteScope scope(*this);
  auto& connection = scope.connection();
  if (!account_exists(connection, ns.account_id)) return CreateNamespaceResult::kAccountUnknown;

  {
    auto query = connection.prepare("SELECT account_id FROM namespaces WHERE name = ?");
    query.bind(1, ns.name);
    if (query.step()) {
      return query.column_text(0) == ns.account_id ? CreateNamespaceResult::kAlreadyOwned
                                                    : CreateNamespaceResult::kOwnedByOtherAccount;
    }
  }
  {
    auto query = connection.prepare("SELECT count(*) FROM namespaces WHERE account_id = ?");
    query.bind(1, ns.account_id);
    if (!query.step()) throw InternalError("count(*) of namespaces returned no row");
    if (static_cast<std::uint64_t>(query.column_int(0)) >= max_per_account) return CreateNamespaceResult::kLimitReached;
  }

  {
    auto insert = connection.prepare(
        "INSERT INTO namespaces (name, account_id, is_public, created_at, updated_at) VALUES (?, ?, ?, ?, ?)");
    insert.bind(1, ns.name)
        .bind(2, ns.account_id)
        .bind(3, ns.is_public ? 1 : 0)
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
    auto forget = connection.prepare("DELETE FROM deleted_namespaces WHERE name = ?");
    forget.bind(1, ns.name).run();
    was_deleted = connection.changes() > 0;
  }
  if (was_deleted) {
    auto [first, end] = namespace_range(ns.name);
    {
      auto remove = connection.prepare("DELETE FROM repositories WHERE name >= ? AND name < ?");
      remove.bind(1, first).bind(2, end).run();
    }
    {
      auto remove = connection.prepare("DELETE FROM uploads WHERE repository >= ? AND repository < ?");
      remove.bind(1, first).bind(2, end).run();
    }
  }
  scope.commit();
  return CreateNamespaceResult::kCreated;
}

std::optional<NamespaceRecord> SqliteStore::find_namespace(const std::string& name) {
  Lease lease(*this);
  auto query =
      lease->prepare("SELECT name, account_id, is_public, created_at, updated_at FROM namespaces WHERE name = ?");
  query.bind(1, name);
  if (!query.step()) return std::nullopt;
  return read_namespace(query);
}

std::vector<NamespaceRecord> SqliteStore::list_namespaces(const std::string& account_id) {
  Lease lease(*this);
  auto query = lease->prepare(
      "SELECT name, account_id, is_public, created_at, updated_at FROM namespaces WHERE account_id = ? ORDER BY name");
  query.bind(1, account_id);
  std::vector<NamespaceRecord> out;
  while (query.step()) out.push_back(read_namespace(query));
  return out;
}

std::vector<NamespaceRecord> SqliteStore::list_public_namespaces() {
  Lease lease(*this);
  auto query = lease->prepare(
      "SELECT name, account_id, is_public, created_at, updated_at FROM namespaces WHERE is_public = 1 ORDER BY name");
  std::vector<NamespaceRecord> out;
  while (query.step()) out.push_back(read_namespace(query));
  return out;
}

bool SqliteStore::set_namespace_public(const std::string& name, bool is_public) {
  WriteScope scope(*this);
  auto update = scope.connection().prepare("UPDATE namespaces SET is_public = ?, updated_at = ? WHERE name = ?");
  update.bind(1, is_public ? 1 : 0).bind(2, core::unix_now()).bind(3, name).run();
  bool updated = scope.connection().changes() > 0;
  scope.commit();
  return updated;
}

bool SqliteStore::delete_namespace(const std::string& name) {
  WriteScope scope(*this);
  auto& connection = scope.connection();
  {
    auto remove = connection.prepare("DELETE FROM namespaces WHERE name = ?");
    remove.bind(1, name).run();
  }
  // An unknown namespace leaves repositories under its name alone.
  if (connection.changes() == 0) return false;
  {
    auto remember = connection.prepare(
        "INSERT INTO deleted_namespaces (name, deleted_at) VALUES (?, ?) "
        "ON CONFLICT (name) DO UPDATE SET deleted_at = excluded.deleted_at");
    remember.bind(1, name).bind(2, core::unix_now()).run();
  }

  auto [first, end] = namespace_range(name);
  {
    // Blob links, manifests, their references and tags go with each
    // repository through ON DELETE CASCADE. Blob rows stay, because other
    // repositories may link the same blobs.
    // NOTE: nothing removes blobs that no repository links any more; that
    // is left to a garbage collection that does not exist yet.
    auto remove = connection.prepare("DELETE FROM repositories WHERE name >= ? AND name < ?");
    remove.bind(1, first).bind(2, end).run();
  }
  {
    auto remove = connection.prepare("DELETE FROM uploads WHERE repository >= ? AND repository < ?");
    remove.bind(1, first).bind(2, end).run();
  }
  {
    // Grants on the old namespace must not apply to a namespace that later
    // takes the same name.
    auto remove = connection.prepare("DELETE FROM policies WHERE namespace_name = ?");
    remove.bind(1, name).run();
  }
  scope.commit();
  return true;
}

NamePage SqliteStore::list_namespace_repositories(const std::vector<std::string>& namespaces, const std::string& after,
                                                  std::size_t limit) {
  std::vector<std::string> distinct = namespaces;
  std::sort(distinct.begin(), distinct.end());
  distinct.erase(std::unique(distinct.begin(), distinct.end()), distinct.end());

  // One range scan of the name index per namespace, each stopping one row
  // past the page. The first limit + 1 names of the union are among those
  // rows, so sorting them gives the page and the `more` flag.
  std::vector<std::string> names;
  {
    Lease lease(*this);
    // The scans run in one read transaction, so they see one snapshot.
    Transaction snapshot(*lease, false);
    for (const auto& name : distinct) {
      auto [first, end] = namespace_range(name);
      if (after >= end) continue;
      // One lower bound only: given both "name > after" and "name >= first",
      // SQLite starts the index scan at one of them and filters with the
      // other, which made late pages scan the whole namespace.
      bool after_inside = after >= first;
      auto query = after_inside
                       ? lease->prepare("SELECT name FROM repositories WHERE name > ? AND name < ? ORDER BY name LIMIT ?")
                       : lease->prepare("SELECT name FROM repositories WHERE name >= ? AND name < ? ORDER BY name LIMIT ?");
      query.bind(1, after_inside ? after : first).bind(2, end).bind(3, probe_limit(limit));
      while (query.step()) names.push_back(query.column_text(0));
    }
  }
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

AccountSettings SqliteStore::account_settings(const std::string& account_id) {
  Lease lease(*this);
  auto query = lease->prepare("SELECT platform_metrics FROM account_settings WHERE account_id = ?");
  query.bind(1, account_id);
  AccountSettings settings;
  if (query.step()) settings.platform_metrics = query.column_int(0) != 0;
  return settings;
}

bool SqliteStore::set_account_settings(const std::string& account_id, const AccountSettings& settings) {
  WriteScope scope(*this);
  auto& connection = scope.connection();
  if (!account_exists(connection, account_id)) return false;

  auto upsert = connection.prepare(
      "INSERT INTO account_settings (account_id, platform_metrics, updated_at) VALUES (?, ?, ?) "
      "ON CONFLICT (account_id) DO UPDATE SET platform_metrics = excluded.platform_metrics, "
      "updated_at = excluded.updated_at");
  upsert.bind(1, account_id)
      .bind(2, static_cast<std::int64_t>(settings.platform_metrics ? 1 : 0))
      .bind(3, core::unix_now())
      .run();
  scope.commit();
  return true;
}

}  // namespace berth::metadata
