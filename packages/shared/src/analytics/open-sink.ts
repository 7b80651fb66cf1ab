import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { AnalyticsConfig } from '../clickhouse/open-analytics.js';
import { MongoCommitLog } from '../mongo/commit-log.js';
import { SqliteCommitLog } from '../sqlite/commit-log.js';
import { type StoreSettings, type Stores, sqlitePathOf } from '../stores.js';
import type { AnalyticsStore, CommitLog } from './port.js';
import { AnalyticsSink } from './sink.js';
import { registerSinkMetrics } from './sink-metrics.js';

/**
 * The commit log the sink follows: on MongoDB the positions the integrity store gives; undefined on
 * SQLite, where the sink opens its own connection to the file.
 */
export async function commitLogOf(stores: Stores): Promise<CommitLog | undefined> {
  if (stores.mongo === undefined) return undefined;
  return MongoCommitLog.open(stores.mongo.db, stores.mongo.integrity);
}

export interface RunningSink {
  sink: AnalyticsSink;
  close(): Promise<void>;
}

/**
 * Starts the sink in a process that stores events (the log-worker, the all-in-one): it follows the
 * primary store's commit log into `analytics`. `commitLog` is given on MongoDB, where the integrity
 * store places the events; on SQLite the sink opens its own connection to the file.
 */
export function startSink(options: {
  analytics: AnalyticsStore;
  config: Pick<AnalyticsConfig, 'ANALYTICS_SINK_BATCH' | 'ANALYTICS_SINK_INTERVAL_MS'>;
  store: Pick<StoreSettings, 'store' | 'dataDir' | 'sqlitePath'>;
  commitLog?: CommitLog | undefined;
  registry: Registry;
  log: Pick<Logger, 'warn'>;
}): RunningSink {
  const commitLog = options.commitLog ?? (options.store.store === 'sqlite' ? SqliteCommitLog.open(sqlitePathOf(options.store)) : null);
  if (commitLog === null) throw new Error('the analytics sink needs the store commit log (MongoDB: the integrity store)');
  let lastWarned = 0;
  const sink = new AnalyticsSink({
    commitLog,
    analytics: options.analytics,
    batchSize: options.config.ANALYTICS_SINK_BATCH,
    intervalMs: options.config.ANALYTICS_SINK_INTERVAL_MS,
    onError: (err) => {
      // An outage fails every round: one warning a minute says so without flooding the log.
      if (Date.now() - lastWarned < 60_000) return;
      lastWarned = Date.now();
      options.log.warn({ err, component: 'analytics-sink' }, 'analytics sink round failed; retrying from its checkpoint');
    },
  });
  registerSinkMetrics(options.registry, sink);
  sink.start();
  return {
    sink,
    close: async () => {
      await sink.stop();
      await commitLog.close();
    },
  };
}
