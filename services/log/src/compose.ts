import { warnUnsignedGateway } from '@logserver/shared/auth/gateway-signature';
import { registeredIdentity, tenantRegistry } from '@logserver/shared/auth/registered-tenants';
import { gatewayIdentity } from '@logserver/shared/auth/request-auth';
import { resolveQueue, sqsOptions } from '@logserver/shared/config/schemas';
import type { LocalLogFeed } from '@logserver/shared/feed/port';
import { registerCors } from '@logserver/shared/http/cors';
import { registerDocs } from '@logserver/shared/http/docs';
import { type Health, registerHealth } from '@logserver/shared/http/health';
import { registerMetrics } from '@logserver/shared/http/metrics';
import { createServer } from '@logserver/shared/http/server';
import { InProcessLogQueue } from '@logserver/shared/in-process/log-queue';
import { type KeyRing, keyRingFromConfig, witnessKeysFrom } from '@logserver/shared/integrity/keyring';
import type { IntegrityStore } from '@logserver/shared/integrity/port';
import { Dependency, deferred, gateUntilReady, storesDependency } from '@logserver/shared/lifecycle/dependency';
import { createStoreHandler } from '@logserver/shared/pipeline/store-handler';
import { analyticsPlugin } from '@logserver/shared/plugins/analytics';
import type { LogQueue } from '@logserver/shared/queue/port';
import { SqsLogQueue } from '@logserver/shared/sqs/log-queue';
import { type Stores, storeSettings } from '@logserver/shared/stores';
import { createCursorCodec, cursorKeyFrom } from '@logserver/shared/stream/cursor';
import { streamAdmin, streamPartsFrom } from '@logserver/shared/streams/open';
import type { FastifyBaseLogger, FastifyInstance } from 'fastify';
import { buildLogApp, type IntegrityDeps } from './app.js';
import { exportLimits, idempotencyFrom, type LogConfig, rateLimitFrom, searchLimits, streamLimits } from './config.js';
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
  const app = createServer({ logLevel: config.LOG_LEVEL, trustProxy: config.TRUST_PROXY });
  await registerCors(app, config.CORS_ORIGINS);
  if (config.GATEWAY_SECRET === undefined) warnUnsignedGateway(app.log, 'it trusts any x-auth-* headers it receives');
  // MongoDB and SQS may come up after this process: it listens at once and opens them in the
  // background; the API answers 503 until then (docs/operations.md "Starting before the dependencies").
  const log = app.log.child({ component: 'dependencies' });
  const settings = storeSettings.parse(config);
  const stores = storesDependency(settings, { log, maxDelayMs: config.DEPENDENCY_RETRY_MAX_MS });
  const pipeline = new Dependency(
    resolveQueue(config) === 'sqs' ? 'SQS' : 'queue',
    async () => openPipeline(config, await stores.ready, app.log.child({ component: 'queue' })),
    {
      log,
      maxDelayMs: config.DEPENDENCY_RETRY_MAX_MS,
      onClose: async ({ queue, feed }) => {
        // The queue first: it finishes the batches it holds before the feed and the stores close.
        await queue.close();
        await feed.close();
      },
    },
  );
  app.addHook('onClose', async () => {
    await pipeline.close();
    await stores.close();
  });
  gateUntilReady(app, [stores, pipeline] as Dependency<unknown>[]);
  const health = registerHealth(app, {
    store: () => stores.require().logs.ping(),
    queue: () => pipeline.require().queue.ping(),
  });
  // Stats read the analytics store; the worker's sink fills it.
  await app.register(analyticsPlugin, { config });
  const metrics = registerMetrics(app);
  await registerDocs(app, { title: 'logserver log service', description: 'Multi-tenant audit-log API' });
  await registerConsole(app);
  // /api/v1/streams is served here; the log-worker delivers. Without STREAM_SECRET_KEY the routes answer 503.
  const streams = streamPartsFrom(config);
  if (streams === null) app.log.warn('STREAM_SECRET_KEY is not set: /api/v1/streams answers 503 (docs/streams.md)');
  await app.register(
    buildLogApp(
      {
        store: deferred(stores, () => stores.value?.logs),
        queue: deferred(pipeline, () => pipeline.value?.queue),
        feed: deferred(pipeline, () => pipeline.value?.feed),
        streamLog: deferred(stores, () => stores.value?.streamLog),
        cursors: cursorCodec(config, app.log),
        // The gateway's auth service checks signatures; whether the tenant exists is checked here,
        // where the tenant store is (the auth service holds no store).
        identity: config.AUTH_REQUIRE_REGISTERED_TENANT
          ? registeredIdentity(
              gatewayIdentity(config.GATEWAY_SECRET),
              tenantRegistry(
                deferred(stores, () => stores.value?.tenants),
                config.AUTH_ADMIN_TENANT,
              ),
            )
          : gatewayIdentity(config.GATEWAY_SECRET),
        idempotency: deferred(stores, () => stores.value?.idempotency),
        metrics,
        analytics: app.analytics ?? undefined,
        streams: streams
          ? streamAdmin(
              streams,
              deferred(stores, () => stores.value?.streams),
              deferred(stores, () => stores.value?.streamLog),
            )
          : undefined,
        copies: deferred(stores, () => stores.value?.streams),
        // SQLite and MongoDB both keep the integrity records, so the routes exist whenever the key is given.
        integrity: integrityDeps(
          deferred(stores, () => stores.value?.integrity),
          logServiceKeys(config),
          config,
        ),
      },
      {
        adminTenant: config.AUTH_ADMIN_TENANT,
        stream: streamLimits(config),
        rateLimit: rateLimitFrom(config),
        exports: exportLimits(config),
        searches: searchLimits(config),
        idempotency: idempotencyFrom(config),
      },
    ),
  );
  return { app, health };
}

/**
 * The queue and the feed once the stores are open. The queue is opened first: it is the part that
 * may fail and be retried, and the feed must start only once.
 */
async function openPipeline(config: LogConfig, stores: Stores, log: FastifyBaseLogger): Promise<{ queue: LogQueue; feed: LocalLogFeed }> {
  // The same feed on every attempt (stores.feed() makes it once); started once the queue is open.
  const feed = stores.feed({ onError: (err) => log.warn({ err }, 'reading new events for the stream failed') });
  if (resolveQueue(config) === 'sqs') {
    const queue = await SqsLogQueue.open({ ...sqsOptions.parse(config), logger: log });
    await feed.start();
    return { queue, feed };
  }
  await feed.start();
  const queue = new InProcessLogQueue();
  await queue.consume(createStoreHandler(stores.logs, feed).handle);
  return { queue, feed };
}
