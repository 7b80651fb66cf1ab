import { createStoreHandler } from '@logserver/log-worker/worker';
import { gatewayIdentity } from '@logserver/shared/auth/request-auth';
import { loadConfig } from '@logserver/shared/config/load-config';
import { resolveQueue } from '@logserver/shared/config/schemas';
import { InProcessLogFeed } from '@logserver/shared/feed/in-process-log-feed';
import type { LogFeed } from '@logserver/shared/feed/port';
import { SqliteLogFeed } from '@logserver/shared/feed/sqlite-log-feed';
import { registerDocs } from '@logserver/shared/http/docs';
import { registerHealth } from '@logserver/shared/http/health';
import { registerMetrics } from '@logserver/shared/http/metrics';
import { createServer } from '@logserver/shared/http/server';
import { closeGracefully } from '@logserver/shared/http/shutdown';
import { keyRingFromConfig, witnessKeysFrom } from '@logserver/shared/integrity/keyring';
import { InProcessLogQueue } from '@logserver/shared/queue/in-process-log-queue';
import type { LogQueue } from '@logserver/shared/queue/port';
import { SqsLogQueue, sqsOptionsFromEnv } from '@logserver/shared/queue/sqs-log-queue';
import { openStores, type Stores, sqlitePathOf, storeSettings } from '@logserver/shared/store/open-stores';
import type { FastifyBaseLogger } from 'fastify';
import { buildLogApp } from './app.js';
import { LogConfig, rateLimitFrom, streamLimits } from './config.js';

/** A value that never changes, as a function (the log service reads its key ring once, at start). */
const constant =
  <T>(value: T) =>
  (): T =>
    value;

async function main(): Promise<void> {
  const config = loadConfig(LogConfig);
  const app = createServer({ logLevel: config.LOG_LEVEL });
  const stores = await openStores(storeSettings(config), { log: app.log });
  const { queue, feed } = await openQueueAndFeed(config, stores, app.log.child({ component: 'queue' }));
  const health = registerHealth(app, { store: () => stores.logs.ping(), queue: () => queue.ping() });
  const metrics = registerMetrics(app);
  await registerDocs(app, { title: 'logserver log service', description: 'Multi-tenant audit-log API' });
  await app.register(
    buildLogApp(
      {
        store: stores.logs,
        queue,
        feed,
        identity: gatewayIdentity(),
        metrics,
        integrity:
          stores.integrity && config.INTEGRITY_PUBLIC_KEY
            ? {
                store: stores.integrity,
                keys: constant(keyRingFromConfig(config, config.INTEGRITY_PUBLIC_KEY.replace(/\\n/g, '\n'))),
                witnesses: witnessKeysFrom(config.INTEGRITY_WITNESS_KEYS),
                sealIntervalSeconds: config.SEAL_INTERVAL,
              }
            : undefined,
      },
      { adminTenant: config.AUTH_ADMIN_TENANT, stream: streamLimits(config), rateLimit: rateLimitFrom(config) },
    ),
  );
  app.addHook('onClose', async () => {
    await queue.close();
    await feed.close();
    await stores.logs.close();
    await stores.tenants.close();
    await stores.integrity?.close();
  });
  closeGracefully(app, health, config.SHUTDOWN_DELAY_MS);
  await app.listen({ port: config.PORT, host: config.HOST });
}

/**
 * QUEUE=sqs: publish to SQS for the log-worker to store. QUEUE=memory (no separate worker):
 * events are written through to the store in this process. Either way, on MongoDB the stream
 * follows the change feed, which hears of events stored by any process; on SQLite with SQS it
 * polls the shared file, and with the in-process queue this process announces what it stores.
 */
async function openQueueAndFeed(config: LogConfig, stores: Stores, log: FastifyBaseLogger): Promise<{ queue: LogQueue; feed: LogFeed }> {
  await stores.sharedFeed?.start();
  if (resolveQueue(config) === 'sqs') {
    const queue = await SqsLogQueue.open(sqsOptionsFromEnv(config, log));
    if (stores.sharedFeed) return { queue, feed: stores.sharedFeed };
    const feed = new SqliteLogFeed(sqlitePathOf(storeSettings(config)), {
      onError: (err) => log.warn({ err }, 'reading new events for the stream failed'),
    });
    await feed.start();
    return { queue, feed };
  }
  const local = stores.sharedFeed ? undefined : new InProcessLogFeed();
  const queue = new InProcessLogQueue();
  await queue.consume(createStoreHandler(stores.logs, local).handle);
  return { queue, feed: stores.sharedFeed ?? (local as InProcessLogFeed) };
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
