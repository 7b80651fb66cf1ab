import { type Logger, pino } from 'pino';
import type { z } from 'zod';
import type { storeConfig } from './config/schemas.js';
import type { CommitLog, LocalLogFeed } from './feed/port.js';
import type { IntegrityStore } from './integrity/port.js';
import type { MongoDatabase } from './mongo/database.js';
import { openMongoStores } from './mongo/stores.js';
import { openSqliteStores } from './sqlite/stores.js';
import type { LogStore } from './store/port.js';
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
  mongodbUri?: string | undefined;
  mongodbDb: string;
  /** Pool, timeouts and feed settings; storeConfig's defaults when absent. */
  mongo?: MongoTuning | undefined;
}

export interface Stores {
  logs: LogStore;
  tenants: TenantStore;
  /** Digests, leases and cleanup records beside the events (SQLite and MongoDB); optional for stores without them. */
  integrity?: IntegrityStore | undefined;
  /** The tenant's events in commit order: what a resumed stream or export replays. */
  commitLog: CommitLog;
  /**
   * Makes the stream's feed (once; later calls return the same one): it hears of events stored by
   * any process on the same store, in commit order with their positions, and is told at once of
   * events this process stores. Only processes that stream call it; the feed plugin starts and closes it.
   */
  feed(options?: { onError?: (error: unknown) => void }): LocalLogFeed;
}

type StoreConfig = z.infer<z.ZodObject<typeof storeConfig>>;

/** The store settings from a service's parsed environment (DESIGN §6: STORE follows MONGODB_URI). */
export function storeSettings(config: StoreConfig): StoreSettings & { mongo: MongoTuning } {
  return {
    store: config.STORE ?? (config.MONGODB_URI ? 'mongodb' : 'sqlite'),
    dataDir: config.DATA_DIR,
    sqlitePath: config.SQLITE_PATH,
    mongodbUri: config.MONGODB_URI,
    mongodbDb: config.MONGODB_DB,
    mongo: {
      maxPoolSize: config.MONGODB_MAX_POOL_SIZE,
      minPoolSize: config.MONGODB_MIN_POOL_SIZE,
      connectTimeoutMs: config.MONGODB_CONNECT_TIMEOUT_MS,
      serverSelectionTimeoutMs: config.MONGODB_SERVER_SELECTION_TIMEOUT_MS,
      socketTimeoutMs: config.MONGODB_SOCKET_TIMEOUT_MS,
      queryTimeoutMs: config.MONGODB_QUERY_TIMEOUT_MS,
      pingTimeoutMs: config.MONGODB_PING_TIMEOUT_MS,
      feedPollMs: config.MONGODB_FEED_POLL_MS,
      feedLookbackMs: config.MONGODB_FEED_LOOKBACK_MS,
    },
  };
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

export { sqlitePathOf } from './sqlite/stores.js';
