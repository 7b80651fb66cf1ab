import { decideReservation, freshRecord } from '../idempotency/decide.js';
import type { IdempotencyRecord, IdempotencyStore, Reservation, ReserveRequest } from '../idempotency/port.js';
import type { TenantId } from '../store/tenant-id.js';
import { type MongoCollection, type MongoDatabase, pingWithin } from './database.js';

interface KeyDocument {
  tenant_id: string;
  key: string;
  fingerprint: string;
  seed: string;
  received_at: string;
  state: 'pending' | 'done';
  lease_until: number;
  /** A Date, so that the TTL index removes expired keys on its own. */
  expires_at: Date;
  owner: string;
}

const DUPLICATE_KEY = 11000;

const toRecord = (document: KeyDocument): IdempotencyRecord => ({
  fingerprint: document.fingerprint,
  seed: document.seed,
  receivedAt: document.received_at,
  state: document.state,
  leaseUntil: document.lease_until,
  expiresAt: document.expires_at.getTime(),
  owner: document.owner,
});

const toDocument = (tenant: string, key: string, record: IdempotencyRecord): KeyDocument => ({
  tenant_id: tenant,
  key,
  fingerprint: record.fingerprint,
  seed: record.seed,
  received_at: record.receivedAt,
  state: record.state,
  lease_until: record.leaseUntil,
  expires_at: new Date(record.expiresAt),
  owner: record.owner,
});

/**
 * IdempotencyStore on MongoDB. The unique (tenant_id, key) index decides which of two racing
 * replicas takes a key; every later change is a findOneAndUpdate conditioned on what was read,
 * so a replica that read a stale record changes nothing and looks again.
 */
export class MongoIdempotencyStore implements IdempotencyStore {
  private readonly keys: MongoCollection<KeyDocument>;

  private constructor(
    private readonly db: MongoDatabase,
    private readonly options: { pingTimeoutMs: number },
  ) {
    this.keys = db.collection<KeyDocument>('idempotency_keys');
  }

  static async open(db: MongoDatabase, options: { pingTimeoutMs: number } = { pingTimeoutMs: 2_000 }): Promise<MongoIdempotencyStore> {
    const store = new MongoIdempotencyStore(db, options);
    await store.keys.createIndexes([
      { name: 'tenant_key_unique', key: { tenant_id: 1, key: 1 }, unique: true },
      { name: 'tenant_expiry', key: { tenant_id: 1, expires_at: 1 } },
      // The server also removes expired keys by itself (within a minute of expiry); trim does it exactly.
      { name: 'expiry_ttl', key: { expires_at: 1 }, expireAfterSeconds: 0 },
    ]);
    return store;
  }

  async reserve(tenant: TenantId, key: string, request: ReserveRequest): Promise<Reservation> {
    // A few rounds at most: each lost race means another attempt changed the record just now.
    for (let round = 0; round < 5; round++) {
      const found = await this.keys.find({ tenant_id: { $eq: tenant }, key: { $eq: key } }, { limit: 1 }).toArray();
      const existing = found[0] ? toRecord(found[0]) : null;
      const decision = decideReservation(existing, request);
      if (decision === 'replay') return { outcome: 'replay', record: existing as IdempotencyRecord };
      if (decision === 'mismatch' || decision === 'in-flight') return { outcome: decision };
      if (decision === 'take') {
        const record = freshRecord(request);
        if (existing === null) {
          try {
            await this.keys.insertOne(toDocument(tenant, key, record));
            return { outcome: 'new', record };
          } catch (error) {
            if ((error as { code?: number }).code === DUPLICATE_KEY) continue;
            throw error;
          }
        }
        const replaced = await this.keys.findOneAndUpdate(
          { tenant_id: { $eq: tenant }, key: { $eq: key }, owner: { $eq: existing.owner }, expires_at: { $lte: new Date(request.now) } },
          { $set: toDocument(tenant, key, record) },
          { returnDocument: 'after', includeResultMetadata: false },
        );
        if (replaced) return { outcome: 'new', record };
        continue;
      }
      const resumed = { ...(existing as IdempotencyRecord), leaseUntil: request.now + request.leaseMs, owner: request.owner };
      const taken = await this.keys.findOneAndUpdate(
        {
          tenant_id: { $eq: tenant },
          key: { $eq: key },
          owner: { $eq: (existing as IdempotencyRecord).owner },
          state: { $eq: 'pending' },
          lease_until: { $lte: request.now },
        },
        { $set: { lease_until: resumed.leaseUntil, owner: resumed.owner } },
        { returnDocument: 'after', includeResultMetadata: false },
      );
      if (taken) return { outcome: 'resumed', record: resumed };
    }
    return { outcome: 'in-flight' };
  }

  async complete(tenant: TenantId, key: string, owner: string): Promise<void> {
    await this.keys.updateOne({ tenant_id: { $eq: tenant }, key: { $eq: key }, owner: { $eq: owner } }, { $set: { state: 'done' } });
  }

  async release(tenant: TenantId, key: string, owner: string): Promise<void> {
    await this.keys.updateOne(
      { tenant_id: { $eq: tenant }, key: { $eq: key }, owner: { $eq: owner }, state: { $eq: 'pending' } },
      { $set: { lease_until: 0 } },
    );
  }

  async trim(tenant: TenantId, maxKeys: number, now: number): Promise<number> {
    const expired = await this.keys.deleteMany({ tenant_id: { $eq: tenant }, expires_at: { $lte: new Date(now) } });
    const cut = await this.keys
      .find({ tenant_id: { $eq: tenant } }, { sort: { expires_at: -1 }, skip: maxKeys, limit: 1, projection: { expires_at: 1 } })
      .toArray();
    if (!cut[0]) return expired.deletedCount;
    const evicted = await this.keys.deleteMany({ tenant_id: { $eq: tenant }, expires_at: { $lte: cut[0].expires_at } });
    return expired.deletedCount + evicted.deletedCount;
  }

  async count(tenant: TenantId, now: number): Promise<number> {
    return this.keys.countDocuments({ tenant_id: { $eq: tenant }, expires_at: { $gt: new Date(now) } });
  }

  async ping(): Promise<void> {
    await pingWithin(this.db, this.options.pingTimeoutMs);
  }

  async close(): Promise<void> {}
}
