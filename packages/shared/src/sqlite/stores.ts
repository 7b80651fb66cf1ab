import { join } from 'node:path';
import type { StoreSettings, Stores } from '../stores.js';
import { SqliteIdempotencyStore } from './idempotency-store.js';
import { SqliteIntegrityStore } from './integrity-store.js';
import { SqliteLogStore } from './log-store.js';
import { SqliteTenantStore } from './tenant-store.js';

export function sqlitePathOf(settings: Pick<StoreSettings, 'dataDir' | 'sqlitePath'>): string {
  return settings.sqlitePath ?? join(settings.dataDir, 'logserver.db');
}

/** Every port on one SQLite file. No shared feed: the process that stores an event announces it. */
export async function openSqliteStores(settings: StoreSettings): Promise<Stores> {
  const path = sqlitePathOf(settings);
  // The log store first: it creates the logs table that the integrity store reads.
  const logs = SqliteLogStore.open(path);
  return {
    logs,
    tenants: SqliteTenantStore.open(path),
    integrity: SqliteIntegrityStore.open(path),
    idempotency: SqliteIdempotencyStore.open(path),
    sharedFeed: null,
  };
}
