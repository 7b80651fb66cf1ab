import { loadConfig } from '@logserver/shared/config/load-config';
import { listenOptions } from '@logserver/shared/config/schemas';
import { closeGracefully } from '@logserver/shared/http/shutdown';
import { composeLogWorker } from './compose.js';
import { LogWorkerConfig } from './config.js';

async function main(): Promise<void> {
  const config = loadConfig(LogWorkerConfig);
  const { app, health } = await composeLogWorker(config);
  closeGracefully(app, health, config.SHUTDOWN_DELAY_MS);
  await app.listen(listenOptions(config));
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
