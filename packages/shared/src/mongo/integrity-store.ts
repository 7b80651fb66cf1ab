import { randomUUID } from 'node:crypto';
import type { Filter, IndexDescription } from 'mongodb';
import type { Digest, DigestLeaves } from '../integrity/digest.js';
import type { CleanupRecord, CommitPosition, CommittedEvent, IntegrityStore, SealableEvent } from '../integrity/port.js';
import type { TenantId } from '../store/tenant-id.js';
import type { MongoCollection, MongoDatabase } from './database.js';
import {
  type CleanupDocument,
  type CounterDocument,
  DELETED_INDEXES,
  type DeletedDocument,
  INTEGRITY_COLLECTIONS,
  reserve,
} from './integrity-collections.js';
import { documentToEvent, LOGS_COLLECTION, type LogDocument } from './logs-collection.js';

/** A log document as the integrity store sees it: the commit position it was given once observed. */
type PositionedLog = LogDocument & { position?: number };

interface DigestDocument {
  tenant_id: string;
  seq: number;
  last_position: number;
  digest: string;
  leaf_ids: string[];
  leaf_hashes: string[];
}

interface LeaseDocument {
  _id: string;
  holder: string;
  expires_at: number;
}

const READ_BATCH = 1000;
const DUPLICATE_KEY = 11000;
/** The lease that lets one process at a time hand out commit positions. */
const POSITIONS_LEASE = 'positions';
const POSITIONS_LEASE_MS = 30_000;
const WATERMARK = 'watermark';

const toPosition = (position: number): CommitPosition => String(position);
/** Null is "before everything". */
const fromPosition = (position: CommitPosition | null): number => (position === null ? Number.MIN_SAFE_INTEGER : Number(position));
const sealLease = (tenant: TenantId): string => `seal:${tenant}`;
const isDuplicate = (error: unknown): boolean =>
  typeof error === 'object' && error !== null && (error as { code?: unknown }).code === DUPLICATE_KEY;

export const INTEGRITY_LOG_INDEXES: IndexDescription[] = [
  { name: 'position', key: { position: 1 } },
  { name: 'tenant_position', key: { tenant_id: 1, position: 1 } },
];
const DIGEST_INDEXES: IndexDescription[] = [
  // Two sealers that both read head n cannot both append n + 1: the second insert is refused.
  { name: 'tenant_seq_unique', key: { tenant_id: 1, seq: 1 }, unique: true },
  { name: 'tenant_last_position', key: { tenant_id: 1, last_position: 1 } },
];

/**
 * IntegrityStore on the MongoDB database the events live in. MongoDB has no commit-ordered row
 * number, and a number reserved before an insert can commit after a higher one is already sealed.
 * So a log document is stored without a position and is given the next value of one global counter
 * when the integrity store first sees it committed (before every scan); a position never changes
 * once given. An event committed late is seen late, so its position is above everything sealed
 * before and it lands in the next seal. One process at a time hands out positions (a lease), so a
 * position written late cannot fall below one a sealer already read.
 */
export class MongoIntegrityStore implements IntegrityStore {
  private readonly logs: MongoCollection<PositionedLog>;
  private readonly digestsCollection: MongoCollection<DigestDocument>;
  private readonly leases: MongoCollection<LeaseDocument>;
  private readonly counters: MongoCollection<CounterDocument>;
  private readonly cleanups: MongoCollection<CleanupDocument>;
  private readonly deleted: MongoCollection<DeletedDocument>;
  /** Names this store as the holder of the positions lease. */
  private readonly self = randomUUID();

  private constructor(private readonly db: MongoDatabase) {
    this.logs = db.collection<PositionedLog>(LOGS_COLLECTION);
    this.digestsCollection = db.collection<DigestDocument>(INTEGRITY_COLLECTIONS.digests);
    this.leases = db.collection<LeaseDocument>(INTEGRITY_COLLECTIONS.leases);
    this.counters = db.collection<CounterDocument>(INTEGRITY_COLLECTIONS.counters);
    this.cleanups = db.collection<CleanupDocument>(INTEGRITY_COLLECTIONS.cleanups);
    this.deleted = db.collection<DeletedDocument>(INTEGRITY_COLLECTIONS.deleted);
  }

  /** Creates the indexes (a no-op when they exist); open the MongoLogStore first, it owns the logs collection. */
  static async open(db: MongoDatabase): Promise<MongoIntegrityStore> {
    const store = new MongoIntegrityStore(db);
    await store.logs.createIndexes(INTEGRITY_LOG_INDEXES);
    await store.digestsCollection.createIndexes(DIGEST_INDEXES);
    await store.deleted.createIndexes(DELETED_INDEXES);
    return store;
  }

