import { join } from 'node:path';
import type { StoreSettings, Stores } from '../stores.js';
import { SqliteIdempotencyStore } from './idempotency-store.js';
import { SqliteIntegrityStore } from './integrity-store.js';
import { SqliteLogFeed } from './log-feed.js';
import { SqliteLogStore } from './log-store.js';
import { SqliteRetentionStore } from './retention-store.js';
import { SqliteStreamLog } from './stream-log.js';
import { SqliteStreamStore } from './stream-store.js';
import { SqliteTenantStore } from './tenant-store.js';

export function sqlitePathOf(settings: Pick<StoreSettings, 'dataDir' | 'sqlitePath'>): string {
  return settings.sqlitePath ?? join(settings.dataDir, 'logserver.db');
}

/**
 * Every port on one SQLite file. The feed reads `seq > last` from the file, so every process on it
 * streams every process's events; the process that stores an event tells its own feed at once.
 */
export async function openSqliteStores(settings: StoreSettings): Promise<Stores> {
  const path = sqlitePathOf(settings);
  // The log store first: it creates the logs table that the integrity store reads.
  const logs = SqliteLogStore.open(path, { queryTimeoutMs: settings.sqliteQueryTimeoutMs });
  let feed: SqliteLogFeed | null = null;
  return {
    logs,
    tenants: SqliteTenantStore.open(path),
    integrity: SqliteIntegrityStore.open(path),
    idempotency: SqliteIdempotencyStore.open(path),
    streams: SqliteStreamStore.open(path),
    retention: SqliteRetentionStore.open(path),
    streamLog: new SqliteStreamLog(path),
    feed: (options = {}) => {
      feed ??= new SqliteLogFeed(path, options);
      return feed;
    },
  };
}
