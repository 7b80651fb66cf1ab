import type { LogEvent } from '../schemas/log-event.js';
import type { TenantId } from '../store/tenant-id.js';
import type { DestinationKind, DestinationRecord } from '../streams/destination.js';
import {
  type DeadLetter,
  type DeadLetterSummary,
  type DestinationPatch,
  type DestinationProgress,
  initialProgress,
  type StreamStore,
} from '../streams/port.js';
import type { MongoCollection, MongoDatabase } from './database.js';
import { isDuplicateKey, type LeaseDocument, takeLease } from './lease.js';

interface DestinationDocument {
  _id: string;
  tenant_id: string;
  name: string;
  kind: string;
  enabled: boolean;
  settings: Record<string, unknown>;
  filter: Record<string, string>;
  secret: string;
  created_at: string;
  updated_at: string;
  progress: DestinationProgress;
  /** Dead letters now (the cap is checked on it atomically), and the last letter number handed out. */
  dlq_count: number;
  dlq_seq: number;
}

interface TenantCountDocument {
  _id: string;
  count: number;
}

interface LetterDocument {
  _id: string;
  destination_id: string;
  seq: number;
  first_position: number;
  last_position: number;
  events: LogEvent[];
  event_count: number;
  error: string;
  failed_at: string;
  attempts: number;
  replay: boolean;
}

const toRecord = (document: DestinationDocument): DestinationRecord => ({
  id: document._id,
  tenant: document.tenant_id as TenantId,
  name: document.name,
  kind: document.kind as DestinationKind,
  enabled: document.enabled,
  settings: document.settings,
  filter: document.filter,
  secret: document.secret,
  createdAt: document.created_at,
  updatedAt: document.updated_at,
});

const toSummary = (document: LetterDocument): DeadLetterSummary => ({
  id: document.seq,
  destinationId: document.destination_id,
  firstPosition: document.first_position,
  lastPosition: document.last_position,
  eventCount: document.event_count,
  error: document.error,
  failedAt: document.failed_at,
  attempts: document.attempts,
  replayRequested: document.replay,
});

const LETTER_SUMMARY = { events: 0 };
/** Dead letters read at once while pruning: each holds at most STREAM_BATCH_MAX_BYTES of events. */
const PRUNE_PAGE = 10;

/**
 * StreamStore on MongoDB. Without multi-document transactions, each bound is one atomic update
 * on a counter: a tenant's destination count (a per-tenant document whose upsert the _id index
 * refuses once it is at the bound) and a destination's dead-letter count (matched only below the cap).
 */
export class MongoStreamStore implements StreamStore {
  private readonly destinations: MongoCollection<DestinationDocument>;
  private readonly tenants: MongoCollection<TenantCountDocument>;
  private readonly letters: MongoCollection<LetterDocument>;
  private readonly leases: MongoCollection<LeaseDocument>;

  private constructor(db: MongoDatabase) {
    this.destinations = db.collection<DestinationDocument>('stream_destinations');
    this.tenants = db.collection<TenantCountDocument>('stream_tenants');
    this.letters = db.collection<LetterDocument>('stream_dead_letters');
    this.leases = db.collection<LeaseDocument>('stream_leases');
  }

  static async open(db: MongoDatabase): Promise<MongoStreamStore> {
    const store = new MongoStreamStore(db);
    await store.destinations.createIndexes([
      { name: 'tenant_created', key: { tenant_id: 1, created_at: 1 } },
      { name: 'enabled_created', key: { enabled: 1, created_at: 1 } },
    ]);
    await store.letters.createIndexes([{ name: 'destination_seq', key: { destination_id: 1, seq: 1 } }]);
    return store;
  }

  async create(tenant: TenantId, destination: DestinationRecord, startPosition: number, maxPerTenant: number): Promise<boolean> {
    try {
      await this.tenants.findOneAndUpdate(
        { _id: { $eq: tenant }, count: { $lt: maxPerTenant } },
        { $inc: { count: 1 } },
        { upsert: true, returnDocument: 'after', includeResultMetadata: false },
      );
    } catch (error) {
      if (isDuplicateKey(error)) return false;
      throw error;
    }
    await this.destinations.insertOne({
      _id: destination.id,
      tenant_id: tenant,
      name: destination.name,
      kind: destination.kind,
      enabled: destination.enabled,
      settings: destination.settings,
      filter: destination.filter,
      secret: destination.secret,
      created_at: destination.createdAt,
      updated_at: destination.updatedAt,
      progress: initialProgress(startPosition),
      dlq_count: 0,
      dlq_seq: 0,
    });
    return true;
  }

