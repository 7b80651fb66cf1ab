import { resolveQueue, sqsOptions } from '@logserver/shared/config/schemas';
import { ConfigError } from '@logserver/shared/errors/catalogue';
import { type Health, registerHealth } from '@logserver/shared/http/health';
import { registerMetrics } from '@logserver/shared/http/metrics';
import { createServer } from '@logserver/shared/http/server';
import { signingKeyFromPem } from '@logserver/shared/integrity/signing-key';
import { Dependency, deferred, storesDependency } from '@logserver/shared/lifecycle/dependency';
import { createStoreHandler, type WorkerStats } from '@logserver/shared/pipeline/store-handler';
import { analyticsPlugin } from '@logserver/shared/plugins/analytics';
import { retentionPlugin } from '@logserver/shared/plugins/retention';
import { sealerPlugin } from '@logserver/shared/plugins/sealer';
import { streamDeliveryPlugin } from '@logserver/shared/plugins/streams';
import type { BatchHandler } from '@logserver/shared/queue/port';
import { type SqsConsumerStats, SqsLogQueue } from '@logserver/shared/sqs/log-queue';
import { storeSettings } from '@logserver/shared/stores';
import { streamPartsFrom } from '@logserver/shared/streams/open';
import type { FastifyInstance } from 'fastify';
import { buildLogWorkerApp } from './app.js';
import type { LogWorkerConfig } from './config.js';
import { registerWorkerMetrics } from './metrics.js';

/**
 * The log-worker from its config, ready to listen: it consumes SQS from onReady, stores each batch
 * and, when it holds the signing key, seals. On close the queue stops receiving and finishes the
 * batches in hand (stored and deleted), then the sealer stops, then the stores close.
 */
