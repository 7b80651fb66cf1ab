import { loadConfig } from '@logserver/shared/config/load-config';
import { resolveQueue } from '@logserver/shared/config/schemas';
import { ConfigError } from '@logserver/shared/errors/catalogue';
import { registerHealth } from '@logserver/shared/http/health';
import { registerMetrics } from '@logserver/shared/http/metrics';
import { createServer } from '@logserver/shared/http/server';
import { closeGracefully } from '@logserver/shared/http/shutdown';
import { Sealer } from '@logserver/shared/integrity/sealer';
import { signingKeyFromPem } from '@logserver/shared/integrity/signing-key';
import { Dependency, deferred } from '@logserver/shared/lifecycle/dependency';
import type { BatchHandler } from '@logserver/shared/queue/port';
import { type SqsConsumerStats, SqsLogQueue, sqsOptionsFromEnv } from '@logserver/shared/queue/sqs-log-queue';
import { openStores, storeSettings } from '@logserver/shared/store/open-stores';
import { buildLogWorkerApp } from './app.js';
import { LogWorkerConfig } from './config.js';
import { registerWorkerMetrics } from './metrics.js';
import { createStoreHandler, type WorkerStats } from './worker.js';

async function main(): Promise<void> {
  const config = loadConfig(LogWorkerConfig);
  if (resolveQueue(config) !== 'sqs') {
    throw new ConfigError('QUEUE: the log-worker consumes SQS: set SQS_URL (the all-in-one server needs no worker)');
  }
  const app = createServer({ logLevel: config.LOG_LEVEL });
  const log = app.log.child({ component: 'log-worker' });
  // MongoDB and SQS may come up after this process: it listens at once, says in /readyz what it
  // waits for, and starts consuming once both answer (README "Starting before the dependencies").
  const retry = { log, maxDelayMs: config.DEPENDENCY_RETRY_MAX_MS };
  const settings = storeSettings(config);
  const stores = new Dependency(settings.store === 'mongodb' ? 'MongoDB' : 'SQLite', () => openStores(settings, { log }), {
    ...retry,
    onClose: async (opened) => {
      await opened.logs.close();
      await opened.tenants.close();
      await opened.integrity?.close();
    },
  });
  const queue = new Dependency('SQS', () => SqsLogQueue.open(sqsOptionsFromEnv(config, log)), {
    ...retry,
    onClose: (opened) => opened.close(),
  });
  // No stream in this process: the log service learns of stored events from the store's own feed.
  const worker = createStoreHandler(deferred(stores, () => stores.value?.logs));
  const queueStats = (): SqsConsumerStats => queue.value?.stats ?? NOTHING_RECEIVED;
  const latency = registerWorkerMetrics(registerMetrics(app), liveStats(queueStats), worker.stats);
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

  // Each worker replica may seal: the per-tenant lease lets one act at a time (README "Tamper evidence").
  let sealer: Sealer | null = null;
  if (config.SEAL_INTERVAL > 0) {
    if (config.INTEGRITY_SIGNING_KEY) {
      const started = new Sealer({
        // SQLite and MongoDB both keep the integrity records.
        store: deferred(stores, () => stores.value?.integrity),
        key: signingKeyFromPem(config.INTEGRITY_SIGNING_KEY),
        onError: (err) => log.error({ err, component: 'sealer' }, 'sealing failed'),
      });
      sealer = started;
      stores.ready.then(() => started.start(config.SEAL_INTERVAL * 1000)).catch(() => {});
    } else {
      log.warn('INTEGRITY_SIGNING_KEY is not set: this worker does not seal digests (README "Tamper evidence")');
    }
  }

  const health = registerHealth(app, { store: () => stores.require().logs.ping(), queue: () => queue.require().ping() });
  await app.register(buildLogWorkerApp({ stats: workerStats(queueStats, worker.stats) }));
  app.addHook('onClose', async () => {
    // Stops receiving and finishes the batches in hand (stored and deleted) before the store closes.
    await queue.close();
    await sealer?.stop();
    await stores.close();
  });
  closeGracefully(app, health, config.SHUTDOWN_DELAY_MS);
  await app.listen({ port: config.PORT, host: config.HOST });
  const [, opened] = await Promise.all([stores.ready, queue.ready]);
  await opened.consume(handle);
}

const NOTHING_RECEIVED: SqsConsumerStats = Object.freeze({
  messagesReceived: 0,
  messagesDeleted: 0,
  messagesFailed: 0,
  messagesDeadLettered: 0,
  receiveErrors: 0,
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
function workerStats(queueStats: () => SqsConsumerStats, worker: WorkerStats): WorkerStats & { messages_dead_lettered: number } {
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
    get events_stored() {
      return worker.events_stored;
    },
    get events_duplicate() {
      return worker.events_duplicate;
    },
  };
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
