import { gatewayIdentity } from '@logserver/shared/auth/request-auth';
import { resolveQueue, sqsOptions } from '@logserver/shared/config/schemas';
import { registerDocs } from '@logserver/shared/http/docs';
import { type Health, registerHealth } from '@logserver/shared/http/health';
import { registerMetrics } from '@logserver/shared/http/metrics';
import { createServer } from '@logserver/shared/http/server';
import { InProcessLogQueue } from '@logserver/shared/in-process/log-queue';
import type { IntegrityStore } from '@logserver/shared/integrity/port';
import { createStoreHandler } from '@logserver/shared/pipeline/store-handler';
import { consumerPlugin, feedPlugin, queuePlugin } from '@logserver/shared/plugins/pipeline';
import { storesPlugin } from '@logserver/shared/plugins/stores';
import { SqsLogQueue } from '@logserver/shared/sqs/log-queue';
import { storeSettings } from '@logserver/shared/stores';
import { createCursorCodec, cursorKeyFrom } from '@logserver/shared/stream/cursor';
import type { FastifyBaseLogger, FastifyInstance } from 'fastify';
import { buildLogApp, type IntegrityDeps } from './app.js';
import { idempotencyFrom, type LogConfig, rateLimitFrom, streamLimits } from './config.js';
import { registerConsole } from './console-route.js';

export { registerConsole };

/**
 * The tamper-evidence routes' dependencies, or undefined when the store keeps no digests or no
 * public key is configured (then the routes are not served). The all-in-one server builds them here too.
 */
export function integrityDeps(
  store: IntegrityStore | undefined,
  publicKeyPem: string | undefined,
  sealIntervalSeconds: number,
): IntegrityDeps | undefined {
  if (!store || !publicKeyPem) return undefined;
  return { store, publicKeyPem: publicKeyPem.replace(/\\n/g, '\n'), sealIntervalSeconds };
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

/**
 * The log service from its config, ready to listen. QUEUE=sqs: publish to SQS for the log-worker
 * to store. QUEUE=memory (no separate worker): events are written through to the store in this
 * process. Either way the stream's feed reads the store (SQLite `seq`, MongoDB positions), so it
 * hears of events stored by any process, in commit order; with the in-process queue this process
 * also tells it at once of what it stores. Stores, queue and feed close with the app.
 */
export async function composeLog(config: LogConfig): Promise<{ app: FastifyInstance; health: Health }> {
  const app = createServer({ logLevel: config.LOG_LEVEL });
  const settings = storeSettings.parse(config);
  await app.register(storesPlugin, { settings });
  const { stores } = app;
  const log = app.log.child({ component: 'queue' });
  const local = stores.feed({ onError: (err) => log.warn({ err }, 'reading new events for the stream failed') });
  await app.register(feedPlugin, { feed: local });
  if (resolveQueue(config) === 'sqs') {
    await app.register(queuePlugin, { queue: await SqsLogQueue.open({ ...sqsOptions.parse(config), logger: log }) });
  } else {
    await app.register(queuePlugin, { queue: new InProcessLogQueue() });
    await app.register(consumerPlugin, { handle: createStoreHandler(stores.logs, local).handle });
  }
  const { queue, feed } = app;
  const health = registerHealth(app, { store: () => stores.logs.ping(), queue: () => queue.ping() });
  const metrics = registerMetrics(app);
  await registerDocs(app, { title: 'logserver log service', description: 'Multi-tenant audit-log API' });
  await registerConsole(app);
  await app.register(
    buildLogApp(
      {
        store: stores.logs,
        queue,
        feed,
        commitLog: stores.commitLog,
        cursors: cursorCodec(config, app.log),
        identity: gatewayIdentity(),
        idempotency: stores.idempotency,
        metrics,
        integrity: integrityDeps(stores.integrity, config.INTEGRITY_PUBLIC_KEY, config.SEAL_INTERVAL),
      },
      {
        adminTenant: config.AUTH_ADMIN_TENANT,
        stream: streamLimits(config),
        rateLimit: rateLimitFrom(config),
        idempotency: idempotencyFrom(config),
      },
    ),
  );
  return { app, health };
}
