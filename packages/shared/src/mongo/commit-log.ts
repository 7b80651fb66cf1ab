import type { CleanupEntry, CommitLog, PositionedEvent } from '../analytics/port.js';
import type { CommitPosition } from '../integrity/port.js';
import type { TenantId } from '../store/tenant-id.js';
import type { MongoCollection, MongoDatabase } from './database.js';
import { type CleanupDocument, type DeletedDocument, INTEGRITY_COLLECTIONS } from './integrity-collections.js';
import type { MongoIntegrityStore } from './integrity-store.js';
import { LOGS_COLLECTION, type LogDocument, documentToEvent as toLogEvent } from './logs-collection.js';

type PositionedLog = LogDocument & { position?: number };

const ABANDONED_CLEANUP_MS = 3_600_000;

/**
 * The commit order of the MongoDB database for the analytics sink: the position the integrity store
 * gives each log document once it sees it committed (so an insert that commits late is placed late,
 * never below what the sink already copied), and the cleanup records it keeps.
 */
export class MongoCommitLog implements CommitLog {
  private readonly logs: MongoCollection<PositionedLog>;
  private readonly cleanups: MongoCollection<CleanupDocument>;
  private readonly deleted: MongoCollection<DeletedDocument>;

  private constructor(
    db: MongoDatabase,
    private readonly integrity: MongoIntegrityStore,
    private readonly now: () => Date,
  ) {
    this.logs = db.collection<PositionedLog>(LOGS_COLLECTION);
    this.cleanups = db.collection<CleanupDocument>(INTEGRITY_COLLECTIONS.cleanups);
    this.deleted = db.collection<DeletedDocument>(INTEGRITY_COLLECTIONS.deleted);
  }

  static async open(db: MongoDatabase, integrity: MongoIntegrityStore, now: () => Date = () => new Date()): Promise<MongoCommitLog> {
    const log = new MongoCommitLog(db, integrity, now);
    await log.deleted.createIndexes([{ name: 'cleanup_event', key: { cleanup_id: 1, event_id: 1 } }]);
    return log;
  }

  async committedAfter(after: CommitPosition | null, limit: number): Promise<PositionedEvent[]> {
    await this.integrity.placeCommitted();
    const documents = await this.logs
      .find({ position: { $gt: after === null ? Number.MIN_SAFE_INTEGER : Number(after) } }, { sort: { position: 1 }, limit })
      .toArray();
    return documents.map((document) => ({ position: String(document.position), event: toLogEvent(document) }));
  }

  async head(): Promise<CommitPosition | null> {
    const [last] = await this.logs
      .find({ position: { $exists: true } }, { sort: { position: -1 }, limit: 1, projection: { position: 1 } })
      .toArray();
    return last?.position === undefined ? null : String(last.position);
  }

  async cleanupsAfter(afterId: number, limit: number): Promise<CleanupEntry[]> {
    const documents = await this.cleanups.find({ _id: { $gt: afterId } }, { sort: { _id: 1 }, limit }).toArray();
    return documents.map((document) => ({
      cleanupId: document._id,
      tenant: document.tenant_id as TenantId,
      deletedAt: document.deleted_at,
      finished: document.deleted_count > 0 || this.now().getTime() - Date.parse(document.deleted_at) > ABANDONED_CLEANUP_MS,
    }));
  }

  async deletedIds(cleanupId: number, afterId: string, limit: number): Promise<string[]> {
    const documents = await this.deleted
      .find({ cleanup_id: { $eq: cleanupId }, event_id: { $gt: afterId } }, { sort: { event_id: 1 }, limit, projection: { event_id: 1 } })
      .toArray();
    return documents.map((document) => document.event_id);
  }

  /** The database belongs to the stores; nothing of its own to close. */
  async close(): Promise<void> {}
}
