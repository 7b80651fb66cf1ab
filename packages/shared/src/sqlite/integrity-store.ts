import type Database from 'better-sqlite3';
import type { Digest, DigestLeaves } from '../integrity/digest.js';
import { eventHash } from '../integrity/event-hash.js';
import type {
  Checkpoint,
  CheckpointLeaves,
  CleanupRecord,
  CommitPosition,
  CommittedEvent,
  IntegrityStore,
  SealableEvent,
  Tile,
  Tombstone,
} from '../integrity/port.js';
import { TILE_LEAVES } from '../integrity/tree.js';
import type { TenantId } from '../store/tenant-id.js';
import { openSqlite } from './database.js';
import { CLEANUP_RECORD_COLUMNS, migrateIntegritySchema } from './integrity-schema.js';
import { COLUMNS, type Row, rowToEvent } from './logs-table.js';

const READ_BATCH = 1000;
const HASH_BYTES = 32;

const toPosition = (seq: number): CommitPosition => String(seq);
/** Null is "before everything": a row written with a zero or negative seq must not slip past the sealer or verify. */
const fromPosition = (position: CommitPosition | null): number => (position === null ? Number.MIN_SAFE_INTEGER : Number(position));

interface DigestRow {
  digest: string;
}

/** One tenant's events after a position, in commit order: the sealer's next batch. */
export const SEALABLE_SQL =
  'SELECT seq, id, hash, ts FROM logs INDEXED BY logs_tenant_seq WHERE tenant_id = ? AND seq > ? ORDER BY seq LIMIT ?';
/** One tenant's events in a position range, in commit order: what verify re-hashes. */
export const COMMITTED_SQL = `SELECT seq, ${COLUMNS} FROM logs INDEXED BY logs_tenant_seq WHERE tenant_id = ? AND seq > ? AND seq <= ? ORDER BY seq LIMIT ?`;

/**
 * IntegrityStore on the SQLite file the events live in. Commit order is the logs table's
 * AUTOINCREMENT seq: SQLite has one writer at a time, so seq grows in the order transactions
 * commit and an event committed late always lands after everything sealed before it.
 * The sealer and verify read one tenant's events in seq order through the (tenant_id, seq) index:
 * walking the seq range of the whole table (`NOT INDEXED`, as before) cost a 2-event tenant's verify
 * 17 ms per 100 000 events of other tenants. Only the scan across tenants walks the seq range.
 */
export class SqliteIntegrityStore implements IntegrityStore {
  private constructor(private readonly db: Database.Database) {
    migrateIntegritySchema(db);
  }

  /**
   * Opens its own connection to the file; open the SqliteLogStore first, it owns the logs table.
   * `synchronous: 'NORMAL'` is for the sealer thread (sealer-worker.ts): its commits (leases, the
   * watermark, checkpoints) then hold SQLite's one write lock without an fsync, so the inserts of
   * acknowledged events on the main connection (still FULL) wait less for it. A power cut can lose
   * the last moments of that connection's commits, never an event: the lease and watermark are
   * taken again, and a lost checkpoint is made again over the same leaves in the same order, so
   * the tree (and every root handed out) is the same.
   */
  static open(path: string, options: { synchronous?: 'FULL' | 'NORMAL' } = {}): SqliteIntegrityStore {
    const db = openSqlite(path);
    if (options.synchronous === 'NORMAL') db.pragma('synchronous = NORMAL');
    return new SqliteIntegrityStore(db);
  }

  async tenantsWithEventsAfter(after: CommitPosition | null): Promise<{ tenants: TenantId[]; through: CommitPosition | null }> {
    const rows = this.db
      .prepare(`SELECT l.tenant_id AS tenant, max(l.seq) AS last FROM logs AS l NOT INDEXED WHERE l.seq > ? GROUP BY l.tenant_id`)
      .all(fromPosition(after)) as { tenant: string; last: number }[];
    const sealedThrough = this.db.prepare(
      `SELECT max(position) AS position FROM (SELECT max(last_position) AS position FROM integrity_digests WHERE tenant_id = ?
       UNION ALL SELECT max(last_position) FROM integrity_checkpoints WHERE tenant_id = ?)`,
    );
    const tenants = rows
      .filter(
        (row) =>
          row.last > ((sealedThrough.get(row.tenant, row.tenant) as { position: number | null }).position ?? Number.MIN_SAFE_INTEGER),
      )
      .map((row) => row.tenant as TenantId);
    if (rows.length === 0) return { tenants, through: after };
    return { tenants, through: toPosition(rows.reduce((max, row) => Math.max(max, row.last), Number.MIN_SAFE_INTEGER)) };
  }

