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
    // 5: lifecycle. Blobs get reference counts and a last-use time for
    // online garbage collection. Repositories, manifests and blob
    // references get their owning account, so that triggers keep each
    // account's storage usage (distinct blobs and manifests of live images)
    // in the transaction of every change. New tables hold pull traffic per
    // month, custom quotas, the trash, retention policies, and the leases
    // and last runs of background jobs.
    R"sql(
ALTER TABLE repositories ADD COLUMN account_id TEXT;
ALTER TABLE manifests ADD COLUMN account_id TEXT;
ALTER TABLE manifest_references ADD COLUMN account_id TEXT;
ALTER TABLE blobs ADD COLUMN ref_count INTEGER NOT NULL DEFAULT 0;
ALTER TABLE blobs ADD COLUMN touched_at INTEGER NOT NULL DEFAULT 0;

UPDATE repositories SET account_id = (SELECT n.account_id FROM namespaces n
  WHERE n.name = substr(repositories.name, 1, instr(repositories.name || '/', '/') - 1));
UPDATE manifests SET account_id = (SELECT r.account_id FROM repositories r WHERE r.id = manifests.repository_id);
UPDATE manifest_references SET account_id = (SELECT m.account_id FROM manifests m WHERE m.id = manifest_references.manifest_id);

CREATE TABLE trash (
  id INTEGER PRIMARY KEY,
  repository_id INTEGER NOT NULL REFERENCES repositories(id) ON DELETE CASCADE,
  digest TEXT NOT NULL,
  media_type TEXT NOT NULL,
  content BLOB NOT NULL,
  artifact_type TEXT NOT NULL DEFAULT '',
  subject_digest TEXT,
  annotations TEXT NOT NULL DEFAULT '',
  created_at INTEGER NOT NULL,
  tags TEXT NOT NULL DEFAULT '[]',
  trashed_at INTEGER NOT NULL,
  part_of INTEGER REFERENCES trash(id) ON DELETE CASCADE,
  UNIQUE (repository_id, digest)
);
CREATE INDEX trash_by_time ON trash(trashed_at);
CREATE INDEX trash_by_parent ON trash(part_of) WHERE part_of IS NOT NULL;

CREATE TABLE trash_references (
  trash_id INTEGER NOT NULL REFERENCES trash(id) ON DELETE CASCADE,
  kind TEXT NOT NULL CHECK (kind IN ('blob', 'manifest')),
  digest TEXT NOT NULL,
  PRIMARY KEY (trash_id, kind, digest)
) WITHOUT ROWID;
CREATE INDEX trash_references_by_digest ON trash_references(digest);

UPDATE blobs SET touched_at = created_at,
  ref_count = (SELECT count(*) FROM manifest_references mr WHERE mr.kind = 'blob' AND mr.digest = blobs.digest);
CREATE INDEX blobs_unreferenced ON blobs(touched_at) WHERE ref_count = 0;

CREATE TABLE account_blobs (
  account_id TEXT NOT NULL,
  digest TEXT NOT NULL,
  ref_count INTEGER NOT NULL,
  size INTEGER NOT NULL,
  PRIMARY KEY (account_id, digest)
) WITHOUT ROWID;
INSERT INTO account_blobs (account_id, digest, ref_count, size)
  SELECT account_id, digest, count(*), max(size) FROM (
    SELECT mr.account_id AS account_id, mr.digest AS digest, b.size AS size
      FROM manifest_references mr JOIN blobs b ON b.digest = mr.digest
      WHERE mr.kind = 'blob' AND mr.account_id IS NOT NULL
    UNION ALL
    SELECT account_id, digest, length(content) FROM manifests WHERE account_id IS NOT NULL)
  GROUP BY account_id, digest;

