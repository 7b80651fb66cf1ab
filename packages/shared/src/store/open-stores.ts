import { join } from 'node:path';
import { type Logger, pino } from 'pino';
import { z } from 'zod';
import { storeConfig } from '../config/schemas.js';
import { MongoChangeStreamFeed } from '../feed/mongo-change-stream-feed.js';
import { MongoCommitFeed } from '../feed/mongo-commit-feed.js';
import { MongoCommitLog } from '../feed/mongo-commit-log.js';
import type { CommitLog, LocalLogFeed } from '../feed/port.js';
import { SqliteCommitLog } from '../feed/sqlite-commit-log.js';
import { SqliteLogFeed } from '../feed/sqlite-log-feed.js';
import { MongoIntegrityStore } from '../integrity/mongo-integrity-store.js';
import type { IntegrityStore } from '../integrity/port.js';
import { SqliteIntegrityStore } from '../integrity/sqlite-integrity-store.js';
import { MongoTenantStore } from '../tenant-store/mongo-tenant-store.js';
import type { TenantStore } from '../tenant-store/port.js';
import { SqliteTenantStore } from '../tenant-store/sqlite-tenant-store.js';
import { connectMongo, type MongoDatabase, type MongoSettings } from './mongo-database.js';
import { MongoLogStore } from './mongo-log-store.js';
import type { LogStore } from './port.js';
import { SqliteLogStore } from './sqlite-log-store.js';

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
   * events this process stores. Only processes that stream call it; the caller starts and closes it.
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

export function sqlitePathOf(settings: Pick<StoreSettings, 'dataDir' | 'sqlitePath'>): string {
  return settings.sqlitePath ?? join(settings.dataDir, 'logserver.db');
}

export interface OpenStoresOptions {
  log: Pick<Logger, 'info' | 'warn'>;
  /** An already connected database to use instead of connecting to MONGODB_URI; its owner closes it. */
  mongoDatabase?: MongoDatabase | undefined;
}

/** Builds the configured store adapters; main.ts files call this and close them on shutdown. */
export async function openStores(settings: StoreSettings, options: OpenStoresOptions = { log: pino() }): Promise<Stores> {
  if (settings.store === 'mongodb') return openMongoStores(settings, options);
  const path = sqlitePathOf(settings);
  // The log store first: it creates the logs table that the integrity store reads.
  const logs = SqliteLogStore.open(path);
  let feed: SqliteLogFeed | null = null;
  return {
    logs,
    tenants: SqliteTenantStore.open(path),
    integrity: SqliteIntegrityStore.open(path),
    commitLog: new SqliteCommitLog(path),
    feed: (feedOptions = {}) => {
      feed ??= new SqliteLogFeed(path, feedOptions);
      return feed;
    },
  };
}

async function openMongoStores(settings: StoreSettings, options: OpenStoresOptions): Promise<Stores> {
  const tuning = settings.mongo ?? storeSettings(z.object(storeConfig).parse({})).mongo;
  let db = options.mongoDatabase;
  let release: (() => Promise<void>) | undefined;
  if (db === undefined) {
    if (!settings.mongodbUri) throw new Error('MONGODB_URI is required when STORE=mongodb');
    const mongoSettings: MongoSettings = { uri: settings.mongodbUri, database: settings.mongodbDb, ...tuning };
    const connection = await connectMongo(mongoSettings);
    db = connection.db;
    // Both stores share one client; the first close ends it, the second finds it ended.
    let closing: Promise<void> | null = null;
    release = () => {
      closing ??= connection.close();
      return closing;
    };
  }
  const logs = await MongoLogStore.open(db, { queryTimeoutMs: tuning.queryTimeoutMs, pingTimeoutMs: tuning.pingTimeoutMs, release });
  const tenants = await MongoTenantStore.open(db, { pingTimeoutMs: tuning.pingTimeoutMs, release });
  // After the log store: it owns the logs collection the integrity store adds its position indexes to.
  const integrity = await MongoIntegrityStore.open(db);
  options.log.info({ database: settings.mongodbDb }, 'stores on MongoDB');
  const database = db;
  let feed: MongoCommitFeed | null = null;
  return {
    logs,
    tenants,
    integrity,
    commitLog: new MongoCommitLog(database, integrity),
    feed: (feedOptions = {}) => {
      feed ??= new MongoCommitFeed(database, integrity, {
        pollMs: tuning.feedPollMs,
        wakeUp: new MongoChangeStreamFeed(database, {
          log: options.log,
          pollIntervalMs: tuning.feedPollMs,
          lookbackMs: tuning.feedLookbackMs,
        }),
        onError: feedOptions.onError,
      });
      return feed;
    },
  };
}