  async loadWatermark(): Promise<CommitPosition | null> {
    const row = this.db.prepare('SELECT position FROM integrity_watermark WHERE id = 1').get() as { position: number } | undefined;
    return row ? toPosition(row.position) : null;
  }

  async saveWatermark(position: CommitPosition): Promise<void> {
    this.db
      .prepare(
        'INSERT INTO integrity_watermark (id, position) VALUES (1, ?) ON CONFLICT (id) DO UPDATE SET position = max(position, excluded.position)',
      )
      .run(fromPosition(position));
  }

  async sealable(tenant: TenantId, after: CommitPosition | null, limit: number): Promise<SealableEvent[]> {
    const rows = this.db.prepare(SEALABLE_SQL).all(tenant, fromPosition(after), limit) as {
      seq: number;
      id: string;
      hash: string | null;
      ts: string;
    }[];
    const full = this.db.prepare(`SELECT ${COLUMNS} FROM logs WHERE seq = ?`);
    // Rows written before events carried a hash are sealed with the hash of what is stored.
    return rows.map((row) => ({
      position: toPosition(row.seq),
      id: row.id,
      hash: row.hash ?? eventHash(rowToEvent(full.get(row.seq) as Row)),
      timestamp: row.ts,
    }));
  }

  async *committed(tenant: TenantId, after: CommitPosition | null, through: CommitPosition | null): AsyncIterable<CommittedEvent> {
    const statement = this.db.prepare(COMMITTED_SQL);
    const end = through === null ? Number.MAX_SAFE_INTEGER : fromPosition(through);
    let cursor = fromPosition(after);
    for (;;) {
      const rows = statement.all(tenant, cursor, end, READ_BATCH) as (Row & { seq: number })[];
      for (const row of rows) yield { position: toPosition(row.seq), event: rowToEvent(row), storedHash: row.hash };
      if (rows.length < READ_BATCH) return;
      cursor = (rows.at(-1) as { seq: number }).seq;
    }
  }

  async eventAt(tenant: TenantId, id: string): Promise<CommittedEvent | null> {
    const row = this.db.prepare(`SELECT seq, ${COLUMNS} FROM logs WHERE tenant_id = ? AND id = ?`).get(tenant, id) as
      | (Row & { seq: number })
      | undefined;
    return row ? { position: toPosition(row.seq), event: rowToEvent(row), storedHash: row.hash } : null;
  }

  async positionOf(tenant: TenantId, id: string): Promise<CommitPosition | null> {
    const row = this.db.prepare('SELECT seq FROM logs WHERE tenant_id = ? AND id = ?').get(tenant, id) as { seq: number } | undefined;
    return row ? toPosition(row.seq) : null;
  }

  async latestDigest(tenant: TenantId): Promise<Digest | null> {
    const row = this.db.prepare('SELECT digest FROM integrity_digests WHERE tenant_id = ? ORDER BY seq DESC LIMIT 1').get(tenant) as
      | DigestRow
      | undefined;
    return row ? (JSON.parse(row.digest) as Digest) : null;
  }

