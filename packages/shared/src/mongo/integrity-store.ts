import { randomUUID } from 'node:crypto';
import type { Filter, IndexDescription } from 'mongodb';
import type { Digest, DigestLeaves } from '../integrity/digest.js';
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
import type { MongoCollection, MongoDatabase } from './database.js';
import {
  type CleanupDocument,
  type CounterDocument,
  cleanupRecordOf,
  DELETED_INDEXES,
  type DeletedDocument,
  INTEGRITY_COLLECTIONS,
  reserve,
} from './integrity-collections.js';
import { dropLease, isDuplicateKey, type LeaseDocument, takeLease } from './lease.js';
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

interface CheckpointDocument {
  tenant_id: string;
  tree_size: number;
  /** The size it grew from: unique per tenant, so two sealers that read the same head cannot both append. */
  prev_size: number;
  last_position: number;
  checkpoint: string;
  leaf_ids: string[];
  leaf_hashes: string[];
  /** The level-8 subtree hashes this batch completed, in the same document so they commit with it. */
  tiles: { tile: number; hash: string }[];
}

interface CosignatureDocument {
  tenant_id: string;
  tree_size: number;
  witness: string;
  line: string;
}

const READ_BATCH = 1000;
/** The lease that lets one process at a time hand out commit positions. */
const POSITIONS_LEASE = 'positions';
const POSITIONS_LEASE_MS = 30_000;
const WATERMARK = 'watermark';

const toPosition = (position: number): CommitPosition => String(position);
/** Null is "before everything". */
const fromPosition = (position: CommitPosition | null): number => (position === null ? Number.MIN_SAFE_INTEGER : Number(position));
const sealLease = (tenant: TenantId): string => `seal:${tenant}`;

