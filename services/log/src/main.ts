import { createStoreHandler } from '@logserver/log-worker/worker';
import { gatewayIdentity } from '@logserver/shared/auth/request-auth';
import { loadConfig } from '@logserver/shared/config/load-config';
import { resolveQueue } from '@logserver/shared/config/schemas';
import { InProcessLogFeed } from '@logserver/shared/feed/in-process-log-feed';
import type { LogFeed } from '@logserver/shared/feed/port';
import { SqliteLogFeed } from '@logserver/shared/feed/sqlite-log-feed';
import { registerCors } from '@logserver/shared/http/cors';
import { registerDocs } from '@logserver/shared/http/docs';
import { registerHealth } from '@logserver/shared/http/health';
import { registerMetrics } from '@logserver/shared/http/metrics';
import { createServer } from '@logserver/shared/http/server';
import { closeGracefully } from '@logserver/shared/http/shutdown';
import { Dependency, deferred, gateUntilReady } from '@logserver/shared/lifecycle/dependency';
import { InProcessLogQueue } from '@logserver/shared/queue/in-process-log-queue';
import type { LogQueue } from '@logserver/shared/queue/port';
import { SqsLogQueue, sqsOptionsFromEnv } from '@logserver/shared/queue/sqs-log-queue';
import { openStores, type Stores, sqlitePathOf, storeSettings } from '@logserver/shared/store/open-stores';
import type { FastifyBaseLogger } from 'fastify';
import { buildLogApp } from './app.js';
import { LogConfig, rateLimitFrom, streamLimits } from './config.js';

async function main(): Promise<void> {
  const config = loadConfig(LogConfig);
  const app = createServer({ logLevel: config.LOG_LEVEL });
  await registerCors(app, config.CORS_ORIGINS);
  const log = app.log.child({ component: 'dependencies' });
  const retry = { log, maxDelayMs: config.DEPENDENCY_RETRY_MAX_MS };
  // MongoDB and SQS may come up after this process: it listens at once and opens them in the
  // background (README "Starting before the dependencies"); the routes answer 503 until then.
  const settings = storeSettings(config);
  const stores = new Dependency(settings.store === 'mongodb' ? 'MongoDB' : 'SQLite', () => openStores(settings, { log: app.log }), {
    ...retry,
    onClose: closeStores,
  });
  const queueAndFeed = new Dependency(
    resolveQueue(config) === 'sqs' ? 'SQS' : 'queue',
    async () => openQueueAndFeed(config, await stores.ready, app.log.child({ component: 'queue' })),
    { ...retry, onClose: async ({ queue, feed }) => Promise.all([queue.close(), feed.close()]).then(() => undefined) },
  );
  const dependencies = [stores, queueAndFeed] as Dependency<unknown>[];
  gateUntilReady(app, dependencies);
  const health = registerHealth(app, {
    store: () => stores.require().logs.ping(),
    queue: () => queueAndFeed.require().queue.ping(),
  });
  const metrics = registerMetrics(app);
  await registerDocs(app, { title: 'logserver log service', description: 'Multi-tenant audit-log API' });
  await app.register(
    buildLogApp(
      {
        store: deferred(stores, () => stores.value?.logs),
        queue: deferred(queueAndFeed, () => queueAndFeed.value?.queue),
        feed: deferred(queueAndFeed, () => queueAndFeed.value?.feed),
        identity: gatewayIdentity(),
        metrics,
        // SQLite and MongoDB both keep the integrity records, so the routes exist whenever the key is given.
        integrity: config.INTEGRITY_PUBLIC_KEY
          ? {
              store: deferred(stores, () => stores.value?.integrity),
              publicKeyPem: config.INTEGRITY_PUBLIC_KEY.replace(/\\n/g, '\n'),
              sealIntervalSeconds: config.SEAL_INTERVAL,
            }
          : undefined,
      },
      { adminTenant: config.AUTH_ADMIN_TENANT, stream: streamLimits(config), rateLimit: rateLimitFrom(config) },
    ),
  );
  app.addHook('onClose', async () => {
    // The queue first: it finishes what it holds before the store it writes to closes.
    await queueAndFeed.close();
    await stores.close();
  });
  closeGracefully(app, health, config.SHUTDOWN_DELAY_MS);
  await app.listen({ port: config.PORT, host: config.HOST });
}

async function closeStores(stores: Stores): Promise<void> {
  await stores.logs.close();
  await stores.tenants.close();
  await stores.integrity?.close();
}

/**
 * QUEUE=sqs: publish to SQS for the log-worker to store. QUEUE=memory (no separate worker):
 * events are written through to the store in this process. Either way, on MongoDB the stream
 * follows the change feed, which hears of events stored by any process; on SQLite with SQS it
 * polls the shared file, and with the in-process queue this process announces what it stores.
 */
async function openQueueAndFeed(config: LogConfig, stores: Stores, log: FastifyBaseLogger): Promise<{ queue: LogQueue; feed: LogFeed }> {
  if (resolveQueue(config) === 'sqs') {
    // The queue first: it is the part that may fail and be retried; the feed starts once.
    const queue = await SqsLogQueue.open(sqsOptionsFromEnv(config, log));
    if (stores.sharedFeed) {
      await stores.sharedFeed.start();
      return { queue, feed: stores.sharedFeed };
    }
    const feed = new SqliteLogFeed(sqlitePathOf(storeSettings(config)), {
      onError: (err) => log.warn({ err }, 'reading new events for the stream failed'),
    });
    await feed.start();
    return { queue, feed };
  }
  await stores.sharedFeed?.start();
  const local = stores.sharedFeed ? undefined : new InProcessLogFeed();
  const queue = new InProcessLogQueue();
  await queue.consume(createStoreHandler(stores.logs, local).handle);
  return { queue, feed: stores.sharedFeed ?? (local as InProcessLogFeed) };
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