CREATE TABLE account_usage (
  account_id TEXT PRIMARY KEY,
  storage_bytes INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;
INSERT INTO account_usage (account_id, storage_bytes) SELECT account_id, sum(size) FROM account_blobs GROUP BY account_id;

CREATE TABLE pull_traffic (
  account_id TEXT NOT NULL,
  month TEXT NOT NULL,
  bytes INTEGER NOT NULL,
  PRIMARY KEY (account_id, month)
) WITHOUT ROWID;

CREATE TABLE account_quotas (
  account_id TEXT PRIMARY KEY REFERENCES accounts(id) ON DELETE CASCADE,
  storage_bytes INTEGER,
  traffic_bytes INTEGER,
  updated_at INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE retention_policies (
  namespace_name TEXT PRIMARY KEY REFERENCES namespaces(name) ON DELETE CASCADE,
  images_per_repo INTEGER NOT NULL,
  retain_untagged INTEGER NOT NULL CHECK (retain_untagged IN (0, 1)),
  deletion_threshold_days INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE job_leases (
  job TEXT PRIMARY KEY,
  holder TEXT NOT NULL,
  expires_at INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE job_runs (
  job TEXT PRIMARY KEY,
  holder TEXT NOT NULL,
  started_at INTEGER NOT NULL,
  finished_at INTEGER NOT NULL,
  result TEXT NOT NULL
) WITHOUT ROWID;

-- The account of a repository is the owner of its namespace (its first
-- path component) when the repository is created.
CREATE TRIGGER repositories_owner AFTER INSERT ON repositories BEGIN
  UPDATE repositories SET account_id = (SELECT n.account_id FROM namespaces n
    WHERE n.name = substr(NEW.name, 1, instr(NEW.name || '/', '/') - 1)) WHERE id = NEW.id;
END;

-- A manifest counts its own bytes once per account. Its account is copied
-- onto the row because rows deleted by a cascade cannot see their parents.
CREATE TRIGGER manifests_added AFTER INSERT ON manifests BEGIN
  UPDATE manifests SET account_id = (SELECT account_id FROM repositories WHERE id = NEW.repository_id)
    WHERE id = NEW.id;
  INSERT OR IGNORE INTO account_blobs (account_id, digest, ref_count, size)
    SELECT account_id, NEW.digest, 0, length(NEW.content) FROM repositories
    WHERE id = NEW.repository_id AND account_id IS NOT NULL;
  UPDATE account_blobs SET ref_count = ref_count + 1
    WHERE account_id = (SELECT account_id FROM repositories WHERE id = NEW.repository_id) AND digest = NEW.digest;
END;

CREATE TRIGGER manifests_removed AFTER DELETE ON manifests WHEN OLD.account_id IS NOT NULL BEGIN
  UPDATE account_blobs SET ref_count = ref_count - 1 WHERE account_id = OLD.account_id AND digest = OLD.digest;
  DELETE FROM account_blobs WHERE account_id = OLD.account_id AND digest = OLD.digest AND ref_count <= 0;
END;

CREATE TRIGGER manifest_references_added AFTER INSERT ON manifest_references WHEN NEW.kind = 'blob' BEGIN
  UPDATE manifest_references SET account_id = (SELECT account_id FROM manifests WHERE id = NEW.manifest_id)
    WHERE manifest_id = NEW.manifest_id AND kind = NEW.kind AND digest = NEW.digest;
  UPDATE blobs SET ref_count = ref_count + 1 WHERE digest = NEW.digest;
  INSERT OR IGNORE INTO account_blobs (account_id, digest, ref_count, size)
    SELECT m.account_id, NEW.digest, 0, b.size FROM manifests m JOIN blobs b ON b.digest = NEW.digest
    WHERE m.id = NEW.manifest_id AND m.account_id IS NOT NULL;
  UPDATE account_blobs SET ref_count = ref_count + 1
    WHERE account_id = (SELECT account_id FROM manifests WHERE id = NEW.manifest_id) AND digest = NEW.digest;
END;

CREATE TRIGGER manifest_references_removed AFTER DELETE ON manifest_references WHEN OLD.kind = 'blob' BEGIN
  UPDATE blobs SET ref_count = ref_count - 1 WHERE digest = OLD.digest;
  UPDATE account_blobs SET ref_count = ref_count - 1 WHERE account_id = OLD.account_id AND digest = OLD.digest;
  DELETE FROM account_blobs WHERE account_id = OLD.account_id AND digest = OLD.digest AND ref_count <= 0;
END;

CREATE TRIGGER trash_references_added AFTER INSERT ON trash_references WHEN NEW.kind = 'blob' BEGIN
  UPDATE blobs SET ref_count = ref_count + 1 WHERE digest = NEW.digest;
END;

CREATE TRIGGER trash_references_removed AFTER DELETE ON trash_references WHEN OLD.kind = 'blob' BEGIN
  UPDATE blobs SET ref_count = ref_count - 1 WHERE digest = OLD.digest;
END;

CREATE TRIGGER account_blobs_added AFTER INSERT ON account_blobs BEGIN
  INSERT OR IGNORE INTO account_usage (account_id, storage_bytes) VALUES (NEW.account_id, 0);
  UPDATE account_usage SET storage_bytes = storage_bytes + NEW.size WHERE account_id = NEW.account_id;
END;

CREATE TRIGGER account_blobs_removed AFTER DELETE ON account_blobs BEGIN
  UPDATE account_usage SET storage_bytes = storage_bytes - OLD.size WHERE account_id = OLD.account_id;
END;
)sql",
    // 6: Vulnerability Advisor. Package inventories per manifest digest,
    // which triggers on tags queue, the imported advisory set with its last
    // import, and exemptions per account.
    R"sql(
-- A rowid table, unlike the small keyed tables above, because packages
-- holds one JSON object per installed package and WITHOUT ROWID suits
-- small rows only. Like image_facts it has no foreign key, because one
-- digest may be stored in many repositories. purge_inventories removes
-- the rows whose digest nothing holds any more.
CREATE TABLE va_inventories (
  digest TEXT PRIMARY KEY,
  state TEXT NOT NULL DEFAULT 'queued' CHECK (state IN ('queued', 'indexed')),
  status TEXT NOT NULL DEFAULT '',
  reason TEXT NOT NULL DEFAULT '',
  os_id TEXT NOT NULL DEFAULT '',
  os_version_id TEXT NOT NULL DEFAULT '',
  os_codename TEXT NOT NULL DEFAULT '',
  os_name TEXT NOT NULL DEFAULT '',
  package_format TEXT NOT NULL DEFAULT '',
  packages TEXT NOT NULL DEFAULT '[]',
  queued_at INTEGER NOT NULL,
  indexed_at INTEGER NOT NULL DEFAULT 0,
  attempts INTEGER NOT NULL DEFAULT 0,
  claimed_by TEXT,
  claim_until INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX va_inventories_queue ON va_inventories(queued_at) WHERE state = 'queued';

-- The index worker and purge_inventories look manifests up by digest
-- alone, in any repository.
CREATE INDEX manifests_by_digest ON manifests(digest);

-- Every manifest that has a tag now is queued once.
INSERT INTO va_inventories (digest, queued_at)
  SELECT DISTINCT m.digest, CAST(strftime('%s', 'now') AS INTEGER) FROM tags t JOIN manifests m ON m.id = t.manifest_id;

-- Tagging a manifest or moving a tag to another one queues the manifest's
-- digest in the same transaction, whichever path wrote the tag (push,
-- server-side tag, restore from the trash). A digest that has a row
-- already, queued or indexed, is left alone. NOT EXISTS does that rather
-- than INSERT OR IGNORE, because SQLite (checked with 3.40) applies the
-- conflict policy of an upsert that fires a trigger to the statements
-- inside it, so the upsert that moves a tag onto a manifest with a row
-- would fail on the ignored conflict.
CREATE TRIGGER tags_added_queue_inventory AFTER INSERT ON tags BEGIN
  INSERT INTO va_inventories (digest, queued_at)
    SELECT m.digest, CAST(strftime('%s', 'now') AS INTEGER) FROM manifests m WHERE m.id = NEW.manifest_id
      AND NOT EXISTS (SELECT 1 FROM va_inventories v WHERE v.digest = m.digest);
END;

CREATE TRIGGER tags_moved_queue_inventory AFTER UPDATE OF manifest_id ON tags
  WHEN NEW.manifest_id <> OLD.manifest_id BEGIN
  INSERT INTO va_inventories (digest, queued_at)
    SELECT m.digest, CAST(strftime('%s', 'now') AS INTEGER) FROM manifests m WHERE m.id = NEW.manifest_id
      AND NOT EXISTS (SELECT 1 FROM va_inventories v WHERE v.digest = m.digest);
END;

-- The advisory set is replaced as a whole in one transaction, which
-- deletes both tables. va_affected has no foreign key to va_advisories,
-- because it has no index led by advisory_id and so every cascade would
-- scan it.
CREATE TABLE va_advisories (
  id TEXT PRIMARY KEY,
  cves TEXT NOT NULL DEFAULT '[]',
  summary TEXT NOT NULL DEFAULT '',
  modified TEXT NOT NULL DEFAULT ''
) WITHOUT ROWID;

CREATE TABLE va_affected (
  advisory_id TEXT NOT NULL,
  ecosystem TEXT NOT NULL,
  package TEXT NOT NULL,
  introduced TEXT NOT NULL DEFAULT '',
  fixed TEXT NOT NULL,
  UNIQUE (ecosystem, package, advisory_id, introduced, fixed)
);

CREATE TABLE va_feed (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  imported_at INTEGER NOT NULL,
  source TEXT NOT NULL,
  advisory_count INTEGER NOT NULL,
  ecosystems TEXT NOT NULL DEFAULT '[]'
);

CREATE TABLE va_exemptions (
  account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
  issue_type TEXT NOT NULL CHECK (issue_type IN ('cve', 'sn')),
  issue_id TEXT NOT NULL,
  scope_type TEXT NOT NULL CHECK (scope_type IN ('account', 'namespace', 'repository', 'image')),
  namespace_name TEXT NOT NULL DEFAULT '',
  repository TEXT NOT NULL DEFAULT '',
  tag TEXT NOT NULL DEFAULT '',
  digest TEXT NOT NULL DEFAULT '',
  created_at INTEGER NOT NULL,
  PRIMARY KEY (account_id, issue_type, issue_id, scope_type, namespace_name, repository, tag, digest)
) WITHOUT ROWID;
)sql",
};

}  // namespace

std::span<const char* const> sqlite_migrations() { return kMigrations; }

}  // namespace berth::metadata