export const INTEGRITY_LOG_INDEXES: IndexDescription[] = [
  { name: 'position', key: { position: 1 } },
  { name: 'tenant_position', key: { tenant_id: 1, position: 1 } },
];
const CHECKPOINT_INDEXES: IndexDescription[] = [
  { name: 'tenant_prev_size_unique', key: { tenant_id: 1, prev_size: 1 }, unique: true },
  { name: 'tenant_tree_size', key: { tenant_id: 1, tree_size: 1 } },
  { name: 'tenant_last_position', key: { tenant_id: 1, last_position: 1 } },
];
const COSIGNATURE_INDEXES: IndexDescription[] = [
  { name: 'tenant_size_witness_unique', key: { tenant_id: 1, tree_size: 1, witness: 1 }, unique: true },
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
  private readonly cleanups_: MongoCollection<CleanupDocument>;
  private readonly deleted: MongoCollection<DeletedDocument>;
  private readonly checkpointsCollection: MongoCollection<CheckpointDocument>;
  private readonly cosignaturesCollection: MongoCollection<CosignatureDocument>;
  /** Names this store as the holder of the positions lease. */
  private readonly self = randomUUID();

  private constructor(private readonly db: MongoDatabase) {
    this.logs = db.collection<PositionedLog>(LOGS_COLLECTION);
    this.digestsCollection = db.collection<DigestDocument>(INTEGRITY_COLLECTIONS.digests);
    this.leases = db.collection<LeaseDocument>(INTEGRITY_COLLECTIONS.leases);
    this.counters = db.collection<CounterDocument>(INTEGRITY_COLLECTIONS.counters);
    this.cleanups_ = db.collection<CleanupDocument>(INTEGRITY_COLLECTIONS.cleanups);
    this.deleted = db.collection<DeletedDocument>(INTEGRITY_COLLECTIONS.deleted);
    this.checkpointsCollection = db.collection<CheckpointDocument>(INTEGRITY_COLLECTIONS.checkpoints);
    this.cosignaturesCollection = db.collection<CosignatureDocument>(INTEGRITY_COLLECTIONS.cosignatures);
  }

  /** Creates the indexes (a no-op when they exist); open the MongoLogStore first, it owns the logs collection. */
  static async open(db: MongoDatabase): Promise<MongoIntegrityStore> {
    const store = new MongoIntegrityStore(db);
    await store.logs.createIndexes(INTEGRITY_LOG_INDEXES);
    await store.digestsCollection.createIndexes(DIGEST_INDEXES);
    await store.deleted.createIndexes(DELETED_INDEXES);
    await store.checkpointsCollection.createIndexes(CHECKPOINT_INDEXES);
    await store.cosignaturesCollection.createIndexes(COSIGNATURE_INDEXES);
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
      const [checkpoint] = await this.checkpointsCollection
        .find({ tenant_id: { $eq: row._id } }, { projection: { _id: 0, last_position: 1 }, sort: { tree_size: -1 }, limit: 1 })
        .toArray();
      const sealed = Math.max(latest?.last_position ?? Number.MIN_SAFE_INTEGER, checkpoint?.last_position ?? Number.MIN_SAFE_INTEGER);
      if (row.last > sealed) tenants.push(row._id as TenantId);
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
    return rows.map((row) => ({
      position: toPosition(row.position as number),
      id: row.id,
      hash: documentToEvent(row).hash as string,
      timestamp: row.timestamp.toISOString(),
    }));
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

  async eventAt(tenant: TenantId, id: string): Promise<CommittedEvent | null> {
    await this.assignPositions();
    const [row] = await this.logs
      .find({ tenant_id: { $eq: tenant }, id: { $eq: id } }, { projection: { _id: 0, search_text: 0 }, limit: 1 })
      .toArray();
    if (!row) return null;
    const { position, hash, ...stored } = row;
    return { position: toPosition(position ?? Number.MAX_SAFE_INTEGER), event: documentToEvent(stored), storedHash: hash ?? null };
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
      if (isDuplicateKey(error)) return false;
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

  private takeLease(name: string, holder: string, ttlMs: number): Promise<boolean> {
    return takeLease(this.leases, name, holder, Date.now(), ttlMs);
  }

  private dropLease(name: string, holder: string): Promise<void> {
    return dropLease(this.leases, name, holder);
  }

  async deletedByCleanup(tenant: TenantId, ids: readonly string[]): Promise<Map<string, CleanupRecord>> {
    const found = new Map<string, CleanupRecord>();
    if (ids.length === 0) return found;
    const rows = await this.deleted.find({ tenant_id: { $eq: tenant }, event_id: { $in: [...ids] } }, { projection: { _id: 0 } }).toArray();
    const records = new Map<number, CleanupRecord>();
    const cleanupIds = [...new Set(rows.map((row) => row.cleanup_id))];
    for (const cleanup of await this.cleanups_.find({ _id: { $in: cleanupIds }, tenant_id: { $eq: tenant } }).toArray()) {
      records.set(cleanup._id, cleanupRecordOf(cleanup));
    }
    for (const row of rows) {
      const record = records.get(row.cleanup_id);
      if (record) found.set(row.event_id, record);
    }
    return found;
  }

  async tombstones(tenant: TenantId, ids: readonly string[]): Promise<Map<string, Tombstone>> {
    const found = new Map<string, Tombstone>();
    if (ids.length === 0) return found;
    const rows = await this.deleted.find({ tenant_id: { $eq: tenant }, event_id: { $in: [...ids] } }, { projection: { _id: 0 } }).toArray();
    const records = await this.cleanupRecords(tenant, [...new Set(rows.map((row) => row.cleanup_id))]);
    for (const row of rows) {
      const cleanup = records.get(row.cleanup_id);
      if (cleanup)
        found.set(row.event_id, { event_id: row.event_id, event_hash: row.event_hash ?? null, timestamp: row.ts ?? null, cleanup });
    }
    return found;
  }

  private async cleanupRecords(tenant: TenantId, ids: number[] | null): Promise<Map<number, CleanupRecord>> {
    const records = new Map<number, CleanupRecord>();
    const filter = ids === null ? { tenant_id: { $eq: tenant } } : { _id: { $in: ids }, tenant_id: { $eq: tenant } };
    for (const cleanup of await this.cleanups_.find(filter, { sort: { _id: 1 } }).toArray()) {
      records.set(cleanup._id, cleanupRecordOf(cleanup));
    }
    return records;
  }

  async cleanups(tenant: TenantId): Promise<{ record: CleanupRecord; tombstones: number }[]> {
    const records = await this.cleanupRecords(tenant, null);
    const out: { record: CleanupRecord; tombstones: number }[] = [];
    for (const record of records.values()) {
      const tombstones = await this.deleted.countDocuments({ tenant_id: { $eq: tenant }, cleanup_id: { $eq: record.cleanup_id } });
      out.push({ record, tombstones });
    }
    return out;
  }

  async latestCheckpoint(tenant: TenantId): Promise<Checkpoint | null> {
    const [row] = await this.checkpointsCollection
      .find({ tenant_id: { $eq: tenant } }, { projection: { _id: 0, checkpoint: 1 }, sort: { tree_size: -1 }, limit: 1 })
      .toArray();
    return row ? (JSON.parse(row.checkpoint) as Checkpoint) : null;
  }

  async appendCheckpoint(tenant: TenantId, checkpoint: Checkpoint, leaves: CheckpointLeaves, tiles: readonly Tile[]): Promise<boolean> {
    const head = await this.latestCheckpoint(tenant);
    const prevSize = checkpoint.tree_size - checkpoint.count;
    if ((head?.tree_size ?? 0) !== prevSize) return false;
    try {
      // The unique (tenant_id, prev_size) index is the compare-and-append: a rival that read the same head is refused.
      await this.checkpointsCollection.insertOne({
        tenant_id: tenant,
        tree_size: checkpoint.tree_size,
        prev_size: prevSize,
        last_position: fromPosition(checkpoint.last_position),
        checkpoint: JSON.stringify(checkpoint),
        leaf_ids: [...leaves.ids],
        leaf_hashes: [...leaves.hashes],
        tiles: tiles.map((tile) => ({ tile: tile.tile, hash: tile.hash.toString('hex') })),
      });
      return true;
    } catch (error) {
      if (isDuplicateKey(error)) return false;
      throw error;
    }
  }

  async checkpoints(tenant: TenantId, afterSize: number, limit: number): Promise<Checkpoint[]> {
    const rows = await this.checkpointsCollection
      .find(
        { tenant_id: { $eq: tenant }, tree_size: { $gt: afterSize } },
        { projection: { _id: 0, checkpoint: 1 }, sort: { tree_size: 1 }, limit },
      )
      .toArray();
    return rows.map((row) => JSON.parse(row.checkpoint) as Checkpoint);
  }

  async checkpointCount(tenant: TenantId): Promise<number> {
    return this.checkpointsCollection.countDocuments({ tenant_id: { $eq: tenant } });
  }

  private async checkpointDocument(tenant: TenantId, treeSize: number): Promise<CheckpointDocument | null> {
    const [row] = await this.checkpointsCollection
      .find({ tenant_id: { $eq: tenant }, tree_size: { $eq: treeSize } }, { projection: { _id: 0 }, limit: 1 })
      .toArray();
    return row ?? null;
  }

  async checkpointAt(tenant: TenantId, treeSize: number): Promise<Checkpoint | null> {
    const row = await this.checkpointDocument(tenant, treeSize);
    return row ? (JSON.parse(row.checkpoint) as Checkpoint) : null;
  }

  async checkpointLeaves(tenant: TenantId, treeSize: number): Promise<CheckpointLeaves | null> {
    const row = await this.checkpointDocument(tenant, treeSize);
    return row ? { ids: row.leaf_ids, hashes: row.leaf_hashes } : null;
  }

  async checkpointCovering(tenant: TenantId, position: CommitPosition): Promise<Checkpoint | null> {
    const [row] = await this.checkpointsCollection
      .find(
        { tenant_id: { $eq: tenant }, last_position: { $gte: fromPosition(position) } },
        { projection: { _id: 0, checkpoint: 1 }, sort: { last_position: 1 }, limit: 1 },
      )
      .toArray();
    return row ? (JSON.parse(row.checkpoint) as Checkpoint) : null;
  }

  async leafHashes(tenant: TenantId, start: number, end: number): Promise<Buffer[]> {
    const out: Buffer[] = [];
    let after = start;
    while (out.length < end - start) {
      const rows = await this.checkpointsCollection
        .find(
          { tenant_id: { $eq: tenant }, tree_size: { $gt: after } },
          { projection: { _id: 0, tree_size: 1, leaf_hashes: 1 }, sort: { tree_size: 1 }, limit: 16 },
        )
        .toArray();
      if (rows.length === 0) break;
      for (const row of rows) {
        const first = row.tree_size - row.leaf_hashes.length;
        for (let index = Math.max(start, first); index < Math.min(end, row.tree_size); index++)
          out.push(Buffer.from(row.leaf_hashes[index - first] as string, 'hex'));
        after = row.tree_size;
        if (after >= end) break;
      }
      if (after >= end) break;
    }
    if (out.length !== end - start) throw new Error(`leaves ${start}..${end} of ${tenant} are not all stored`);
    return out;
  }

  async tiles(tenant: TenantId, first: number, end: number): Promise<Buffer[]> {
    const found = new Map<number, Buffer>();
    // Tile t is completed by the first checkpoint that reaches leaf (t + 1) * 256 - 1.
    let after = (first + 1) * TILE_LEAVES - 1;
    while (found.size < end - first) {
      const rows = await this.checkpointsCollection
        .find(
          { tenant_id: { $eq: tenant }, tree_size: { $gt: after } },
          { projection: { _id: 0, tree_size: 1, tiles: 1 }, sort: { tree_size: 1 }, limit: 16 },
        )
        .toArray();
      if (rows.length === 0) break;
      for (const row of rows) {
        for (const tile of row.tiles) if (tile.tile >= first && tile.tile < end) found.set(tile.tile, Buffer.from(tile.hash, 'hex'));
        after = row.tree_size;
      }
      if (after >= end * TILE_LEAVES) break;
    }
    if (found.size !== end - first) throw new Error(`tiles ${first}..${end} of ${tenant} are not all stored`);
    return Array.from({ length: end - first }, (_, offset) => found.get(first + offset) as Buffer);
  }

  async addCosignature(tenant: TenantId, treeSize: number, witness: string, line: string): Promise<void> {
    await this.cosignaturesCollection.findOneAndUpdate(
      { tenant_id: { $eq: tenant }, tree_size: { $eq: treeSize }, witness: { $eq: witness } },
      { $set: { tenant_id: tenant, tree_size: treeSize, witness, line } },
      { upsert: true, returnDocument: 'after', includeResultMetadata: false },
    );
  }

  async cosignatures(tenant: TenantId, treeSize: number): Promise<string[]> {
    const rows = await this.cosignaturesCollection
      .find({ tenant_id: { $eq: tenant }, tree_size: { $eq: treeSize } }, { projection: { _id: 0, line: 1 }, sort: { witness: 1 } })
      .toArray();
    return rows.map((row) => row.line);
  }

  async cosignedSizes(tenant: TenantId): Promise<number[]> {
    const rows = await this.cosignaturesCollection
      .find({ tenant_id: { $eq: tenant } }, { projection: { _id: 0, tree_size: 1 }, sort: { tree_size: 1 } })
      .toArray();
    return [...new Set(rows.map((row) => row.tree_size))];
  }

  /** The MongoLogStore owns the connection and closes it. */
  async close(): Promise<void> {}
}