  async appendDigest(tenant: TenantId, digest: Digest, leaves: DigestLeaves): Promise<boolean> {
    const latest = this.db.prepare('SELECT seq, digest FROM integrity_digests WHERE tenant_id = ? ORDER BY seq DESC LIMIT 1');
    const insert = this.db.prepare(
      'INSERT INTO integrity_digests (tenant_id, seq, last_position, digest, leaf_ids, leaf_hashes) VALUES (?, ?, ?, ?, ?, ?)',
    );
    // Compare-and-append under the write lock: whoever appends second sees a different head and stops.
    const append = this.db.transaction(() => {
      const head = latest.get(tenant) as (DigestRow & { seq: number }) | undefined;
      const headHash = head ? (JSON.parse(head.digest) as Digest).hash : null;
      if ((head?.seq ?? 0) + 1 !== digest.seq || headHash !== digest.prev_hash) return false;
      insert.run(
        tenant,
        digest.seq,
        fromPosition(digest.last_position),
        JSON.stringify(digest),
        leaves.ids.join('\n'),
        Buffer.concat(leaves.hashes.map((hash) => Buffer.from(hash, 'hex'))),
      );
      return true;
    });
    return append.immediate();
  }

  async digests(tenant: TenantId, afterSeq: number, limit: number): Promise<Digest[]> {
    const rows = this.db
      .prepare('SELECT digest FROM integrity_digests WHERE tenant_id = ? AND seq > ? ORDER BY seq LIMIT ?')
      .all(tenant, afterSeq, limit) as DigestRow[];
    return rows.map((row) => JSON.parse(row.digest) as Digest);
  }

  async digestCount(tenant: TenantId): Promise<number> {
    return (this.db.prepare('SELECT count(*) AS n FROM integrity_digests WHERE tenant_id = ?').get(tenant) as { n: number }).n;
  }

  async digestLeaves(tenant: TenantId, seq: number): Promise<DigestLeaves | null> {
    const row = this.db.prepare('SELECT leaf_ids, leaf_hashes FROM integrity_digests WHERE tenant_id = ? AND seq = ?').get(tenant, seq) as
      | { leaf_ids: string; leaf_hashes: Buffer }
      | undefined;
    if (!row) return null;
    const hashes: string[] = [];
    for (let offset = 0; offset < row.leaf_hashes.length; offset += HASH_BYTES) {
      hashes.push(row.leaf_hashes.subarray(offset, offset + HASH_BYTES).toString('hex'));
    }
    return { ids: row.leaf_ids === '' ? [] : row.leaf_ids.split('\n'), hashes };
  }

  async digestCovering(tenant: TenantId, position: CommitPosition): Promise<Digest | null> {
    const row = this.db
      .prepare('SELECT digest FROM integrity_digests WHERE tenant_id = ? AND last_position >= ? ORDER BY last_position LIMIT 1')
      .get(tenant, fromPosition(position)) as DigestRow | undefined;
    return row ? (JSON.parse(row.digest) as Digest) : null;
  }

  async acquireLease(tenant: TenantId, holder: string, ttlMs: number): Promise<boolean> {
    const now = Date.now();
    // One statement, so taking the lease is atomic across processes sharing the file.
    const result = this.db
      .prepare(
        `INSERT INTO integrity_leases (tenant_id, holder, expires_at) VALUES (?, ?, ?)
         ON CONFLICT (tenant_id) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at
         WHERE integrity_leases.holder = excluded.holder OR integrity_leases.expires_at <= ?`,
      )
      .run(tenant, holder, now + ttlMs, now);
    return result.changes === 1;
  }

  async releaseLease(tenant: TenantId, holder: string): Promise<void> {
    this.db.prepare('DELETE FROM integrity_leases WHERE tenant_id = ? AND holder = ?').run(tenant, holder);
  }

  async deletedByCleanup(tenant: TenantId, ids: readonly string[]): Promise<Map<string, CleanupRecord>> {
    const found = new Map<string, CleanupRecord>();
    const lookup = this.db.prepare(
      `SELECT d.event_id, ${CLEANUP_RECORD_COLUMNS}
       FROM integrity_deleted AS d JOIN integrity_cleanups AS c ON c.cleanup_id = d.cleanup_id
       WHERE d.tenant_id = ? AND d.event_id = ?`,
    );
    for (const id of ids) {
      const row = lookup.get(tenant, id) as (CleanupRecord & { event_id: string }) | undefined;
      if (row) {
        const { event_id: _id, ...record } = row;
        found.set(id, record);
      }
    }
    return found;
  }

