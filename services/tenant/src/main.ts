import { loadConfig } from '@logserver/shared/config/load-config';
import { closeGracefully } from '@logserver/shared/http/shutdown';
import { composeTenant } from './compose.js';
import { TenantConfig } from './config.js';

async function main(): Promise<void> {
  const config = loadConfig(TenantConfig);
  const { app, health } = await composeTenant(config);
  closeGracefully(app, health, config.SHUTDOWN_DELAY_MS);
  await app.listen({ port: config.PORT, host: config.HOST });
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