export async function composeLogWorker(config: LogWorkerConfig): Promise<{ app: FastifyInstance; health: Health }> {
  if (resolveQueue(config) !== 'sqs') {
    throw new ConfigError('QUEUE: the log-worker consumes SQS: set SQS_URL (the all-in-one server needs no worker)');
  }
  const app = createServer({ logLevel: config.LOG_LEVEL, trustProxy: config.TRUST_PROXY });
  const log = app.log.child({ component: 'log-worker' });
  // MongoDB and SQS may come up after this process: it listens at once, says in /readyz what it
  // waits for, and starts consuming once both answer (docs/operations.md "Starting before the dependencies").
  const stores = storesDependency(storeSettings.parse(config), { log, maxDelayMs: config.DEPENDENCY_RETRY_MAX_MS });
  const queue = new Dependency('SQS', () => SqsLogQueue.open({ ...sqsOptions.parse(config), logger: log }), {
    log,
    maxDelayMs: config.DEPENDENCY_RETRY_MAX_MS,
    onClose: (opened) => opened.close(),
  });
  // Stops receiving and finishes the batches in hand (stored and deleted), then the sealer stops
  // (its own onClose, added later, runs first), then the stores close.
  app.addHook('onClose', async () => {
    await queue.close();
    await stores.close();
  });

  const signingKey = config.INTEGRITY_SIGNING_KEY ? signingKeyFromPem(config.INTEGRITY_SIGNING_KEY) : null;
  // Each worker replica may seal: the per-tenant lease lets one act at a time (docs/tamper-evidence.md).
  if (config.SEAL_INTERVAL > 0) {
    if (signingKey !== null) {
      // SQLite and MongoDB both keep the integrity records; sealing starts once the store is open.
      await app.register(sealerPlugin, {
        store: deferred(stores, () => stores.value?.integrity),
        key: signingKey,
        logName: config.INTEGRITY_ORIGIN,
        intervalMs: 0,
      });
      stores.ready.then(() => app.sealer.start(config.SEAL_INTERVAL * 1000)).catch(() => {});
    } else {
      log.warn('INTEGRITY_SIGNING_KEY is not set: this worker does not sign checkpoints (docs/tamper-evidence.md)');
    }
  }

  // No stream in this process: the log service learns of stored events from the store's own feed.
  const worker = createStoreHandler(deferred(stores, () => stores.value?.logs));
  // Each worker replica may run the retention job: its one lease lets one replica act at a time
  // (docs/retention.md). Its audit events are stored as the worker stores a batch.
  await app.register(retentionPlugin, {
    retention: deferred(stores, () => stores.value?.retention),
    logs: deferred(stores, () => stores.value?.logs),
    copies: deferred(stores, () => stores.value?.streams),
    record: (events) => worker.handle(events),
    // The worker holds the signing key when it seals: the job's cleanups are then signed (docs/tamper-evidence.md).
    signer: signingKey === null ? undefined : () => signingKey,
    tenantLimit: config.RETENTION_TENANT_LIMIT,
    intervalMs: 0,
  });
  if (config.RETENTION_INTERVAL > 0) stores.ready.then(() => app.retention.start(config.RETENTION_INTERVAL * 1000)).catch(() => {});

  const queueStats = (): SqsConsumerStats => queue.value?.stats ?? NOTHING_RECEIVED;
  const registry = registerMetrics(app);
  const latency = registerWorkerMetrics(registry, liveStats(queueStats), worker.stats);
  // The sink copies what this worker (and every other) stores into analytics; it only reads the
  // store, and starts once the store is open.
  await app.register(analyticsPlugin, { config, sink: { registry, stores: stores.ready } });
  const { analytics } = app;
  // Log streams are delivered by the workers, each destination by the one replica holding its lease;
  // like the sink, delivery only reads the store, so a destination down never slows storing.
  const streams = streamPartsFrom(config);
  if (streams) await app.register(streamDeliveryPlugin, { ...streams, stores: stores.ready, registry });
  else log.warn('STREAM_SECRET_KEY is not set: this worker delivers no log streams (docs/streams.md)');
  const handle: BatchHandler = async (events) => {
    const done = latency.startTimer();
    try {
      await worker.handle(events);
      done({ outcome: 'stored' });
    } catch (error) {
      done({ outcome: 'failed' });
      throw error;
    }
  };
  // The sink's lag is shown, not judged: analytics behind or down never stops a worker storing events.
  const health = registerHealth(
    app,
    { store: () => stores.require().logs.ping(), queue: () => queue.require().ping() },
    analytics ? { analytics: () => analytics.sink?.status() ?? 'waiting for the store' } : {},
  );
  await app.register(buildLogWorkerApp({ stats: workerStats(queueStats, worker.stats) }));
  app.addHook('onReady', async () => {
    Promise.all([stores.ready, queue.ready])
      .then(([, opened]) => opened.consume(handle))
      .catch(() => {});
  });
  return { app, health };
}

const NOTHING_RECEIVED: SqsConsumerStats = Object.freeze({
  messagesReceived: 0,
  messagesDeleted: 0,
  messagesFailed: 0,
  messagesDeadLettered: 0,
  receiveErrors: 0,
  visibilityLapses: 0,
  lastReceivedAt: null,
});

/** The queue's tallies read through at every access, zero until the queue is open. */
function liveStats(read: () => SqsConsumerStats): SqsConsumerStats {
  return new Proxy({} as SqsConsumerStats, { get: (_target, property) => read()[property as keyof SqsConsumerStats] });
}

/**
 * The Python system's /stats counted SQS messages (here: received, and failed to store or
 * dead-lettered); the event counts are ours. Getters, so each request reads the live tallies.
 */
function workerStats(
  queueStats: () => SqsConsumerStats,
  worker: WorkerStats,
): WorkerStats & { messages_dead_lettered: number; messages_visibility_lapsed: number } {
  const queue = {
    get stats() {
      return queueStats();
    },
  };
  return {
    get messages_received() {
      return queue.stats.messagesReceived;
    },
    get messages_failed() {
      return queue.stats.messagesFailed + queue.stats.messagesDeadLettered;
    },
    get last_received_at() {
      return queue.stats.lastReceivedAt;
    },
    get messages_dead_lettered() {
      return queue.stats.messagesDeadLettered;
    },
    get messages_visibility_lapsed() {
      return queue.stats.visibilityLapses;
    },
    get events_stored() {
      return worker.events_stored;
    },
    get events_duplicate() {
      return worker.events_duplicate;
    },
  };
}