  /**
   * Gives every committed document without a position the next ones, in batches. Skipped while
   * another process holds the positions lease: it is doing the same, and its documents are sealed
   * in the round after. The live stream calls it too: its cursors are these positions.
   */
  async assignPositions(): Promise<void> {
    if (!(await this.takeLease(POSITIONS_LEASE, this.self, POSITIONS_LEASE_MS))) return;
    try {
      for (;;) {
        const unplaced = await this.logs
          .find({ position: { $exists: false } }, { projection: { _id: 1 }, sort: { _id: 1 }, limit: READ_BATCH })
          .toArray();
        if (unplaced.length === 0) return;
        const first = await reserve(this.db, 'positions', unplaced.length);
        for (const [offset, document] of unplaced.entries()) {
          const where = { _id: { $eq: (document as { _id?: unknown })._id }, position: { $exists: false } } as Filter<PositionedLog>;
          await this.logs.updateOne(where, { $set: { position: first + offset } });
        }
        if (unplaced.length < READ_BATCH) return;
        if (!(await this.takeLease(POSITIONS_LEASE, this.self, POSITIONS_LEASE_MS))) return;
      }
    } finally {
      await this.dropLease(POSITIONS_LEASE, this.self);
    }
  }

  /** Places every committed document not yet placed (the analytics sink reads in this order too). */
  async placeCommitted(): Promise<void> {
    await this.assignPositions();
  }

  async tenantsWithEventsAfter(after: CommitPosition | null): Promise<{ tenants: TenantId[]; through: CommitPosition | null }> {
    await this.assignPositions();
    const rows = await this.logs
      .aggregate<{ _id: string; last: number }>([
        { $match: { position: { $gt: fromPosition(after) } } },
        { $group: { _id: '$tenant_id', last: { $max: '$position' } } },
      ])
      .toArray();
    const tenants: TenantId[] = [];
    for (const row of rows) {
      const latest = await this.latestDigestDocument(row._id as TenantId);
      if (row.last > (latest?.last_position ?? Number.MIN_SAFE_INTEGER)) tenants.push(row._id as TenantId);
    }
    tenants.sort();
    if (rows.length === 0) return { tenants, through: after };
    return { tenants, through: toPosition(rows.reduce((max, row) => Math.max(max, row.last), Number.MIN_SAFE_INTEGER)) };
  }

  async loadWatermark(): Promise<CommitPosition | null> {
    const [row] = await this.counters.find({ _id: { $eq: WATERMARK } }, { limit: 1 }).toArray();
    return row ? toPosition(row.value) : null;
  }

  async saveWatermark(position: CommitPosition): Promise<void> {
    await this.counters.findOneAndUpdate(
      { _id: { $eq: WATERMARK } },
      { $max: { value: fromPosition(position) } },
      { upsert: true, returnDocument: 'after', includeResultMetadata: false },
    );
  }

  async sealable(tenant: TenantId, after: CommitPosition | null, limit: number): Promise<SealableEvent[]> {
    await this.assignPositions();
    const rows = await this.logs
      .find(
        { tenant_id: { $eq: tenant }, position: { $gt: fromPosition(after) } },
        { projection: { _id: 0, search_text: 0 }, sort: { position: 1 }, limit },
      )
      .toArray();
    // documentToEvent computes the hash of what is stored for documents written before events carried one.
    return rows.map((row) => ({ position: toPosition(row.position as number), id: row.id, hash: documentToEvent(row).hash as string }));
  }

  async *committed(tenant: TenantId, after: CommitPosition | null, through: CommitPosition | null): AsyncIterable<CommittedEvent> {
    await this.assignPositions();
    const end = through === null ? Number.MAX_SAFE_INTEGER : fromPosition(through);
    let cursor = fromPosition(after);
    for (;;) {
      const rows = await this.logs
        .find(
          { tenant_id: { $eq: tenant }, position: { $gt: cursor, $lte: end } },
          { projection: { _id: 0, search_text: 0 }, sort: { position: 1 }, limit: READ_BATCH },
        )
        .toArray();
      for (const row of rows) {
        const { position, hash, ...stored } = row;
        yield { position: toPosition(position as number), event: documentToEvent(stored), storedHash: hash ?? null };
      }
      if (rows.length < READ_BATCH) return;
      cursor = rows.at(-1)?.position as number;
    }
  }

  async positionOf(tenant: TenantId, id: string): Promise<CommitPosition | null> {
    const [row] = await this.logs
      .find({ tenant_id: { $eq: tenant }, id: { $eq: id } }, { projection: { _id: 0, position: 1 }, limit: 1 })
      .toArray();
    if (!row) return null;
    // Stored but not yet given a position: after everything, so no digest covers it (not sealed yet).
    return toPosition(row.position ?? Number.MAX_SAFE_INTEGER);
  }

  private async latestDigestDocument(tenant: TenantId): Promise<DigestDocument | null> {
    const [row] = await this.digestsCollection.find({ tenant_id: { $eq: tenant } }, { sort: { seq: -1 }, limit: 1 }).toArray();
    return row ?? null;
  }

