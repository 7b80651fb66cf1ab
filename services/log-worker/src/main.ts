import { loadConfig } from '@logserver/shared/config/load-config';
import { resolveQueue } from '@logserver/shared/config/schemas';
import { ConfigError } from '@logserver/shared/errors/catalogue';
import { registerHealth } from '@logserver/shared/http/health';
import { registerMetrics } from '@logserver/shared/http/metrics';
import { createServer } from '@logserver/shared/http/server';
import { closeGracefully } from '@logserver/shared/http/shutdown';
import { Sealer } from '@logserver/shared/integrity/sealer';
import { signingKeyFromPem } from '@logserver/shared/integrity/signing-key';
import type { BatchHandler } from '@logserver/shared/queue/port';
import { SqsLogQueue, sqsOptionsFromEnv } from '@logserver/shared/queue/sqs-log-queue';
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
  const stores = await openStores(storeSettings(config), { log });
  const queue = await SqsLogQueue.open(sqsOptionsFromEnv(config, log));
  // No stream in this process: the log service learns of stored events from the store's own feed.
  const worker = createStoreHandler(stores.logs);
  const latency = registerWorkerMetrics(registerMetrics(app), queue.stats, worker.stats);
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
  if (stores.integrity && config.SEAL_INTERVAL > 0) {
    if (config.INTEGRITY_SIGNING_KEY) {
      sealer = new Sealer({
        store: stores.integrity,
        key: signingKeyFromPem(config.INTEGRITY_SIGNING_KEY),
        logName: config.INTEGRITY_ORIGIN,
        onError: (err) => log.error({ err, component: 'sealer' }, 'sealing failed'),
      });
      sealer.start(config.SEAL_INTERVAL * 1000);
    } else {
      log.warn('INTEGRITY_SIGNING_KEY is not set: this worker does not sign checkpoints (README "Tamper evidence")');
    }
  }

  const health = registerHealth(app, { store: () => stores.logs.ping(), queue: () => queue.ping() });
  await app.register(buildLogWorkerApp({ stats: workerStats(queue, worker.stats) }));
  app.addHook('onClose', async () => {
    // Stops receiving and finishes the batches in hand (stored and deleted) before the store closes.
    await queue.close();
    await sealer?.stop();
    await stores.logs.close();
    await stores.tenants.close();
    await stores.integrity?.close();
  });
  closeGracefully(app, health, config.SHUTDOWN_DELAY_MS);
  await app.listen({ port: config.PORT, host: config.HOST });
  await queue.consume(handle);
}

/**
 * The Python system's /stats counted SQS messages (here: received, and failed to store or
 * dead-lettered); the event counts are ours. Getters, so each request reads the live tallies.
 */
function workerStats(queue: SqsLogQueue, worker: WorkerStats): WorkerStats & { messages_dead_lettered: number } {
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
