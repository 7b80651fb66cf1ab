import type Database from 'better-sqlite3';
import { TenantExists } from '../errors/catalogue.js';
import type { Tenant } from '../schemas/tenant.js';
import type { TenantStore } from '../tenant-store/port.js';
import { openSqlite } from './database.js';

/** TenantStore on SQLite; the key is the primary key, so a second create fails inside the database. */
export class SqliteTenantStore implements TenantStore {
  private constructor(private readonly db: Database.Database) {
    db.exec('CREATE TABLE IF NOT EXISTS tenants (key TEXT PRIMARY KEY, name TEXT NOT NULL, created_at TEXT NOT NULL)');
  }

  static open(path: string): SqliteTenantStore {
    return new SqliteTenantStore(openSqlite(path));
  }

  async create(input: { key: string; name: string }): Promise<Tenant> {
    const tenant: Tenant = { key: input.key, name: input.name, created_at: new Date().toISOString() };
    const result = this.db
      .prepare('INSERT INTO tenants (key, name, created_at) VALUES (?, ?, ?) ON CONFLICT (key) DO NOTHING')
      .run(tenant.key, tenant.name, tenant.created_at);
    if (result.changes === 0) throw new TenantExists(input.key);
    return tenant;
  }

  async list(): Promise<Tenant[]> {
    return this.db.prepare('SELECT key, name, created_at FROM tenants ORDER BY created_at, key').all() as Tenant[];
  }

  async get(key: string): Promise<Tenant | null> {
    return (this.db.prepare('SELECT key, name, created_at FROM tenants WHERE key = ?').get(key) as Tenant | undefined) ?? null;
  }

  async ping(): Promise<void> {
    this.db.prepare('SELECT 1').get();
  }

  async close(): Promise<void> {
    if (this.db.open) this.db.close();
  }
}