  async latestDigest(tenant: TenantId): Promise<Digest | null> {
    const row = await this.latestDigestDocument(tenant);
    return row ? (JSON.parse(row.digest) as Digest) : null;
  }

  async appendDigest(tenant: TenantId, digest: Digest, leaves: DigestLeaves): Promise<boolean> {
    const head = await this.latestDigestDocument(tenant);
    const headHash = head ? (JSON.parse(head.digest) as Digest).hash : null;
    if ((head?.seq ?? 0) + 1 !== digest.seq || headHash !== digest.prev_hash) return false;
    try {
      // The unique (tenant_id, seq) index makes this the compare-and-append: a rival that read the same head is refused.
      await this.digestsCollection.insertOne({
        tenant_id: tenant,
        seq: digest.seq,
        last_position: fromPosition(digest.last_position),
        digest: JSON.stringify(digest),
        leaf_ids: [...leaves.ids],
        leaf_hashes: [...leaves.hashes],
      });
      return true;
    } catch (error) {
      if (isDuplicate(error)) return false;
      throw error;
    }
  }

  async digests(tenant: TenantId, afterSeq: number, limit: number): Promise<Digest[]> {
    const rows = await this.digestsCollection
      .find({ tenant_id: { $eq: tenant }, seq: { $gt: afterSeq } }, { projection: { _id: 0, digest: 1 }, sort: { seq: 1 }, limit })
      .toArray();
    return rows.map((row) => JSON.parse(row.digest) as Digest);
  }

  async digestCount(tenant: TenantId): Promise<number> {
    return this.digestsCollection.countDocuments({ tenant_id: { $eq: tenant } });
  }

  async digestLeaves(tenant: TenantId, seq: number): Promise<DigestLeaves | null> {
    const [row] = await this.digestsCollection
      .find({ tenant_id: { $eq: tenant }, seq: { $eq: seq } }, { projection: { _id: 0, leaf_ids: 1, leaf_hashes: 1 }, limit: 1 })
      .toArray();
    return row ? { ids: row.leaf_ids, hashes: row.leaf_hashes } : null;
  }

  async digestCovering(tenant: TenantId, position: CommitPosition): Promise<Digest | null> {
    const [row] = await this.digestsCollection
      .find(
        { tenant_id: { $eq: tenant }, last_position: { $gte: fromPosition(position) } },
        { projection: { _id: 0, digest: 1 }, sort: { last_position: 1 }, limit: 1 },
      )
      .toArray();
    return row ? (JSON.parse(row.digest) as Digest) : null;
  }

  acquireLease(tenant: TenantId, holder: string, ttlMs: number): Promise<boolean> {
    return this.takeLease(sealLease(tenant), holder, ttlMs);
  }

  releaseLease(tenant: TenantId, holder: string): Promise<void> {
    return this.dropLease(sealLease(tenant), holder);
  }

  /**
   * One atomic findOneAndUpdate: it matches the lease only when it is ours or ran out, and otherwise
   * upserts, which the _id index refuses while another holder's unexpired lease exists.
   */
  private async takeLease(name: string, holder: string, ttlMs: number): Promise<boolean> {
    const now = Date.now();
    try {
      await this.leases.findOneAndUpdate(
        { _id: { $eq: name }, $or: [{ holder: { $eq: holder } }, { expires_at: { $lte: now } }] },
        { $set: { holder, expires_at: now + ttlMs } },
        { upsert: true, returnDocument: 'after', includeResultMetadata: false },
      );
      return true;
    } catch (error) {
      if (isDuplicate(error)) return false;
      throw error;
    }
  }

  private async dropLease(name: string, holder: string): Promise<void> {
    await this.leases.updateOne({ _id: { $eq: name }, holder: { $eq: holder } }, { $set: { expires_at: 0 } });
  }

  async deletedByCleanup(tenant: TenantId, ids: readonly string[]): Promise<Map<string, CleanupRecord>> {
    const found = new Map<string, CleanupRecord>();
    if (ids.length === 0) return found;
    const rows = await this.deleted.find({ tenant_id: { $eq: tenant }, event_id: { $in: [...ids] } }, { projection: { _id: 0 } }).toArray();
    const records = new Map<number, CleanupRecord>();
    const cleanupIds = [...new Set(rows.map((row) => row.cleanup_id))];
    for (const cleanup of await this.cleanups.find({ _id: { $in: cleanupIds }, tenant_id: { $eq: tenant } }).toArray()) {
      const { _id, tenant_id: _tenant, ...rest } = cleanup;
      records.set(_id, { cleanup_id: _id, ...rest });
    }
    for (const row of rows) {
      const record = records.get(row.cleanup_id);
      if (record) found.set(row.event_id, record);
    }
    return found;
  }

  /** The MongoLogStore owns the connection and closes it. */
  async close(): Promise<void> {}
}
