import { join } from 'node:path';
import { Unavailable } from '../errors/catalogue.js';
import type { IntegrityStore } from '../integrity/port.js';
import { SqliteIntegrityStore } from '../integrity/sqlite-integrity-store.js';
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
  /** Digests, leases and cleanup records beside the events; undefined where the store has none yet. */
  integrity?: IntegrityStore | undefined;
}

export function sqlitePathOf(settings: Pick<StoreSettings, 'dataDir' | 'sqlitePath'>): string {
  return settings.sqlitePath ?? join(settings.dataDir, 'logserver.db');
}

/** The store settings from a service's parsed environment (DESIGN §6: STORE follows MONGODB_URI). */
export function storeSettings(config: {
  STORE?: 'sqlite' | 'mongodb' | undefined;
  DATA_DIR: string;
  SQLITE_PATH?: string | undefined;
  MONGODB_URI?: string | undefined;
  MONGODB_DB: string;
}): StoreSettings {
  return {
    store: config.STORE ?? (config.MONGODB_URI ? 'mongodb' : 'sqlite'),
    dataDir: config.DATA_DIR,
    sqlitePath: config.SQLITE_PATH,
    mongodbUri: config.MONGODB_URI,
    mongodbDb: config.MONGODB_DB,
  };
}

/** Builds the configured store adapters; main.ts files call this and close them on shutdown. */
export async function openStores(settings: StoreSettings): Promise<Stores> {
  if (settings.store === 'mongodb') {
    throw new Unavailable('the MongoDB store is not built into this version; set STORE=sqlite');
  }
  const path = sqlitePathOf(settings);
  // The log store first: it creates the logs table that the integrity store reads.
  const logs = SqliteLogStore.open(path);
  return { logs, tenants: SqliteTenantStore.open(path), integrity: SqliteIntegrityStore.open(path) };
}