  async tombstones(tenant: TenantId, ids: readonly string[]): Promise<Map<string, Tombstone>> {
    const found = new Map<string, Tombstone>();
    const lookup = this.db.prepare(
      `SELECT d.event_id, d.event_hash, d.ts, ${CLEANUP_RECORD_COLUMNS}
       FROM integrity_deleted AS d JOIN integrity_cleanups AS c ON c.cleanup_id = d.cleanup_id AND c.tenant_id = d.tenant_id
       WHERE d.tenant_id = ? AND d.event_id = ?`,
    );
    for (const id of ids) {
      const row = lookup.get(tenant, id) as
        | (CleanupRecord & { event_id: string; event_hash: string | null; ts: string | null })
        | undefined;
      if (!row) continue;
      const { event_id, event_hash, ts, ...cleanup } = row;
      found.set(id, { event_id, event_hash, timestamp: ts, cleanup });
    }
    return found;
  }

  async cleanups(tenant: TenantId): Promise<{ record: CleanupRecord; tombstones: number }[]> {
    const rows = this.db
      .prepare(
        `SELECT ${CLEANUP_RECORD_COLUMNS},
           (SELECT count(*) FROM integrity_deleted AS d WHERE d.tenant_id = c.tenant_id AND d.cleanup_id = c.cleanup_id) AS tombstones
         FROM integrity_cleanups AS c WHERE c.tenant_id = ? ORDER BY c.cleanup_id`,
      )
      .all(tenant) as (CleanupRecord & { tombstones: number })[];
    return rows.map(({ tombstones, ...record }) => ({ record, tombstones }));
  }

  async latestCheckpoint(tenant: TenantId): Promise<Checkpoint | null> {
    const row = this.db
      .prepare('SELECT checkpoint FROM integrity_checkpoints WHERE tenant_id = ? ORDER BY tree_size DESC LIMIT 1')
      .get(tenant) as { checkpoint: string } | undefined;
    return row ? (JSON.parse(row.checkpoint) as Checkpoint) : null;
  }

  async appendCheckpoint(tenant: TenantId, checkpoint: Checkpoint, leaves: CheckpointLeaves, tiles: readonly Tile[]): Promise<boolean> {
    const latest = this.db.prepare('SELECT max(tree_size) AS size FROM integrity_checkpoints WHERE tenant_id = ?');
    const insert = this.db.prepare(
      'INSERT INTO integrity_checkpoints (tenant_id, tree_size, last_position, checkpoint, leaf_ids, leaf_hashes) VALUES (?, ?, ?, ?, ?, ?)',
    );
    const insertTile = this.db.prepare('INSERT INTO integrity_tiles (tenant_id, tile, hash) VALUES (?, ?, ?)');
    // Compare-and-append under the write lock: whoever appends second sees a different head and stops.
    const append = this.db.transaction(() => {
      const head = (latest.get(tenant) as { size: number | null }).size ?? 0;
      if (head !== checkpoint.tree_size - checkpoint.count) return false;
      insert.run(
        tenant,
        checkpoint.tree_size,
        fromPosition(checkpoint.last_position),
        JSON.stringify(checkpoint),
        leaves.ids.join('\n'),
        Buffer.concat(leaves.hashes.map((hash) => Buffer.from(hash, 'hex'))),
      );
      for (const tile of tiles) insertTile.run(tenant, tile.tile, tile.hash);
      return true;
    });
    return append.immediate();
  }

  async checkpoints(tenant: TenantId, afterSize: number, limit: number): Promise<Checkpoint[]> {
    const rows = this.db
      .prepare('SELECT checkpoint FROM integrity_checkpoints WHERE tenant_id = ? AND tree_size > ? ORDER BY tree_size LIMIT ?')
      .all(tenant, afterSize, limit) as { checkpoint: string }[];
    return rows.map((row) => JSON.parse(row.checkpoint) as Checkpoint);
  }

  async checkpointCount(tenant: TenantId): Promise<number> {
    return (this.db.prepare('SELECT count(*) AS n FROM integrity_checkpoints WHERE tenant_id = ?').get(tenant) as { n: number }).n;
  }

