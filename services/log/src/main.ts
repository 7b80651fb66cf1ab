import { createStoreHandler } from '@logserver/log-worker/worker';
import { gatewayIdentity } from '@logserver/shared/auth/request-auth';
import { loadConfig } from '@logserver/shared/config/load-config';
import { resolveQueue } from '@logserver/shared/config/schemas';
import type { LogFeed } from '@logserver/shared/feed/port';
import { registerDocs } from '@logserver/shared/http/docs';
import { registerHealth } from '@logserver/shared/http/health';
import { registerMetrics } from '@logserver/shared/http/metrics';
import { createServer } from '@logserver/shared/http/server';
import { closeGracefully } from '@logserver/shared/http/shutdown';
import { InProcessLogQueue } from '@logserver/shared/queue/in-process-log-queue';
import type { LogQueue } from '@logserver/shared/queue/port';
import { SqsLogQueue, sqsOptionsFromEnv } from '@logserver/shared/queue/sqs-log-queue';
import { openStores, type Stores, storeSettings } from '@logserver/shared/store/open-stores';
import { createCursorCodec, cursorKeyFrom } from '@logserver/shared/stream/cursor';
import type { FastifyBaseLogger } from 'fastify';
import { buildLogApp } from './app.js';
import { LogConfig, rateLimitFrom, streamLimits } from './config.js';

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
        commitLog: stores.commitLog,
        cursors: cursorCodec(config, app.log),
        identity: gatewayIdentity(),
        metrics,
        integrity:
          stores.integrity && config.INTEGRITY_PUBLIC_KEY
            ? {
                store: stores.integrity,
                publicKeyPem: config.INTEGRITY_PUBLIC_KEY.replace(/\\n/g, '\n'),
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
    await stores.commitLog.close();
    await stores.logs.close();
    await stores.tenants.close();
    await stores.integrity?.close();
  });
  closeGracefully(app, health, config.SHUTDOWN_DELAY_MS);
  await app.listen({ port: config.PORT, host: config.HOST });
}

/**
 * QUEUE=sqs: publish to SQS for the log-worker to store. QUEUE=memory (no separate worker):
 * events are written through to the store in this process. Either way the stream reads the store
 * (SQLite `seq`, MongoDB positions), so it hears of events stored by any process, in commit order;
 * with the in-process queue this process also tells it at once of what it stores.
 */
async function openQueueAndFeed(config: LogConfig, stores: Stores, log: FastifyBaseLogger): Promise<{ queue: LogQueue; feed: LogFeed }> {
  const feed = stores.feed({ onError: (err) => log.warn({ err }, 'reading new events for the stream failed') });
  await feed.start();
  if (resolveQueue(config) === 'sqs') return { queue: await SqsLogQueue.open(sqsOptionsFromEnv(config, log)), feed };
  const queue = new InProcessLogQueue();
  await queue.consume(createStoreHandler(stores.logs, feed).handle);
  return { queue, feed };
}

/** Cursors must open on every replica: the key comes from STREAM_CURSOR_KEY, else AUTH_SECRET. */
function cursorCodec(config: LogConfig, log: FastifyBaseLogger) {
  const secret = config.STREAM_CURSOR_KEY ?? config.AUTH_SECRET;
  if (secret === undefined) {
    log.warn('neither STREAM_CURSOR_KEY nor AUTH_SECRET is set: stream cursors are good on this replica only, until it restarts');
    return createCursorCodec();
  }
  return createCursorCodec(cursorKeyFrom(secret));
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
