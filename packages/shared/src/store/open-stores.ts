import { join } from 'node:path';
import { type Logger, pino } from 'pino';
import { z } from 'zod';
import type { CommitLog } from '../analytics/port.js';
import { storeConfig } from '../config/schemas.js';
import { MongoChangeStreamFeed } from '../feed/mongo-change-stream-feed.js';
import type { LogFeed } from '../feed/port.js';
import { MongoIntegrityStore } from '../integrity/mongo-integrity-store.js';
import type { IntegrityStore } from '../integrity/port.js';
import { SqliteIntegrityStore } from '../integrity/sqlite-integrity-store.js';
import { MongoCommitLog } from '../mongo/mongo-commit-log.js';
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
  /** The MongoDB database the stores share (null on SQLite), for modules that follow its commit order. */
  mongo?: { db: MongoDatabase; integrity: MongoIntegrityStore } | undefined;
  logs: LogStore;
  tenants: TenantStore;
  /** Digests, leases and cleanup records beside the events (SQLite and MongoDB); optional for stores without them. */
  integrity?: IntegrityStore | undefined;
  /**
   * A feed that hears of events stored by any process (MongoDB change streams), or null when the
   * store has none and the process that stores the events must announce them itself.
   */
  sharedFeed: LogFeed | null;
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
  return { logs, tenants: SqliteTenantStore.open(path), integrity: SqliteIntegrityStore.open(path), sharedFeed: null };
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
  const sharedFeed = new MongoChangeStreamFeed(db, {
    log: options.log,
    pollIntervalMs: tuning.feedPollMs,
    lookbackMs: tuning.feedLookbackMs,
  });
  // After the log store: it owns the logs collection the integrity store adds its position indexes to.
  const integrity = await MongoIntegrityStore.open(db);
  options.log.info({ database: settings.mongodbDb }, 'stores on MongoDB');
  return { logs, tenants, integrity, sharedFeed, mongo: { db, integrity } };
}

/**
 * The commit log the analytics sink follows: on MongoDB the positions the integrity store gives;
 * undefined on SQLite, where the sink opens its own connection to the file.
 */
export async function commitLogOf(stores: Stores): Promise<CommitLog | undefined> {
  if (stores.mongo === undefined) return undefined;
  return MongoCommitLog.open(stores.mongo.db, stores.mongo.integrity);
}
