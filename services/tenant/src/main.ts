import { gatewayIdentity } from '@logserver/shared/auth/request-auth';
import { loadConfig } from '@logserver/shared/config/load-config';
import { registerDocs } from '@logserver/shared/http/docs';
import { registerHealth } from '@logserver/shared/http/health';
import { registerMetrics } from '@logserver/shared/http/metrics';
import { createServer } from '@logserver/shared/http/server';
import { closeGracefully } from '@logserver/shared/http/shutdown';
import { openStores, storeSettings } from '@logserver/shared/stores';
import { buildTenantApp } from './app.js';
import { TenantConfig } from './config.js';

async function main(): Promise<void> {
  const config = loadConfig(TenantConfig);
  const app = createServer({ logLevel: config.LOG_LEVEL });
  const stores = await openStores(storeSettings(config), { log: app.log });
  const health = registerHealth(app, { tenants: () => stores.tenants.ping() });
  registerMetrics(app);
  await registerDocs(app, { title: 'logserver tenant service', description: 'Multi-tenant audit-log API' });
  await app.register(
    buildTenantApp(
      { tenants: stores.tenants, identity: gatewayIdentity() },
      { adminTenant: config.AUTH_ADMIN_TENANT, authSecret: config.AUTH_SECRET as string, keyScheme: config.AUTH_KEY_SCHEME },
    ),
  );
  app.addHook('onClose', async () => {
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
