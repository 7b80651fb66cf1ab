import { join } from 'node:path';
import { Unavailable } from '../errors/catalogue.js';
import type { TenantStore } from '../tenant-store/port.js';
import { SqliteTenantStore } from '../tenant-store/sqlite-tenant-store.js';
import type { LogStore } from './port.js';
import { SqliteLogStore } from './sqlite-log-store.js';

export interface StoreSettings {
  store: 'sqlite' | 'mongodb';
  dataDir: string;
  sqlitePath?: string | undefined;
  mongodbUri?: string | undefined;
  mongodbDb: string;
}

export interface Stores {
  logs: LogStore;
  tenants: TenantStore;
}

export function sqlitePathOf(settings: Pick<StoreSettings, 'dataDir' | 'sqlitePath'>): string {
  return settings.sqlitePath ?? join(settings.dataDir, 'logserver.db');
}

/** Builds the configured store adapters; main.ts files call this and close them on shutdown. */
export async function openStores(settings: StoreSettings): Promise<Stores> {
  if (settings.store === 'mongodb') {
    throw new Unavailable('the MongoDB store is not built into this version; set STORE=sqlite');
  }
  const path = sqlitePathOf(settings);
  return { logs: SqliteLogStore.open(path), tenants: SqliteTenantStore.open(path) };
}
