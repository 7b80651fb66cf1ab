import { type Logger, pino } from 'pino';
import type { LocalLogFeed, StreamLog } from './feed/port.js';
import type { IdempotencyStore } from './idempotency/port.js';
import type { IntegrityStore } from './integrity/port.js';
import type { MongoDatabase } from './mongo/database.js';
import type { MongoIntegrityStore } from './mongo/integrity-store.js';
import { openMongoStores } from './mongo/stores.js';
import type { RetentionStore } from './retention/port.js';
import { openSqliteStores } from './sqlite/stores.js';
import type { LogStore } from './store/port.js';
import type { StreamStore } from './streams/port.js';
import type { TenantStore } from './tenant-store/port.js';
export interface MongoTuning {
  maxPoolSize: number;
  minPoolSize: number;
  connectTimeoutMs: number;
  serverSelectionTimeoutMs: number;
  socketTimeoutMs: number;
  queryTimeoutMs: number;
  pingTimeoutMs: number;
  feedPollMs: number;
  feedLookbackMs: number;
}

export interface StoreSettings {
  store: 'sqlite' | 'mongodb';
  dataDir: string;
  sqlitePath?: string | undefined;
  /** Longest a scanning SQLite query (search, user_agent) may run; the adapter's default when absent. */
  sqliteQueryTimeoutMs?: number | undefined;
  /** SQLITE_APPEND_THREAD: appends on a writer thread of their own (ThreadedSqliteLogStore); true when absent. */
  sqliteAppendThread?: boolean | undefined;
  mongodbUri?: string | undefined;
  mongodbDb: string;
  /** Pool, timeouts and feed settings; storeConfig's defaults when absent. */
  mongo?: MongoTuning | undefined;
}

export interface Stores {
  /** The MongoDB database the stores share (absent on SQLite), for modules that follow its commit order. */
  mongo?: { db: MongoDatabase; integrity: MongoIntegrityStore } | undefined;
  logs: LogStore;
  tenants: TenantStore;
  /** Digests, leases and cleanup records beside the events (SQLite and MongoDB); optional for stores without them. */
  integrity?: IntegrityStore | undefined;
  /** The tenant's events in commit order: what a resumed stream or export replays. */
  streamLog: StreamLog;
  /** Idempotency-Keys of ingest requests, beside the events. */
  idempotency: IdempotencyStore;
  /** Log-stream destinations, their progress, dead letters and delivery leases (docs/streams.md). */
  streams: StreamStore;
  /** Tenants' retention policies and the retention job's lease, beside the events. */
  retention: RetentionStore;
  /**
   * Makes the stream's feed (once; later calls return the same one): it hears of events stored by
   * any process on the same store, in commit order with their positions, and is told at once of
   * events this process stores. Only processes that stream call it; the feed plugin starts and closes it.
   */
  feed(options?: { onError?: (error: unknown) => void }): LocalLogFeed;
}

export interface OpenStoresOptions {
  log: Pick<Logger, 'info' | 'warn'>;
  /** An already connected database to use instead of connecting to MONGODB_URI; its owner closes it. */
  mongoDatabase?: MongoDatabase | undefined;
}

/**
 * The module table (as Loki's): which technology serves the ports, and the one function that opens
 * its adapters. A new storage technology is a folder beside sqlite/ and mongo/ with an adapter per
 * port and a `stores.ts`, and one line here (docs/architecture.md).
 */
export const STORE_MODULES: Record<StoreSettings['store'], (settings: StoreSettings, options: OpenStoresOptions) => Promise<Stores>> = {
  sqlite: openSqliteStores,
  mongodb: openMongoStores,
};

/** Opens the configured technology's adapters; the stores plugin (http/stores-plugin.ts) closes them. */
export async function openStores(settings: StoreSettings, options: OpenStoresOptions = { log: pino() }): Promise<Stores> {
  return STORE_MODULES[settings.store](settings, options);
}

export { storeSettings } from './config/schemas.js';
export { sqlitePathOf } from './sqlite/stores.js';
