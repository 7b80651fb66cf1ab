import { storeSettings } from '../config/schemas.js';
import type { OpenStoresOptions, StoreSettings, Stores } from '../stores.js';
import { MongoChangeStreamFeed } from './change-stream-feed.js';
import { MongoCommitFeed } from './commit-feed.js';
import { connectMongo, type MongoSettings } from './database.js';
import { MongoIdempotencyStore } from './idempotency-store.js';
import { MongoIntegrityStore } from './integrity-store.js';
import { MongoLogStore } from './log-store.js';
import { MongoRetentionStore } from './retention-store.js';
import { MongoStreamLog } from './stream-log.js';
import { MongoStreamStore } from './stream-store.js';
import { MongoTenantStore } from './tenant-store.js';

/** Every port on one MongoDB database; the feed reads positioned events, woken by a change stream that hears of any process's inserts. */
export async function openMongoStores(settings: StoreSettings, options: OpenStoresOptions): Promise<Stores> {
  const tuning = settings.mongo ?? storeSettings.parse({}).mongo;
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
  const idempotency = await MongoIdempotencyStore.open(db, { pingTimeoutMs: tuning.pingTimeoutMs });
  const streams = await MongoStreamStore.open(db);
  options.log.info({ database: settings.mongodbDb }, 'stores on MongoDB');
  const database = db;
  let feed: MongoCommitFeed | null = null;
  return {
    logs,
    tenants,
    integrity,
    idempotency,
    streams,
    retention: new MongoRetentionStore(database),
    streamLog: new MongoStreamLog(database, integrity),
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
    mongo: { db, integrity },
  };
}
