import type Database from 'better-sqlite3';

/**
 * Tamper-evidence tables, in the same SQLite file as the events: digests with their sealed
 * leaves, the sealer leases, and what cleanups deleted (so verify can tell a cleanup from tampering).
 */
export const INTEGRITY_SCHEMA = `
CREATE TABLE IF NOT EXISTS integrity_digests (
  tenant_id TEXT NOT NULL,
  seq INTEGER NOT NULL,
  last_position INTEGER NOT NULL,
  digest TEXT NOT NULL,
  leaf_ids TEXT NOT NULL,
  leaf_hashes BLOB NOT NULL,
  PRIMARY KEY (tenant_id, seq)
);
CREATE INDEX IF NOT EXISTS integrity_digests_position ON integrity_digests (tenant_id, last_position);
CREATE TABLE IF NOT EXISTS integrity_leases (
  tenant_id TEXT PRIMARY KEY,
  holder TEXT NOT NULL,
  expires_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS integrity_watermark (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  position INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS integrity_cleanups (
  cleanup_id INTEGER PRIMARY KEY AUTOINCREMENT,
  tenant_id TEXT NOT NULL,
  deleted_at TEXT NOT NULL,
  before TEXT,
  deleted_count INTEGER NOT NULL,
  audit_event_id TEXT
);
CREATE TABLE IF NOT EXISTS integrity_deleted (
  tenant_id TEXT NOT NULL,
  event_id TEXT NOT NULL,
  cleanup_id INTEGER NOT NULL,
  PRIMARY KEY (tenant_id, event_id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS integrity_checkpoints (
  tenant_id TEXT NOT NULL,
  tree_size INTEGER NOT NULL,
  last_position INTEGER NOT NULL,
  checkpoint TEXT NOT NULL,
  leaf_ids TEXT NOT NULL,
  leaf_hashes BLOB NOT NULL,
  PRIMARY KEY (tenant_id, tree_size)
);
CREATE INDEX IF NOT EXISTS integrity_checkpoints_position ON integrity_checkpoints (tenant_id, last_position);
CREATE TABLE IF NOT EXISTS integrity_tiles (
  tenant_id TEXT NOT NULL,
  tile INTEGER NOT NULL,
  hash BLOB NOT NULL,
  PRIMARY KEY (tenant_id, tile)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS integrity_cosignatures (
  tenant_id TEXT NOT NULL,
  tree_size INTEGER NOT NULL,
  witness TEXT NOT NULL,
  line TEXT NOT NULL,
  PRIMARY KEY (tenant_id, tree_size, witness)
) WITHOUT ROWID;
`;

/**
 * Brings an integrity schema made by an older version up to this one: tombstones keep the deleted
 * event's hash and timestamp (the tree leaf's entry) from this version on; older rows have nulls.
 */
export function migrateIntegritySchema(db: Database.Database): void {
  db.exec(INTEGRITY_SCHEMA);
  const columns = new Set(
    (db.prepare("SELECT name FROM pragma_table_info('integrity_deleted')").all() as { name: string }[]).map((c) => c.name),
  );
  if (!columns.has('event_hash')) db.exec('ALTER TABLE integrity_deleted ADD COLUMN event_hash TEXT');
  if (!columns.has('ts')) db.exec('ALTER TABLE integrity_deleted ADD COLUMN ts TEXT');
  // Who decided the cleanup: null (a request, as every cleanup before retention policies) or 'policy'.
  const cleanupColumns = new Set(
    (db.prepare("SELECT name FROM pragma_table_info('integrity_cleanups')").all() as { name: string }[]).map((c) => c.name),
  );
  if (!cleanupColumns.has('by_policy')) db.exec('ALTER TABLE integrity_cleanups ADD COLUMN by_policy INTEGER');
}

/** The cleanup record's columns as CleanupRecord names them (`c` is integrity_cleanups). */
export const CLEANUP_RECORD_COLUMNS =
  "c.cleanup_id, c.deleted_at, c.before, c.deleted_count, c.audit_event_id, CASE WHEN c.by_policy = 1 THEN 'policy' ELSE 'request' END AS by";

/**
 * Opens the record of one cleanup: the caller deletes in slices and, inside each slice's
 * transaction, calls remember() with the rows it deletes, so the record commits with the delete.
 */
export function startCleanup(
  db: Database.Database,
  options: { tenant: string; before: string | null; auditEventId: string | null; by: 'request' | 'policy'; now: Date },
): { remember(rows: readonly { id: string; hash: string | null; timestamp: string }[]): void; finish(deleted: number): void } {
  const { cleanup_id } = db
    .prepare(
      'INSERT INTO integrity_cleanups (tenant_id, deleted_at, before, deleted_count, audit_event_id, by_policy) VALUES (?, ?, ?, 0, ?, ?) RETURNING cleanup_id',
    )
    .get(options.tenant, options.now.toISOString(), options.before, options.auditEventId, options.by === 'policy' ? 1 : null) as {
    cleanup_id: number;
  };
  const remember = db.prepare(
    'INSERT OR REPLACE INTO integrity_deleted (tenant_id, event_id, cleanup_id, event_hash, ts) VALUES (?, ?, ?, ?, ?)',
  );
  return {
    // The tombstone: the deleted event's tree entry (hash and timestamp) and the cleanup that removed it.
    remember: (rows) => {
      for (const row of rows) remember.run(options.tenant, row.id, cleanup_id, row.hash, row.timestamp);
    },
    finish: (deleted) => {
      if (deleted === 0) db.prepare('DELETE FROM integrity_cleanups WHERE cleanup_id = ?').run(cleanup_id);
      else db.prepare('UPDATE integrity_cleanups SET deleted_count = ? WHERE cleanup_id = ?').run(deleted, cleanup_id);
    },
  };
}
