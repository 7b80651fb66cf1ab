import { rateLimitFrom, streamLimits } from '@logserver/log/config';
import { createStoreHandler } from '@logserver/log-worker/worker';
import { createJwtVerifier, type JwtSettings } from '@logserver/shared/auth/jwt-verifier';
import { InProcessLogFeed } from '@logserver/shared/feed/in-process-log-feed';
import { registerDocs } from '@logserver/shared/http/docs';
import { type Health, registerHealth } from '@logserver/shared/http/health';
import { registerMetrics } from '@logserver/shared/http/metrics';
import { createServer } from '@logserver/shared/http/server';
import { witnessKeysFrom } from '@logserver/shared/integrity/keyring';
import { Sealer } from '@logserver/shared/integrity/sealer';
import { InProcessLogQueue } from '@logserver/shared/queue/in-process-log-queue';
import type { MongoDatabase } from '@logserver/shared/store/mongo-database';
import { openStores, type Stores, storeSettings } from '@logserver/shared/store/open-stores';
import type { FastifyInstance } from 'fastify';
import { buildAllInOneApp } from './app.js';
import type { AllInOneConfig } from './config.js';
import { dataDirKeys, loadOrCreateSecret } from './secret.js';

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
  // once its events are committed, and the stream hears of them without reading them back
  // (also on MongoDB: one process stores every event it streams, so no change stream is needed).
  const feed = new InProcessLogFeed();
  const queue = new InProcessLogQueue();
  const worker = createStoreHandler(stores.logs, feed);
  await queue.consume(worker.handle);

  // The sealer shares the process and the SQLite file; its lease still makes it safe beside others.
  const keys = dataDirKeys(config.DATA_DIR, config.INTEGRITY_ORIGIN, {
    signingKeyPem: config.INTEGRITY_SIGNING_KEY,
    keyRingJson: config.INTEGRITY_KEYRING,
  });
  keys.keys(); // a key ring that does not name the signing key stops the start, with the fix
  const integrityStore = stores.integrity;
  const sealer = integrityStore
    ? new Sealer({
        store: integrityStore,
        key: keys.signingKey,
        logName: config.INTEGRITY_ORIGIN,
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
        workerStats: worker.stats,
        metrics,
        integrity: integrityStore && {
          store: integrityStore,
          keys: keys.keys,
          witnesses: witnessKeysFrom(config.INTEGRITY_WITNESS_KEYS),
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
    await stores.logs.close();
    await stores.tenants.close();
    await stores.integrity?.close();
  });
  return { app, auth, stores, health, sealer };
}
