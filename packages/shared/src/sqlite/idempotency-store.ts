import type Database from 'better-sqlite3';
import { decideReservation, freshRecord } from '../idempotency/decide.js';
import type { IdempotencyRecord, IdempotencyStore, Reservation, ReserveRequest } from '../idempotency/port.js';
import type { TenantId } from '../store/tenant-id.js';
import { openSqlite } from './database.js';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS idempotency_keys (
  tenant_id TEXT NOT NULL,
  key TEXT NOT NULL,
  fingerprint TEXT NOT NULL,
  seed TEXT NOT NULL,
  received_at TEXT NOT NULL,
  state TEXT NOT NULL,
  lease_until INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
  owner TEXT NOT NULL,
  PRIMARY KEY (tenant_id, key)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS idempotency_keys_tenant_expiry ON idempotency_keys (tenant_id, expires_at);
`;

interface Row {
  fingerprint: string;
  seed: string;
  received_at: string;
  state: 'pending' | 'done';
  lease_until: number;
  expires_at: number;
  owner: string;
}

const toRecord = (row: Row): IdempotencyRecord => ({
  fingerprint: row.fingerprint,
  seed: row.seed,
  receivedAt: row.received_at,
  state: row.state,
  leaseUntil: row.lease_until,
  expiresAt: row.expires_at,
  owner: row.owner,
});

/**
 * IdempotencyStore on SQLite, in the same file as the events. reserve is one IMMEDIATE
 * transaction, so two processes sharing the file (log service replicas) never both take a key.
 */
export class SqliteIdempotencyStore implements IdempotencyStore {
  private readonly reserveTx: (tenant: string, key: string, request: ReserveRequest) => Reservation;

  private constructor(private readonly db: Database.Database) {
    // Keys are bookkeeping beside the events, not events: a commit that survives the process (WAL
    // without an fsync per commit) is enough, and saves two fsyncs per keyed request. Only a power
    // cut in the last moments can forget a key, and then a retry stores the event again.
    db.pragma('synchronous = NORMAL');
    db.exec(SCHEMA);
    const select = db.prepare<[string, string], Row>(
      'SELECT fingerprint, seed, received_at, state, lease_until, expires_at, owner FROM idempotency_keys WHERE tenant_id = ? AND key = ?',
    );
    const upsert = db.prepare(
      `INSERT INTO idempotency_keys (tenant_id, key, fingerprint, seed, received_at, state, lease_until, expires_at, owner)
       VALUES (@tenant, @key, @fingerprint, @seed, @receivedAt, @state, @leaseUntil, @expiresAt, @owner)
       ON CONFLICT (tenant_id, key) DO UPDATE SET fingerprint = excluded.fingerprint, seed = excluded.seed,
         received_at = excluded.received_at, state = excluded.state, lease_until = excluded.lease_until,
         expires_at = excluded.expires_at, owner = excluded.owner`,
    );
    const takeOver = db.prepare('UPDATE idempotency_keys SET lease_until = ?, owner = ? WHERE tenant_id = ? AND key = ?');
    const reserve = (tenant: string, key: string, request: ReserveRequest): Reservation => {
      const row = select.get(tenant, key);
      const existing = row ? toRecord(row) : null;
      switch (decideReservation(existing, request)) {
        case 'take': {
          const record = freshRecord(request);
          upsert.run({ tenant, key, ...record });
          return { outcome: 'new', record };
        }
        case 'resume': {
          const record = { ...(existing as IdempotencyRecord), leaseUntil: request.now + request.leaseMs, owner: request.owner };
          takeOver.run(record.leaseUntil, record.owner, tenant, key);
          return { outcome: 'resumed', record };
        }
        case 'replay':
          return { outcome: 'replay', record: existing as IdempotencyRecord };
        case 'mismatch':
          return { outcome: 'mismatch' };
        case 'in-flight':
          return { outcome: 'in-flight' };
      }
    };
    const transaction = db.transaction(reserve);
    this.reserveTx = (tenant, key, request) => {
      // Replays and refusals only read: they are answered without waiting for the write lock.
      const row = select.get(tenant, key);
      if (row) {
        const decision = decideReservation(toRecord(row), request);
        if (decision === 'replay') return { outcome: 'replay', record: toRecord(row) };
        if (decision === 'mismatch' || decision === 'in-flight') return { outcome: decision };
      }
      return transaction.immediate(tenant, key, request);
    };
  }

  static open(path: string): SqliteIdempotencyStore {
    return new SqliteIdempotencyStore(openSqlite(path));
  }

  async reserve(tenant: TenantId, key: string, request: ReserveRequest): Promise<Reservation> {
    return this.reserveTx(tenant, key, request);
  }

  async complete(tenant: TenantId, key: string, owner: string): Promise<void> {
    this.db.prepare("UPDATE idempotency_keys SET state = 'done' WHERE tenant_id = ? AND key = ? AND owner = ?").run(tenant, key, owner);
  }

  async release(tenant: TenantId, key: string, owner: string): Promise<void> {
    this.db
      .prepare("UPDATE idempotency_keys SET lease_until = 0 WHERE tenant_id = ? AND key = ? AND owner = ? AND state = 'pending'")
      .run(tenant, key, owner);
  }

  async trim(tenant: TenantId, maxKeys: number, now: number): Promise<number> {
    const expired = this.db.prepare('DELETE FROM idempotency_keys WHERE tenant_id = ? AND expires_at <= ?').run(tenant, now).changes;
    // The newest maxKeys by expiry stay (every key has the same TTL, so that is by age).
    const cut = this.db
      .prepare<[string, number], { expires_at: number }>(
        'SELECT expires_at FROM idempotency_keys WHERE tenant_id = ? ORDER BY expires_at DESC LIMIT 1 OFFSET ?',
      )
      .get(tenant, maxKeys);
    if (!cut) return expired;
    const evicted = this.db
      .prepare('DELETE FROM idempotency_keys WHERE tenant_id = ? AND expires_at <= ?')
      .run(tenant, cut.expires_at).changes;
    return expired + evicted;
  }

  async count(tenant: TenantId, now: number): Promise<number> {
    const row = this.db
      .prepare<[string, number], { n: number }>('SELECT count(*) AS n FROM idempotency_keys WHERE tenant_id = ? AND expires_at > ?')
      .get(tenant, now);
    return row?.n ?? 0;
  }

  async ping(): Promise<void> {
    this.db.prepare('SELECT 1').get();
  }

  async close(): Promise<void> {
    if (this.db.open) this.db.close();
  }
}
