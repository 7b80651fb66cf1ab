import type Database from 'better-sqlite3';
import type { RetentionPolicy, RetentionRun, RetentionStore, StoredPolicy } from '../retention/port.js';
import type { TenantId } from '../store/tenant-id.js';
import { openSqlite } from './database.js';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS retention_policies (
  tenant_id TEXT PRIMARY KEY,
  policy TEXT NOT NULL,
  last_run TEXT
);
CREATE TABLE IF NOT EXISTS retention_lease (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  holder TEXT NOT NULL,
  expires_at INTEGER NOT NULL
);
`;

/** RetentionStore in the SQLite file the events are in; the lease is one row, taken in one statement. */
export class SqliteRetentionStore implements RetentionStore {
  private constructor(private readonly db: Database.Database) {
    db.exec(SCHEMA);
  }

  static open(path: string): SqliteRetentionStore {
    return new SqliteRetentionStore(openSqlite(path));
  }

  async get(tenant: string): Promise<{ policy: RetentionPolicy; last_run: RetentionRun | null } | null> {
    const row = this.db.prepare('SELECT policy, last_run FROM retention_policies WHERE tenant_id = ?').get(tenant) as
      | { policy: string; last_run: string | null }
      | undefined;
    if (!row) return null;
    return {
      policy: JSON.parse(row.policy) as RetentionPolicy,
      last_run: row.last_run === null ? null : (JSON.parse(row.last_run) as RetentionRun),
    };
  }

  async put(tenant: string, policy: RetentionPolicy): Promise<void> {
    this.db
      .prepare(
        'INSERT INTO retention_policies (tenant_id, policy) VALUES (?, ?) ON CONFLICT (tenant_id) DO UPDATE SET policy = excluded.policy',
      )
      .run(tenant, JSON.stringify(policy));
  }

  async list(after: string | null, limit: number): Promise<StoredPolicy[]> {
    const rows = this.db
      .prepare('SELECT tenant_id, policy FROM retention_policies WHERE tenant_id > ? ORDER BY tenant_id LIMIT ?')
      .all(after ?? '', limit) as { tenant_id: string; policy: string }[];
    // Keys stored by the routes, which took them from a verified identity or the platform admin's path.
    return rows.map((row) => ({ tenant: row.tenant_id as TenantId, policy: JSON.parse(row.policy) as RetentionPolicy }));
  }

  async recordRun(tenant: string, run: RetentionRun): Promise<void> {
    this.db.prepare('UPDATE retention_policies SET last_run = ? WHERE tenant_id = ?').run(JSON.stringify(run), tenant);
  }

  async acquireLease(holder: string, nowMs: number, ttlMs: number): Promise<boolean> {
    // One statement, so taking the lease is atomic across processes sharing the file.
    const result = this.db
      .prepare(
        `INSERT INTO retention_lease (id, holder, expires_at) VALUES (1, ?, ?)
         ON CONFLICT (id) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at
         WHERE retention_lease.holder = excluded.holder OR retention_lease.expires_at <= ?`,
      )
      .run(holder, nowMs + ttlMs, nowMs);
    return result.changes === 1;
  }

  async releaseLease(holder: string): Promise<void> {
    this.db.prepare('DELETE FROM retention_lease WHERE id = 1 AND holder = ?').run(holder);
  }

  async close(): Promise<void> {
    if (this.db.open) this.db.close();
  }
}
