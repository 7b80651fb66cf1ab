import type { IndexDescription } from 'mongodb';
import type { CleanupRecord } from '../integrity/port.js';
import type { MongoDatabase } from './database.js';

/** Tamper-evidence collections on MongoDB, in the database the events live in. */
export const INTEGRITY_COLLECTIONS = {
  digests: 'integrity_digests',
  leases: 'integrity_leases',
  /** Named counters: the global commit-position counter, cleanup ids, and the sealed-through watermark. */
  counters: 'integrity_counters',
  cleanups: 'integrity_cleanups',
  deleted: 'integrity_deleted',
  checkpoints: 'integrity_checkpoints',
  cosignatures: 'integrity_cosignatures',
} as const;

export interface CounterDocument {
  _id: string;
  value: number;
}

export interface CleanupDocument {
  _id: number;
  tenant_id: string;
  deleted_at: string;
  before: string | null;
  deleted_count: number;
  audit_event_id: string | null;
  /** Set on a retention policy's cleanups; absent on a request's (and on every record from before policies). */
  by?: 'policy';
}

export interface DeletedDocument {
  tenant_id: string;
  event_id: string;
  cleanup_id: number;
  /** The deleted event's tree entry, so its leaf can be recomputed; absent on records older than the tree. */
  event_hash?: string | null;
  ts?: string;
}

export const DELETED_INDEXES: IndexDescription[] = [{ name: 'tenant_event_unique', key: { tenant_id: 1, event_id: 1 }, unique: true }];

/** A stored cleanup document as the integrity port's CleanupRecord. */
export function cleanupRecordOf(document: CleanupDocument): CleanupRecord {
  const { _id, tenant_id: _tenant, by, ...rest } = document;
  return { cleanup_id: _id, ...rest, by: by ?? 'request' };
}

/** Reserves `count` consecutive values of a named counter and returns the first; one atomic $inc. */
export async function reserve(db: MongoDatabase, name: string, count: number): Promise<number> {
  const counter = await db
    .collection<CounterDocument>(INTEGRITY_COLLECTIONS.counters)
    .findOneAndUpdate(
      { _id: { $eq: name } },
      { $inc: { value: count } },
      { upsert: true, returnDocument: 'after', includeResultMetadata: false },
    );
  if (counter === null) throw new Error(`counter ${name} was not returned`);
  return counter.value - count + 1;
}

/**
 * Opens the record of one cleanup. The deleted ids are recorded before the events go (MongoDB has no
 * transaction here to put both in), so a crash in between leaves a record of events still stored,
 * which verify never consults: only a missing event is looked up.
 */
export async function startMongoCleanup(
  db: MongoDatabase,
  options: { tenant: string; before: string | null; auditEventId: string | null; by: 'request' | 'policy'; now: Date },
): Promise<{
  remember(rows: readonly { id: string; hash: string | null; timestamp: string }[]): Promise<void>;
  finish(deleted: number): Promise<void>;
}> {
  const cleanups = db.collection<CleanupDocument>(INTEGRITY_COLLECTIONS.cleanups);
  const deleted = db.collection<DeletedDocument>(INTEGRITY_COLLECTIONS.deleted);
  await deleted.createIndexes(DELETED_INDEXES);
  const cleanupId = await reserve(db, 'cleanups', 1);
  await cleanups.insertOne({
    _id: cleanupId,
    tenant_id: options.tenant,
    deleted_at: options.now.toISOString(),
    before: options.before,
    deleted_count: 0,
    audit_event_id: options.auditEventId,
    ...(options.by === 'policy' ? { by: 'policy' as const } : {}),
  });
  return {
    remember: async (rows) => {
      for (const row of rows) {
        await deleted.findOneAndUpdate(
          { tenant_id: { $eq: options.tenant }, event_id: { $eq: row.id } },
          { $set: { tenant_id: options.tenant, event_id: row.id, cleanup_id: cleanupId, event_hash: row.hash, ts: row.timestamp } },
          { upsert: true, returnDocument: 'after', includeResultMetadata: false },
        );
      }
    },
    finish: async (count) => {
      await cleanups.updateOne({ _id: { $eq: cleanupId } }, { $set: { deleted_count: count } });
    },
  };
}
