import { rateLimitFrom, streamLimits } from '@logserver/log/config';
import { createStoreHandler } from '@logserver/log-worker/worker';
import { createJwtVerifier, type JwtSettings } from '@logserver/shared/auth/jwt-verifier';
import { registerDocs } from '@logserver/shared/http/docs';
import { type Health, registerHealth } from '@logserver/shared/http/health';
import { registerMetrics } from '@logserver/shared/http/metrics';
import { createServer } from '@logserver/shared/http/server';
import { Sealer } from '@logserver/shared/integrity/sealer';
import { signingKeyFromPem } from '@logserver/shared/integrity/signing-key';
import { InProcessLogQueue } from '@logserver/shared/queue/in-process-log-queue';
import type { MongoDatabase } from '@logserver/shared/store/mongo-database';
import { openStores, type Stores, storeSettings } from '@logserver/shared/store/open-stores';
import { createCursorCodec, cursorKeyFrom } from '@logserver/shared/stream/cursor';
import type { FastifyInstance } from 'fastify';
import { buildAllInOneApp } from './app.js';
import type { AllInOneConfig } from './config.js';
import { loadOrCreateSecret, loadOrCreateSigningKey } from './secret.js';

export interface AllInOne {
  app: FastifyInstance;
  auth: JwtSettings;
  stores: Stores;
  health: Health;
  /** Seals on its timer (SEAL_INTERVAL > 0); tests call sealAll() to seal now. */
  sealer: Sealer | null;
}

/**
 * Builds the whole all-in-one server from its config, ready to listen: the embedded adapters,
 * the worker attached to the in-process queue, health and metrics. main.ts and the tests share it.
 */
export async function composeAllInOne(config: AllInOneConfig, options: { mongoDatabase?: MongoDatabase } = {}): Promise<AllInOne> {
  const app = createServer({ logLevel: config.LOG_LEVEL });
  const secret = config.AUTH_SECRET ?? loadOrCreateSecret(config.DATA_DIR).secret;
  if (config.AUTH_KEY_SCHEME === 'md5-legacy') {
    app.log.warn(
      'AUTH_KEY_SCHEME=md5-legacy: tenant keys are md5(tenant + secret), as the Python system made them. Migrate to hmac-sha256.',
    );
  }
  const auth: JwtSettings = {
    secret,
    scheme: config.AUTH_KEY_SCHEME,
    audience: config.AUTH_AUDIENCE,
    issuer: config.AUTH_ISSUER,
    requireExp: config.AUTH_REQUIRE_EXP,
  };
  const stores = await openStores(storeSettings(config), { log: app.log, mongoDatabase: options.mongoDatabase });
  // The queue writes through to the worker's handler in this process, so a POST is answered
  // once its events are committed, and the handler tells the feed to read them at once. The feed
  // still reads them back from the store, with their commit positions, rather than taking them
  // from memory: so several all-in-one processes on one SQLite file (or one MongoDB) each stream
  // every process's events, in the same order, and every frame has its cursor.
  const feed = stores.feed({ onError: (err) => app.log.warn({ err, component: 'stream' }, 'reading new events for the stream failed') });
  await feed.start();
  const queue = new InProcessLogQueue();
  const worker = createStoreHandler(stores.logs, feed);
  await queue.consume(worker.handle);

  // The sealer shares the process and the SQLite file; its lease still makes it safe beside others.
  const signingKey = signingKeyFromPem(config.INTEGRITY_SIGNING_KEY ?? loadOrCreateSigningKey(config.DATA_DIR));
  const integrityStore = stores.integrity;
  const sealer = integrityStore
    ? new Sealer({
        store: integrityStore,
        key: signingKey,
        onError: (err) => app.log.error({ err, component: 'sealer' }, 'sealing failed'),
      })
    : null;
  if (sealer && config.SEAL_INTERVAL > 0) sealer.start(config.SEAL_INTERVAL * 1000);

  const health = registerHealth(app, { store: () => stores.logs.ping(), tenants: () => stores.tenants.ping(), queue: () => queue.ping() });
  const metrics = registerMetrics(app);
  await registerDocs(app, { title: 'logserver', description: 'Multi-tenant audit-log API (all-in-one: logs, tenants, auth)' });
  await app.register(
    buildAllInOneApp(
      {
        verifier: createJwtVerifier(auth),
        logs: stores.logs,
        tenants: stores.tenants,
        queue,
        feed,
        commitLog: stores.commitLog,
        cursors: createCursorCodec(cursorKeyFrom(config.STREAM_CURSOR_KEY ?? secret)),
        workerStats: worker.stats,
        metrics,
        integrity: integrityStore && {
          store: integrityStore,
          publicKeyPem: signingKey.publicKeyPem,
          sealIntervalSeconds: config.SEAL_INTERVAL,
        },
      },
      {
        adminTenant: config.AUTH_ADMIN_TENANT,
        authSecret: secret,
        keyScheme: config.AUTH_KEY_SCHEME,
        stream: streamLimits(config),
        rateLimit: rateLimitFrom(config),
      },
    ),
  );
  app.addHook('onClose', async () => {
    await sealer?.stop();
    await queue.close();
    await feed.close();
    await stores.commitLog.close();
    await stores.logs.close();
    await stores.tenants.close();
    await stores.integrity?.close();
  });
  return { app, auth, stores, health, sealer };
}
