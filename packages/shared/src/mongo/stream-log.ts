import type { CommittedEvent, StreamLog } from '../feed/port.js';
import type { LogFilter } from '../store/port.js';
import type { TenantId } from '../store/tenant-id.js';
import type { MongoCollection, MongoDatabase } from './database.js';
import type { MongoIntegrityStore } from './integrity-store.js';
import { buildLogFilter } from './log-store.js';
import { documentToEvent, LOGS_COLLECTION, type LogDocument } from './logs-collection.js';

type PositionedLog = LogDocument & { position?: number };

/**
 * The commit log on MongoDB: the `position` the integrity store gives each document when it first
 * sees it committed (one process at a time, under a lease). MongoDB has no commit-ordered number of
 * its own, and a number reserved before an insert can commit after a higher one; a position given
 * on first sight never falls below one already read, so `position > cursor` misses nothing. The
 * change stream's resume token is commit-ordered too, but it is not stored with the document, so
 * the store could not replay from it after the oplog moved on; the position can be replayed from
 * the logs collection for as long as the event is retained, with the (tenant_id, position) index.
 */
export class MongoStreamLog implements StreamLog {
  private readonly logs: MongoCollection<PositionedLog>;

  constructor(
    db: MongoDatabase,
    private readonly positions: Pick<MongoIntegrityStore, 'assignPositions'>,
  ) {
    this.logs = db.collection<PositionedLog>(LOGS_COLLECTION);
  }

  async after(tenant: TenantId, position: number, filter: LogFilter, limit: number): Promise<CommittedEvent[]> {
    await this.positions.assignPositions();
    const documents = await this.logs
      .find(
        { $and: [buildLogFilter(tenant, filter), { position: { $gt: position } }] },
        { projection: { _id: 0, search_text: 0 }, sort: { position: 1 }, limit },
      )
      .toArray();
    return documents.map(({ position: at, ...document }) => ({ event: documentToEvent(document), position: at as number }));
  }

  async head(): Promise<number> {
    await this.positions.assignPositions();
    const [last] = await this.logs
      .find({ position: { $exists: true } }, { projection: { _id: 0, position: 1 }, sort: { position: -1 }, limit: 1 })
      .toArray();
    return last?.position ?? 0;
  }

  async holds(tenant: TenantId, id: string): Promise<boolean> {
    const found = await this.logs
      .find({ tenant_id: { $eq: tenant }, id: { $eq: id } }, { projection: { _id: 0, id: 1 }, limit: 1 })
      .toArray();
    return found.length > 0;
  }

  async close(): Promise<void> {}
}
