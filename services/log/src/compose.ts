import { gatewayIdentity } from '@logserver/shared/auth/request-auth';
import { resolveQueue, sqsOptions } from '@logserver/shared/config/schemas';
import type { LogFeed } from '@logserver/shared/feed/port';
import { registerDocs } from '@logserver/shared/http/docs';
import { type Health, registerHealth } from '@logserver/shared/http/health';
import { registerMetrics } from '@logserver/shared/http/metrics';
import { createServer } from '@logserver/shared/http/server';
import { InProcessLogFeed } from '@logserver/shared/in-process/log-feed';
import { InProcessLogQueue } from '@logserver/shared/in-process/log-queue';
import { type KeyRing, keyRingFromConfig, witnessKeysFrom } from '@logserver/shared/integrity/keyring';
import type { IntegrityStore } from '@logserver/shared/integrity/port';
import { createStoreHandler } from '@logserver/shared/pipeline/store-handler';
import { analyticsPlugin } from '@logserver/shared/plugins/analytics';
import { consumerPlugin, feedPlugin, queuePlugin } from '@logserver/shared/plugins/pipeline';
import { storesPlugin } from '@logserver/shared/plugins/stores';
import { SqliteLogFeed } from '@logserver/shared/sqlite/log-feed';
import { SqsLogQueue } from '@logserver/shared/sqs/log-queue';
import { sqlitePathOf, storeSettings } from '@logserver/shared/stores';
import type { FastifyInstance } from 'fastify';
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
  keys: (() => KeyRing) | undefined,
  config: { SEAL_INTERVAL: number; INTEGRITY_WITNESS_KEYS?: string | undefined },
  signer?: IntegrityDeps['signer'],
): IntegrityDeps | undefined {
  if (!store || !keys) return undefined;
  return { store, keys, witnesses: witnessKeysFrom(config.INTEGRITY_WITNESS_KEYS), sealIntervalSeconds: config.SEAL_INTERVAL, signer };
}

/** The log service's key ring, read once at start: INTEGRITY_KEYRING, else the one INTEGRITY_PUBLIC_KEY. */
function logServiceKeys(config: LogConfig): (() => KeyRing) | undefined {
  if (!config.INTEGRITY_PUBLIC_KEY) return undefined;
  const ring = keyRingFromConfig(config, config.INTEGRITY_PUBLIC_KEY.replace(/\\n/g, '\n'));
  return () => ring;
}

/**
 * The log service from its config, ready to listen. QUEUE=sqs: publish to SQS for the log-worker
 * to store. QUEUE=memory (no separate worker): events are written through to the store in this
 * process. Either way, on MongoDB the stream follows the change feed, which hears of events stored
 * by any process; on SQLite with SQS it polls the shared file, and with the in-process queue this
 * process announces what it stores. Stores, queue and feed close with the app.
 */
export async function composeLog(config: LogConfig): Promise<{ app: FastifyInstance; health: Health }> {
  const app = createServer({ logLevel: config.LOG_LEVEL });
  const settings = storeSettings.parse(config);
  await app.register(storesPlugin, { settings });
  const { stores } = app;
  const log = app.log.child({ component: 'queue' });
  if (resolveQueue(config) === 'sqs') {
    const feed: LogFeed =
      stores.sharedFeed ??
      new SqliteLogFeed(sqlitePathOf(settings), {
        onError: (err) => log.warn({ err }, 'reading new events for the stream failed'),
      });
    await app.register(feedPlugin, { feed });
    await app.register(queuePlugin, { queue: await SqsLogQueue.open({ ...sqsOptions.parse(config), logger: log }) });
  } else {
    const local = stores.sharedFeed ? undefined : new InProcessLogFeed();
    await app.register(feedPlugin, { feed: stores.sharedFeed ?? (local as InProcessLogFeed) });
    await app.register(queuePlugin, { queue: new InProcessLogQueue() });
    await app.register(consumerPlugin, { handle: createStoreHandler(stores.logs, local).handle });
  }
  const { queue, feed } = app;
  // Stats read the analytics store; the worker's sink fills it.
  await app.register(analyticsPlugin, { config });
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
        identity: gatewayIdentity(),
        idempotency: stores.idempotency,
        metrics,
        analytics: app.analytics ?? undefined,
        integrity: integrityDeps(stores.integrity, logServiceKeys(config), config),
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