  async list(tenant: TenantId): Promise<DestinationRecord[]> {
    const documents = await this.destinations.find({ tenant_id: { $eq: tenant } }, { sort: { created_at: 1, _id: 1 } }).toArray();
    return documents.map(toRecord);
  }

  async get(tenant: TenantId, id: string): Promise<DestinationRecord | null> {
    const [document] = await this.destinations.find({ _id: { $eq: id }, tenant_id: { $eq: tenant } }, { limit: 1 }).toArray();
    return document ? toRecord(document) : null;
  }

  async update(tenant: TenantId, id: string, patch: DestinationPatch): Promise<DestinationRecord | null> {
    const set: Partial<DestinationDocument> = { updated_at: patch.updatedAt };
    if (patch.name !== undefined) set.name = patch.name;
    if (patch.enabled !== undefined) set.enabled = patch.enabled;
    if (patch.settings !== undefined) set.settings = patch.settings;
    if (patch.filter !== undefined) set.filter = patch.filter;
    if (patch.secret !== undefined) set.secret = patch.secret;
    const updated = await this.destinations.findOneAndUpdate(
      { _id: { $eq: id }, tenant_id: { $eq: tenant } },
      { $set: set },
      { returnDocument: 'after', includeResultMetadata: false },
    );
    return updated ? toRecord(updated) : null;
  }

  async remove(tenant: TenantId, id: string): Promise<boolean> {
    const { deletedCount } = await this.destinations.deleteMany({ _id: { $eq: id }, tenant_id: { $eq: tenant } });
    if (deletedCount === 0) return false;
    await this.tenants.updateOne({ _id: { $eq: tenant } }, { $inc: { count: -1 } });
    await this.letters.deleteMany({ destination_id: { $eq: id } });
    await this.leases.deleteMany({ _id: { $eq: id } });
    return true;
  }

  async allDestinations(afterId: string | null, limit: number): Promise<DestinationRecord[]> {
    const filter = afterId === null ? {} : { _id: { $gt: afterId } };
    const documents = await this.destinations.find(filter, { sort: { _id: 1 }, limit }).toArray();
    return documents.map(toRecord);
  }

  async replaceSecret(destinationId: string, from: string, to: string): Promise<boolean> {
    const { modifiedCount } = await this.destinations.updateOne(
      { _id: { $eq: destinationId }, secret: { $eq: from } },
      { $set: { secret: to } },
    );
    return modifiedCount === 1;
  }

  async enabledDestinations(limit: number): Promise<DestinationRecord[]> {
    const documents = await this.destinations.find({ enabled: { $eq: true } }, { sort: { created_at: 1, _id: 1 }, limit }).toArray();
    return documents.map(toRecord);
  }

  async progress(destinationId: string): Promise<DestinationProgress | null> {
    const [document] = await this.destinations.find({ _id: { $eq: destinationId } }, { limit: 1, projection: { progress: 1 } }).toArray();
    return document?.progress ?? null;
  }

  async saveProgress(destinationId: string, progress: DestinationProgress): Promise<void> {
    await this.destinations.updateOne(
      { _id: { $eq: destinationId }, 'progress.position': { $lte: progress.position } },
      { $set: { progress: { ...progress } } },
    );
  }

  async addDeadLetter(destinationId: string, letter: Omit<DeadLetter, 'id' | 'destinationId'>, max: number): Promise<boolean> {
    const counted = await this.destinations.findOneAndUpdate(
      { _id: { $eq: destinationId }, dlq_count: { $lt: max } },
      { $inc: { dlq_count: 1, dlq_seq: 1 } },
      { returnDocument: 'after', includeResultMetadata: false },
    );
    if (counted === null) return false;
    await this.letters.insertOne({
      _id: `${destinationId}:${counted.dlq_seq}`,
      destination_id: destinationId,
      seq: counted.dlq_seq,
      first_position: letter.firstPosition,
      last_position: letter.lastPosition,
      events: [...letter.events],
      event_count: letter.events.length,
      error: letter.error,
      failed_at: letter.failedAt,
      attempts: letter.attempts,
      replay: letter.replayRequested,
    });
    return true;
  }

