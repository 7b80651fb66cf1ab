import { integrityDeps, registerConsole } from '@logserver/log/compose';
import { exportLimits, idempotencyFrom, rateLimitFrom, searchLimits, streamLimits } from '@logserver/log/config';
import type { AnalyticsSink } from '@logserver/shared/analytics/sink';
import { jwtSettings } from '@logserver/shared/auth/jwt-settings';
import { createJwtVerifier, type JwtSettings } from '@logserver/shared/auth/jwt-verifier';
import { tenantRegistry } from '@logserver/shared/auth/registered-tenants';
import { registerCors } from '@logserver/shared/http/cors';
import { registerDocs } from '@logserver/shared/http/docs';
import { type Health, registerHealth } from '@logserver/shared/http/health';
import { registerMetrics } from '@logserver/shared/http/metrics';
import { createServer } from '@logserver/shared/http/server';
import { InProcessLogQueue } from '@logserver/shared/in-process/log-queue';
import type { SealRunner } from '@logserver/shared/integrity/sealer';
import type { MongoDatabase } from '@logserver/shared/mongo/database';
import { createStoreHandler } from '@logserver/shared/pipeline/store-handler';
import { analyticsPlugin } from '@logserver/shared/plugins/analytics';
import { consumerPlugin, feedPlugin, queuePlugin } from '@logserver/shared/plugins/pipeline';
import { retentionPlugin } from '@logserver/shared/plugins/retention';
import { sealerPlugin } from '@logserver/shared/plugins/sealer';
import { storesPlugin } from '@logserver/shared/plugins/stores';
import { streamDeliveryPlugin } from '@logserver/shared/plugins/streams';
import { retentionBounds } from '@logserver/shared/retention/config';
import type { RetentionJob } from '@logserver/shared/retention/job';
import { type Stores, sqlitePathOf, storeSettings } from '@logserver/shared/stores';
import { createCursorCodec, cursorKeyFrom } from '@logserver/shared/stream/cursor';
import { streamAdmin, streamPartsFrom } from '@logserver/shared/streams/open';
import type { FastifyInstance } from 'fastify';
import { buildAllInOneApp } from './app.js';
import type { AllInOneConfig } from './config.js';
import { dataDirKeys, loadOrCreateSecret, loadStreamKeys } from './secret.js';

export interface AllInOne {
  app: FastifyInstance;
  auth: JwtSettings;
  stores: Stores;
  health: Health;
  /** Seals on its timer (SEAL_INTERVAL > 0); tests call sealAll() to seal now. */
  sealer: SealRunner | null;
  /** The analytics sink (ANALYTICS on); tests call runOnce() to copy now. */
  sink: AnalyticsSink | null;
  /** Applies retention policies every RETENTION_INTERVAL; tests call runOnce() to run now. */
  retention: RetentionJob;
}

/**
 * Builds the whole all-in-one server from its config, ready to listen: the embedded adapters,
 * the worker attached to the in-process queue, health and metrics. main.ts and the tests share it.
 * Stores, feed, queue and sealer are plugins that close themselves when the app closes.
 */
