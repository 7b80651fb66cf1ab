import { gatewayIdentity } from '@logserver/shared/auth/request-auth';
import { loadConfig } from '@logserver/shared/config/load-config';
import { registerCors } from '@logserver/shared/http/cors';
import { registerDocs } from '@logserver/shared/http/docs';
import { registerHealth } from '@logserver/shared/http/health';
import { registerMetrics } from '@logserver/shared/http/metrics';
import { createServer } from '@logserver/shared/http/server';
import { closeGracefully } from '@logserver/shared/http/shutdown';
import { Dependency, deferred, gateUntilReady } from '@logserver/shared/lifecycle/dependency';
import { openStores, storeSettings } from '@logserver/shared/store/open-stores';
import { buildTenantApp } from './app.js';
import { TenantConfig } from './config.js';

async function main(): Promise<void> {
  const config = loadConfig(TenantConfig);
  const app = createServer({ logLevel: config.LOG_LEVEL });
  await registerCors(app, config.CORS_ORIGINS);
  // MongoDB may come up after this process: it listens at once and answers 503 until it is reachable.
  const settings = storeSettings(config);
  const stores = new Dependency(settings.store === 'mongodb' ? 'MongoDB' : 'SQLite', () => openStores(settings, { log: app.log }), {
    log: app.log.child({ component: 'dependencies' }),
    maxDelayMs: config.DEPENDENCY_RETRY_MAX_MS,
    onClose: async (opened) => {
      await opened.logs.close();
      await opened.tenants.close();
    },
  });
  gateUntilReady(app, [stores as Dependency<unknown>]);
  const health = registerHealth(app, { tenants: () => stores.require().tenants.ping() });
  registerMetrics(app);
  await registerDocs(app, { title: 'logserver tenant service', description: 'Multi-tenant audit-log API' });
  await app.register(
    buildTenantApp(
      { tenants: deferred(stores, () => stores.value?.tenants), identity: gatewayIdentity() },
      { adminTenant: config.AUTH_ADMIN_TENANT, authSecret: config.AUTH_SECRET as string, keyScheme: config.AUTH_KEY_SCHEME },
    ),
  );
  app.addHook('onClose', () => stores.close());
  closeGracefully(app, health, config.SHUTDOWN_DELAY_MS);
  await app.listen({ port: config.PORT, host: config.HOST });
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
