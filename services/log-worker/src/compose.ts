import { resolveQueue, sqsOptions } from '@logserver/shared/config/schemas';
import { ConfigError } from '@logserver/shared/errors/catalogue';
import { type Health, registerHealth } from '@logserver/shared/http/health';
import { registerMetrics } from '@logserver/shared/http/metrics';
import { createServer } from '@logserver/shared/http/server';
import { signingKeyFromPem } from '@logserver/shared/integrity/signing-key';
import { createStoreHandler, type WorkerStats } from '@logserver/shared/pipeline/store-handler';
import { consumerPlugin, queuePlugin } from '@logserver/shared/plugins/pipeline';
import { sealerPlugin } from '@logserver/shared/plugins/sealer';
import { storesPlugin } from '@logserver/shared/plugins/stores';
import type { BatchHandler } from '@logserver/shared/queue/port';
import { SqsLogQueue } from '@logserver/shared/sqs/log-queue';
import { storeSettings } from '@logserver/shared/stores';
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
  const app = createServer({ logLevel: config.LOG_LEVEL });
  const log = app.log.child({ component: 'log-worker' });
  await app.register(storesPlugin, { settings: storeSettings.parse(config) });
  const { stores } = app;

  // Each worker replica may seal: the per-tenant lease lets one act at a time (README "Tamper evidence").
  if (stores.integrity && config.SEAL_INTERVAL > 0) {
    if (config.INTEGRITY_SIGNING_KEY) {
      await app.register(sealerPlugin, {
        store: stores.integrity,
        key: signingKeyFromPem(config.INTEGRITY_SIGNING_KEY),
        intervalMs: config.SEAL_INTERVAL * 1000,
      });
    } else {
      log.warn('INTEGRITY_SIGNING_KEY is not set: this worker does not seal digests (README "Tamper evidence")');
    }
  }

  const queue = await SqsLogQueue.open({ ...sqsOptions.parse(config), logger: log });
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
  const health = registerHealth(app, { store: () => stores.logs.ping(), queue: () => queue.ping() });
  await app.register(buildLogWorkerApp({ stats: workerStats(queue, worker.stats) }));
  await app.register(queuePlugin, { queue });
  await app.register(consumerPlugin, { handle });
  return { app, health };
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