  async deadLetterCount(destinationId: string): Promise<number> {
    return this.letters.countDocuments({ destination_id: { $eq: destinationId } });
  }

  async deadLetters(tenant: TenantId, destinationId: string, limit: number): Promise<DeadLetterSummary[] | null> {
    if ((await this.get(tenant, destinationId)) === null) return null;
    const documents = await this.letters
      .find({ destination_id: { $eq: destinationId } }, { sort: { seq: 1 }, limit, projection: LETTER_SUMMARY })
      .toArray();
    return documents.map(toSummary);
  }

  async requestReplay(tenant: TenantId, destinationId: string, ids?: readonly number[]): Promise<number | null> {
    if ((await this.get(tenant, destinationId)) === null) return null;
    const chosen = await this.letters
      .find(
        { destination_id: { $eq: destinationId }, ...(ids === undefined ? {} : { seq: { $in: [...ids] } }) },
        { projection: { _id: 1 } },
      )
      .toArray();
    for (const { _id } of chosen) await this.letters.updateOne({ _id: { $eq: _id } }, { $set: { replay: true } });
    return chosen.length;
  }

  async replayable(destinationId: string, limit: number): Promise<DeadLetter[]> {
    const documents = await this.letters
      .find({ destination_id: { $eq: destinationId }, replay: { $eq: true } }, { sort: { seq: 1 }, limit })
      .toArray();
    return documents.map((document) => {
      const { eventCount: _count, ...summary } = toSummary(document);
      return { ...summary, events: document.events };
    });
  }

  async removeDeadLetter(destinationId: string, letterId: number): Promise<void> {
    const { deletedCount } = await this.letters.deleteMany({ _id: { $eq: `${destinationId}:${letterId}` } });
    if (deletedCount > 0) await this.destinations.updateOne({ _id: { $eq: destinationId } }, { $inc: { dlq_count: -1 } });
  }

  async replayFailed(destinationId: string, letterId: number, error: string, failedAt: string): Promise<void> {
    await this.letters.updateOne(
      { _id: { $eq: `${destinationId}:${letterId}` } },
      { $set: { replay: false, error, failed_at: failedAt }, $inc: { attempts: 1 } },
    );
  }

  async pruneDeadLetters(tenant: TenantId, expired: (event: LogEvent) => boolean): Promise<number> {
    const destinations = await this.destinations.find({ tenant_id: { $eq: tenant } }, { projection: { _id: 1 } }).toArray();
    let dropped = 0;
    for (const { _id: destinationId } of destinations) {
      for (let after = 0; ; ) {
        const letters = await this.letters
          .find({ destination_id: { $eq: destinationId }, seq: { $gt: after } }, { sort: { seq: 1 }, limit: PRUNE_PAGE })
          .toArray();
        for (const letter of letters) {
          const kept = letter.events.filter((event) => !expired(event));
          if (kept.length === letter.events.length) continue;
          dropped += letter.events.length - kept.length;
          if (kept.length > 0) {
            await this.letters.updateOne({ _id: { $eq: letter._id } }, { $set: { events: kept, event_count: kept.length } });
            continue;
          }
          const { deletedCount } = await this.letters.deleteMany({ _id: { $eq: letter._id } });
          if (deletedCount > 0) await this.destinations.updateOne({ _id: { $eq: destinationId } }, { $inc: { dlq_count: -1 } });
        }
        const last = letters.at(-1);
        if (letters.length < PRUNE_PAGE || last === undefined) break;
        after = last.seq;
      }
    }
    return dropped;
  }

  acquireLease(destinationId: string, holder: string, ttlMs: number): Promise<boolean> {
    return takeLease(this.leases, destinationId, holder, Date.now(), ttlMs);
  }

  async releaseLease(destinationId: string, holder: string): Promise<void> {
    await this.leases.deleteMany({ _id: { $eq: destinationId }, holder: { $eq: holder } });
  }

  /** The database belongs to the stores. */
  async close(): Promise<void> {}
}
