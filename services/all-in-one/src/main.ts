import { loadConfig } from '@logserver/shared/config/load-config';
import closeWithGrace from 'close-with-grace';
import { printBanner, seedDemoTenant } from './banner.js';
import { composeAllInOne } from './compose.js';
import { AllInOneConfig } from './config.js';

async function main(): Promise<void> {
  const config = loadConfig(AllInOneConfig);
  const { app, auth, stores } = await composeAllInOne(config);
  closeWithGrace({ delay: 10_000 }, async ({ signal, err }) => {
    if (err) app.log.error({ err }, 'shutting down after an error');
    else app.log.info({ signal }, 'shutting down');
    await app.close();
  });
  await seedDemoTenant(stores.tenants, config.DEMO_TENANT, app.log);
  const address = await app.listen({ port: config.PORT, host: config.HOST });
  await printBanner({ address, demoTenant: config.DEMO_TENANT, adminTenant: config.AUTH_ADMIN_TENANT, auth });
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
