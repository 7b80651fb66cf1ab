import { loadConfig } from '@logserver/shared/config/load-config';
import { listenOptions } from '@logserver/shared/config/schemas';
import { closeGracefully } from '@logserver/shared/http/shutdown';
import { printBanner, seedDemoTenant } from './banner.js';
import { composeAllInOne } from './compose.js';
import { AllInOneConfig } from './config.js';

async function main(): Promise<void> {
  const config = loadConfig(AllInOneConfig);
  const { app, auth, stores, health } = await composeAllInOne(config);
  closeGracefully(app, health, config.SHUTDOWN_DELAY_MS);
  await seedDemoTenant(stores.tenants, config.DEMO_TENANT, app.log);
  const address = await app.listen(listenOptions(config));
  await printBanner({
    address,
    host: config.HOST,
    demoTenant: config.DEMO_TENANT,
    adminTenant: config.AUTH_ADMIN_TENANT,
    auth,
    tokens: config.BANNER_TOKENS,
  });
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
