import { join } from 'node:path';
import type { OpenStoresOptions, StoreSettings, Stores } from '../stores.js';
import { SqliteIdempotencyStore } from './idempotency-store.js';
import { SqliteIntegrityStore } from './integrity-store.js';
import { SqliteLogFeed } from './log-feed.js';
import { SqliteLogStore } from './log-store.js';
import { SqliteRetentionStore } from './retention-store.js';
import { SqliteStreamLog } from './stream-log.js';
import { SqliteStreamStore } from './stream-store.js';
import { SqliteTenantStore } from './tenant-store.js';
import { ThreadedSqliteLogStore } from './threaded-log-store.js';

export function sqlitePathOf(settings: Pick<StoreSettings, 'dataDir' | 'sqlitePath'>): string {
  return settings.sqlitePath ?? join(settings.dataDir, 'logserver.db');
}

/**
 * Every port on one SQLite file. The feed reads `seq > last` from the file, so every process on it
 * streams every process's events; the process that stores an event tells its own feed at once.
 */
export async function openSqliteStores(settings: StoreSettings, options?: Pick<OpenStoresOptions, 'log'>): Promise<Stores> {
  const path = sqlitePathOf(settings);
  // The log store first: it creates the logs table that the integrity store reads.
  const opened = SqliteLogStore.open(path, { queryTimeoutMs: settings.sqliteQueryTimeoutMs });
  // Appends on a thread of their own, so the commit's fsync waits there, not on the event loop.
  const logs =
    settings.sqliteAppendThread === false
      ? opened
      : new ThreadedSqliteLogStore(opened, path, {
          onError: (err) =>
            options?.log.warn({ err, component: 'sqlite-writer' }, 'the SQLite writer thread stopped; the next append starts another'),
        });
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