  async checkpointAt(tenant: TenantId, treeSize: number): Promise<Checkpoint | null> {
    const row = this.db
      .prepare('SELECT checkpoint FROM integrity_checkpoints WHERE tenant_id = ? AND tree_size = ?')
      .get(tenant, treeSize) as { checkpoint: string } | undefined;
    return row ? (JSON.parse(row.checkpoint) as Checkpoint) : null;
  }

  async checkpointLeaves(tenant: TenantId, treeSize: number): Promise<CheckpointLeaves | null> {
    const row = this.db
      .prepare('SELECT leaf_ids, leaf_hashes FROM integrity_checkpoints WHERE tenant_id = ? AND tree_size = ?')
      .get(tenant, treeSize) as { leaf_ids: string; leaf_hashes: Buffer } | undefined;
    return row
      ? { ids: row.leaf_ids === '' ? [] : row.leaf_ids.split('\n'), hashes: splitHashes(row.leaf_hashes).map((h) => h.toString('hex')) }
      : null;
  }

  async checkpointCovering(tenant: TenantId, position: CommitPosition): Promise<Checkpoint | null> {
    const row = this.db
      .prepare('SELECT checkpoint FROM integrity_checkpoints WHERE tenant_id = ? AND last_position >= ? ORDER BY last_position LIMIT 1')
      .get(tenant, fromPosition(position)) as { checkpoint: string } | undefined;
    return row ? (JSON.parse(row.checkpoint) as Checkpoint) : null;
  }

  async leafHashes(tenant: TenantId, start: number, end: number): Promise<Buffer[]> {
    const out: Buffer[] = [];
    const rows = this.db
      .prepare('SELECT tree_size, leaf_hashes FROM integrity_checkpoints WHERE tenant_id = ? AND tree_size > ? ORDER BY tree_size')
      .iterate(tenant, start) as IterableIterator<{ tree_size: number; leaf_hashes: Buffer }>;
    for (const row of rows) {
      const hashes = splitHashes(row.leaf_hashes);
      const first = row.tree_size - hashes.length;
      for (let index = Math.max(start, first); index < Math.min(end, row.tree_size); index++) out.push(hashes[index - first] as Buffer);
      if (row.tree_size >= end) {
        rows.return?.();
        break;
      }
    }
    if (out.length !== end - start) throw new Error(`leaves ${start}..${end} of ${tenant} are not all stored`);
    return out;
  }

  async tiles(tenant: TenantId, first: number, end: number): Promise<Buffer[]> {
    const rows = this.db
      .prepare('SELECT tile, hash FROM integrity_tiles WHERE tenant_id = ? AND tile >= ? AND tile < ? ORDER BY tile')
      .all(tenant, first, end) as { tile: number; hash: Buffer }[];
    if (rows.length !== end - first) throw new Error(`tiles ${first}..${end} (${TILE_LEAVES} leaves each) of ${tenant} are not all stored`);
    return rows.map((row) => row.hash);
  }

  async addCosignature(tenant: TenantId, treeSize: number, witness: string, line: string): Promise<void> {
    this.db
      .prepare('INSERT OR REPLACE INTO integrity_cosignatures (tenant_id, tree_size, witness, line) VALUES (?, ?, ?, ?)')
      .run(tenant, treeSize, witness, line);
  }

  async cosignatures(tenant: TenantId, treeSize: number): Promise<string[]> {
    const rows = this.db
      .prepare('SELECT line FROM integrity_cosignatures WHERE tenant_id = ? AND tree_size = ? ORDER BY witness')
      .all(tenant, treeSize) as { line: string }[];
    return rows.map((row) => row.line);
  }

  async cosignedSizes(tenant: TenantId): Promise<number[]> {
    const rows = this.db
      .prepare('SELECT DISTINCT tree_size FROM integrity_cosignatures WHERE tenant_id = ? ORDER BY tree_size')
      .all(tenant) as { tree_size: number }[];
    return rows.map((row) => row.tree_size);
  }

  async close(): Promise<void> {
    if (this.db.open) this.db.close();
  }
}

function splitHashes(blob: Buffer): Buffer[] {
  const hashes: Buffer[] = [];
  for (let offset = 0; offset < blob.length; offset += HASH_BYTES) hashes.push(blob.subarray(offset, offset + HASH_BYTES));
  return hashes;
}
