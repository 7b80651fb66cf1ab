import { TenantExists } from '../errors/catalogue.js';
import type { Tenant } from '../schemas/tenant.js';
import type { TenantStore } from '../tenant-store/port.js';
import { type MongoCollection, type MongoDatabase, pingWithin } from './database.js';

interface TenantDocument {
  key: string;
  name: string;
  created_at: Date;
}

const DUPLICATE_KEY = 11000;
const PROJECTION = { _id: 0 };

const toTenant = (document: TenantDocument): Tenant => ({
  key: document.key,
  name: document.name,
  created_at: document.created_at.toISOString(),
});

export interface MongoTenantStoreOptions {
  pingTimeoutMs: number;
  release?: () => Promise<void>;
}

/** TenantStore on MongoDB; a unique index on key makes a second create fail inside the database. */
export class MongoTenantStore implements TenantStore {
  private readonly tenants: MongoCollection<TenantDocument>;

  private constructor(
    private readonly db: MongoDatabase,
    private readonly options: MongoTenantStoreOptions,
  ) {
    this.tenants = db.collection<TenantDocument>('tenants');
  }

  static async open(db: MongoDatabase, options: MongoTenantStoreOptions): Promise<MongoTenantStore> {
    const store = new MongoTenantStore(db, options);
    await store.tenants.createIndexes([
      { name: 'key_unique', key: { key: 1 }, unique: true },
      { name: 'created_at', key: { created_at: 1, key: 1 } },
    ]);
    return store;
  }

  async create(input: { key: string; name: string }): Promise<Tenant> {
    const document: TenantDocument = { key: input.key, name: input.name, created_at: new Date() };
    try {
      await this.tenants.insertMany([{ ...document }], { ordered: false });
    } catch (error) {
      const writeErrors = (error as { writeErrors?: { code: number }[] | { code: number } }).writeErrors;
      const first = Array.isArray(writeErrors) ? writeErrors[0] : writeErrors;
      if (first?.code === DUPLICATE_KEY) throw new TenantExists(input.key);
      throw error;
    }
    return toTenant(document);
  }

  async list(): Promise<Tenant[]> {
    const documents = await this.tenants.find({}, { projection: PROJECTION, sort: { created_at: 1, key: 1 } }).toArray();
    return documents.map(toTenant);
  }

  async get(key: string): Promise<Tenant | null> {
    const [document] = await this.tenants.find({ key: { $eq: key } }, { projection: PROJECTION, limit: 1 }).toArray();
    return document ? toTenant(document) : null;
  }

  async ping(): Promise<void> {
    await pingWithin(this.db, this.options.pingTimeoutMs);
  }

  async close(): Promise<void> {
    await this.options.release?.();
  }
}
