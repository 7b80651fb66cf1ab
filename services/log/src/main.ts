import { createStoreHandler } from '@logserver/log-worker/worker';
import { gatewayIdentity } from '@logserver/shared/auth/request-auth';
import { loadConfig } from '@logserver/shared/config/load-config';
import { InProcessLogFeed } from '@logserver/shared/feed/in-process-log-feed';
import { registerDocs } from '@logserver/shared/http/docs';
import { registerHealth } from '@logserver/shared/http/health';
import { registerMetrics } from '@logserver/shared/http/metrics';
import { createServer } from '@logserver/shared/http/server';
import { closeGracefully } from '@logserver/shared/http/shutdown';
import { InProcessLogQueue } from '@logserver/shared/queue/in-process-log-queue';
import { openStores, storeSettings } from '@logserver/shared/store/open-stores';
import { buildLogApp } from './app.js';
import { LogConfig, streamLimits } from './config.js';

async function main(): Promise<void> {
  const config = loadConfig(LogConfig);
  const app = createServer({ logLevel: config.LOG_LEVEL });
  const stores = await openStores(storeSettings(config));
  // QUEUE=memory without a separate worker: events are written through to the store in this
  // process, and the stream is fed from here. The SQS queue replaces both in a deployment.
  const feed = new InProcessLogFeed();
  const queue = new InProcessLogQueue();
  await queue.consume(createStoreHandler(stores.logs, feed).handle);

  const health = registerHealth(app, { store: () => stores.logs.ping(), queue: () => queue.ping() });
  const metrics = registerMetrics(app);
  await registerDocs(app, { title: 'logserver log service', description: 'Multi-tenant audit-log API' });
  await app.register(
    buildLogApp(
      { store: stores.logs, queue, feed, identity: gatewayIdentity(), metrics },
      { adminTenant: config.AUTH_ADMIN_TENANT, stream: streamLimits(config) },
    ),
  );
  app.addHook('onClose', async () => {
    await queue.close();
    await feed.close();
    await stores.logs.close();
    await stores.tenants.close();
  });
  closeGracefully(app, health, config.SHUTDOWN_DELAY_MS);
  await app.listen({ port: config.PORT, host: config.HOST });
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