export async function composeAllInOne(config: AllInOneConfig, options: { mongoDatabase?: MongoDatabase } = {}): Promise<AllInOne> {
  const app = createServer({ logLevel: config.LOG_LEVEL, trustProxy: config.TRUST_PROXY });
  await registerCors(app, config.CORS_ORIGINS);
  const auth = jwtSettings(config, config.AUTH_SECRET ?? loadOrCreateSecret(config.DATA_DIR).secret, app.log);
  const settings = storeSettings.parse(config);
  await app.register(storesPlugin, { settings, mongoDatabase: options.mongoDatabase });
  const { stores } = app;
  // The queue writes through to the worker's handler in this process, so a POST is answered
  // once its events are committed, and the handler tells the feed to read them at once. The feed
  // still reads them back from the store, with their commit positions, rather than taking them
  // from memory: so several all-in-one processes on one SQLite file (or one MongoDB) each stream
  // every process's events, in the same order, and every frame has its cursor.
  const feed = stores.feed({ onError: (err) => app.log.warn({ err, component: 'stream' }, 'reading new events for the stream failed') });
  const queue = new InProcessLogQueue();
  const worker = createStoreHandler(stores.logs, feed);
  await app.register(feedPlugin, { feed });
  await app.register(queuePlugin, { queue });
  await app.register(consumerPlugin, { handle: worker.handle });

  // The sealer shares the process and the store; its lease still makes it safe beside others. On
  // SQLite it seals on a thread of its own, so a seal does not hold up ingest (docs/tamper-evidence.md).
  const keys = dataDirKeys(config.DATA_DIR, config.INTEGRITY_ORIGIN, {
    signingKeyPem: config.INTEGRITY_SIGNING_KEY,
    keyRingJson: config.INTEGRITY_KEYRING,
  });
  keys.keys(); // a key ring that does not name the signing key stops the start, with the fix
  if (stores.integrity)
    await app.register(sealerPlugin, {
      store: stores.integrity,
      key: keys.signingKey,
      logName: config.INTEGRITY_ORIGIN,
      intervalMs: config.SEAL_INTERVAL * 1000,
      thread: stores.mongo ? undefined : { sqlitePath: sqlitePathOf(settings), key: keys.signingKeySource },
    });

  // The job's audit events go through the queue as a request's do: committed, then streamed.
  await app.register(retentionPlugin, {
    retention: stores.retention,
    logs: stores.logs,
    copies: stores.streams,
    record: (events) => queue.publish(events),
    tenantLimit: config.RETENTION_TENANT_LIMIT,
    intervalMs: config.RETENTION_INTERVAL * 1000,
    signer: keys.signingKey,
  });

  const metrics = registerMetrics(app, undefined, { serve: false });
  // ANALYTICS=chdb: the embedded engine in this process, fed by the sink from the store's commit order.
  await app.register(analyticsPlugin, { config, sink: { registry: metrics, stores: app.stores } });
  const { analytics } = app;
  // Log streams: the deliverer runs here, beside the store it follows; the key for destination
  // secrets is STREAM_SECRET_KEY or one made once and kept in the data folder, as AUTH_SECRET is.
  // STREAM_SECRET_KEY_PREVIOUS likewise defaults to the keys `make rotate-stream-key` retired there.
  const fileKeys = config.STREAM_SECRET_KEY === undefined ? loadStreamKeys(config.DATA_DIR) : undefined;
  const streams = fileKeys
    ? streamPartsFrom(config, fileKeys.key, config.STREAM_SECRET_KEY_PREVIOUS ?? fileKeys.previous)
    : streamPartsFrom(config);
  if (streams) await app.register(streamDeliveryPlugin, { ...streams, stores, registry: metrics });
  const health = registerHealth(
    app,
    { store: () => stores.logs.ping(), tenants: () => stores.tenants.ping(), queue: () => queue.ping() },
    analytics?.sink ? { analytics: () => analytics.sink?.status() } : {},
  );
  await registerDocs(app, { title: 'logserver', description: 'Multi-tenant audit-log API (all-in-one: logs, tenants, auth)' });
  await registerConsole(app);
  await app.register(
    buildAllInOneApp(
      {
        verifier: createJwtVerifier(auth),
        logs: stores.logs,
        tenants: stores.tenants,
        retention: stores.retention,
        queue,
        feed,
        streamLog: stores.streamLog,
        cursors: createCursorCodec(cursorKeyFrom(config.STREAM_CURSOR_KEY ?? auth.secret)),
        idempotency: stores.idempotency,
        workerStats: worker.stats,
        metrics,
        registry: config.AUTH_REQUIRE_REGISTERED_TENANT ? tenantRegistry(stores.tenants, config.AUTH_ADMIN_TENANT) : undefined,
        analytics: analytics ?? undefined,
        streams: streams ? streamAdmin(streams, stores.streams, stores.streamLog) : undefined,
        copies: stores.streams,
        integrity: integrityDeps(stores.integrity, keys.keys, config, { key: keys.signingKey, name: config.INTEGRITY_ORIGIN }),
      },
      {
        adminTenant: config.AUTH_ADMIN_TENANT,
        authSecret: auth.secret,
        keyScheme: auth.scheme,
        stream: streamLimits(config),
        rateLimit: rateLimitFrom(config),
        exports: exportLimits(config),
        searches: searchLimits(config),
        idempotency: idempotencyFrom(config),
        retentionBounds: retentionBounds(config),
      },
    ),
  );
  return {
    app,
    auth,
    stores,
    health,
    sealer: stores.integrity ? app.sealer : null,
    sink: analytics?.sink ?? null,
    retention: app.retention,
  };
}
