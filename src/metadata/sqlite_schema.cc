#include "metadata/sqlite_schema.h"

namespace berth::metadata {

namespace {

const char* const kMigrations[] = {
    // 1: repositories, blobs, manifests, tags, upload sessions.
    R"sql(
CREATE TABLE repositories (
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  created_at INTEGER NOT NULL
);

CREATE TABLE blobs (
  digest TEXT PRIMARY KEY,
  size INTEGER NOT NULL,
  created_at INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE repository_blobs (
  repository_id INTEGER NOT NULL REFERENCES repositories(id) ON DELETE CASCADE,
  digest TEXT NOT NULL REFERENCES blobs(digest),
  linked_at INTEGER NOT NULL,
  PRIMARY KEY (repository_id, digest)
) WITHOUT ROWID;
CREATE INDEX repository_blobs_by_digest ON repository_blobs(digest);

CREATE TABLE manifests (
  id INTEGER PRIMARY KEY,
  repository_id INTEGER NOT NULL REFERENCES repositories(id) ON DELETE CASCADE,
  digest TEXT NOT NULL,
  media_type TEXT NOT NULL,
  content BLOB NOT NULL,
  artifact_type TEXT NOT NULL DEFAULT '',
  subject_digest TEXT,
  annotations TEXT NOT NULL DEFAULT '',
  created_at INTEGER NOT NULL,
  UNIQUE (repository_id, digest)
);
CREATE INDEX manifests_by_subject ON manifests(repository_id, subject_digest) WHERE subject_digest IS NOT NULL;

CREATE TABLE manifest_references (
  manifest_id INTEGER NOT NULL REFERENCES manifests(id) ON DELETE CASCADE,
  kind TEXT NOT NULL CHECK (kind IN ('blob', 'manifest')),
  digest TEXT NOT NULL,
  PRIMARY KEY (manifest_id, kind, digest)
) WITHOUT ROWID;
CREATE INDEX manifest_references_by_digest ON manifest_references(digest);

CREATE TABLE tags (
  repository_id INTEGER NOT NULL REFERENCES repositories(id) ON DELETE CASCADE,
  name TEXT NOT NULL,
  manifest_id INTEGER NOT NULL REFERENCES manifests(id) ON DELETE CASCADE,
  updated_at INTEGER NOT NULL,
  PRIMARY KEY (repository_id, name)
) WITHOUT ROWID;
CREATE INDEX tags_by_manifest ON tags(manifest_id);

CREATE TABLE uploads (
  id TEXT PRIMARY KEY,
  repository TEXT NOT NULL,
  received_bytes INTEGER NOT NULL,
  algorithm TEXT NOT NULL,
  hash_state BLOB NOT NULL,
  driver_state TEXT NOT NULL DEFAULT '',
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
) WITHOUT ROWID;
)sql",

    // 2: tenants: accounts, their identities, API keys, access policies
    // and namespaces.
    R"sql(
CREATE TABLE accounts (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  plan TEXT NOT NULL,
  created_at INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE identities (
  id TEXT PRIMARY KEY,
  account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
  kind TEXT NOT NULL CHECK (kind IN ('user', 'serviceid')),
  name TEXT NOT NULL,
  description TEXT NOT NULL DEFAULT '',
  created_at INTEGER NOT NULL,
  UNIQUE (account_id, kind, name)
) WITHOUT ROWID;

CREATE TABLE api_keys (
  id TEXT PRIMARY KEY,
  identity_id TEXT NOT NULL REFERENCES identities(id) ON DELETE CASCADE,
  name TEXT NOT NULL,
  description TEXT NOT NULL DEFAULT '',
  secret_hash TEXT NOT NULL UNIQUE,
  created_at INTEGER NOT NULL,
  last_used_at INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;
CREATE INDEX api_keys_by_identity ON api_keys(identity_id);

CREATE TABLE policies (
  id TEXT PRIMARY KEY,
  account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
  identity_id TEXT NOT NULL REFERENCES identities(id) ON DELETE CASCADE,
  role TEXT NOT NULL CHECK (role IN ('Reader', 'Writer', 'Manager')),
  namespace_name TEXT NOT NULL DEFAULT '',
  created_at INTEGER NOT NULL,
  UNIQUE (identity_id, role, namespace_name)
) WITHOUT ROWID;
CREATE INDEX policies_by_account ON policies(account_id);

-- No cascade from accounts, because removing a namespace must also remove
-- its repositories, which have no foreign key to it.
CREATE TABLE namespaces (
  name TEXT PRIMARY KEY,
  account_id TEXT NOT NULL REFERENCES accounts(id),
  is_public INTEGER NOT NULL DEFAULT 0 CHECK (is_public IN (0, 1)),
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX namespaces_by_account ON namespaces(account_id);
)sql",
    // 3: names of deleted namespaces, so that creating one again can drop
    // what a late upload left under the old name.
    R"sql(
CREATE TABLE deleted_namespaces (
  name TEXT PRIMARY KEY,
  deleted_at INTEGER NOT NULL
) WITHOUT ROWID;
)sql",
    // 4: facts that image listings show, computed once per manifest digest
    // from the manifest and its config blob, and per-account settings.
    // image_facts has no foreign key, because one digest may be stored in
    // many repositories and its facts describe the content, not a row.
    R"sql(
CREATE TABLE image_facts (
  digest TEXT PRIMARY KEY,
  config_digest TEXT NOT NULL DEFAULT '',
  created INTEGER NOT NULL DEFAULT 0,
  size INTEGER NOT NULL DEFAULT 0,
  architecture TEXT NOT NULL DEFAULT '',
  os TEXT NOT NULL DEFAULT '',
  labels TEXT NOT NULL DEFAULT '{}'
) WITHOUT ROWID;

CREATE TABLE account_settings (
  account_id TEXT PRIMARY KEY REFERENCES accounts(id) ON DELETE CASCADE,
  platform_metrics INTEGER NOT NULL DEFAULT 0 CHECK (platform_metrics IN (0, 1)),
  updated_at INTEGER NOT NULL
) WITHOUT ROWID;
)sql",
};

}  // namespace

std::span<const char* const> sqlite_migrations() { return kMigrations; }

}  // namespace berth::metadata
