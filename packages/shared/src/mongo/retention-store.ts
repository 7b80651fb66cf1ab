import type { RetentionPolicy, RetentionRun, RetentionStore, StoredPolicy } from '../retention/port.js';
import type { TenantId } from '../store/tenant-id.js';
import type { MongoCollection, MongoDatabase } from './database.js';

interface PolicyDocument {
  _id: string;
  policy: RetentionPolicy;
  last_run?: RetentionRun;
}

interface LeaseDocument {
  _id: string;
  holder: string;
  expires_at: number;
}

const LEASE_ID = 'retention';
const DUPLICATE_KEY = 11000;

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

  /**
   * One atomic findOneAndUpdate: it matches the lease only when it is ours or ran out, and otherwise
   * upserts, which the _id index refuses while another holder's unexpired lease exists.
   */
  async acquireLease(holder: string, nowMs: number, ttlMs: number): Promise<boolean> {
    try {
      await this.leases.findOneAndUpdate(
        { _id: { $eq: LEASE_ID }, $or: [{ holder: { $eq: holder } }, { expires_at: { $lte: nowMs } }] },
        { $set: { holder, expires_at: nowMs + ttlMs } },
        { upsert: true, returnDocument: 'after', includeResultMetadata: false },
      );
      return true;
    } catch (error) {
      if (typeof error === 'object' && error !== null && (error as { code?: unknown }).code === DUPLICATE_KEY) return false;
      throw error;
    }
  }

  async releaseLease(holder: string): Promise<void> {
    await this.leases.updateOne({ _id: { $eq: LEASE_ID }, holder: { $eq: holder } }, { $set: { expires_at: 0 } });
  }

  async close(): Promise<void> {}
}
