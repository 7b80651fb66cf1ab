import type { RetentionPolicy, RetentionRun, RetentionStore, StoredPolicy } from '../retention/port.js';
import type { TenantId } from '../store/tenant-id.js';
import type { MongoCollection, MongoDatabase } from './database.js';
import { dropLease, type LeaseDocument, takeLease } from './lease.js';

interface PolicyDocument {
  _id: string;
  policy: RetentionPolicy;
  last_run?: RetentionRun;
}

const LEASE_ID = 'retention';

/** RetentionStore on the MongoDB database the events are in: a document per tenant, and one lease document. */
export class MongoRetentionStore implements RetentionStore {
  private readonly policies: MongoCollection<PolicyDocument>;
  private readonly leases: MongoCollection<LeaseDocument>;

  constructor(db: MongoDatabase) {
    this.policies = db.collection<PolicyDocument>('retention_policies');
    this.leases = db.collection<LeaseDocument>('retention_leases');
  }

  async get(tenant: string): Promise<{ policy: RetentionPolicy; last_run: RetentionRun | null } | null> {
    const [document] = await this.policies.find({ _id: { $eq: tenant } }, { limit: 1 }).toArray();
    return document ? { policy: document.policy, last_run: document.last_run ?? null } : null;
  }

  async put(tenant: string, policy: RetentionPolicy): Promise<void> {
    await this.policies.findOneAndUpdate(
      { _id: { $eq: tenant } },
      { $set: { policy } },
      { upsert: true, returnDocument: 'after', includeResultMetadata: false },
    );
  }

  async list(after: string | null, limit: number): Promise<StoredPolicy[]> {
    const documents = await this.policies.find(after === null ? {} : { _id: { $gt: after } }, { sort: { _id: 1 }, limit }).toArray();
    // Keys stored by the routes, which took them from a verified identity or the platform admin's path.
    return documents.map((document) => ({ tenant: document._id as TenantId, policy: document.policy }));
  }

  async recordRun(tenant: string, run: RetentionRun): Promise<void> {
    await this.policies.updateOne({ _id: { $eq: tenant } }, { $set: { last_run: run } });
  }

  /** One lease for every replica's retention job (see takeLease). */
  acquireLease(holder: string, nowMs: number, ttlMs: number): Promise<boolean> {
    return takeLease(this.leases, LEASE_ID, holder, nowMs, ttlMs);
  }

  releaseLease(holder: string): Promise<void> {
    return dropLease(this.leases, LEASE_ID, holder);
  }

  async close(): Promise<void> {}
}
