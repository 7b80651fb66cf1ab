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
`;

/**
 * Opens the record of one cleanup: the caller deletes in slices and, inside each slice's
 * transaction, calls remember() with the rows it deletes, so the record commits with the delete.
 */
export function startCleanup(
  db: Database.Database,
  options: { tenant: string; before: string | null; auditEventId: string | null; now: Date },
): { remember(rows: readonly { id: string }[]): void; finish(deleted: number): void } {
  const { cleanup_id } = db
    .prepare(
      'INSERT INTO integrity_cleanups (tenant_id, deleted_at, before, deleted_count, audit_event_id) VALUES (?, ?, ?, 0, ?) RETURNING cleanup_id',
    )
    .get(options.tenant, options.now.toISOString(), options.before, options.auditEventId) as { cleanup_id: number };
  const remember = db.prepare('INSERT OR REPLACE INTO integrity_deleted (tenant_id, event_id, cleanup_id) VALUES (?, ?, ?)');
  return {
    remember: (rows) => {
      for (const row of rows) remember.run(options.tenant, row.id, cleanup_id);
    },
    finish: (deleted) => {
      if (deleted === 0) db.prepare('DELETE FROM integrity_cleanups WHERE cleanup_id = ?').run(cleanup_id);
      else db.prepare('UPDATE integrity_cleanups SET deleted_count = ? WHERE cleanup_id = ?').run(deleted, cleanup_id);
    },
  };
}
