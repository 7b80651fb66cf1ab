import { loadConfig } from '@logserver/shared/config/load-config';
import { ConfigError } from '@logserver/shared/errors/catalogue';
import { LogWorkerConfig } from './config.js';

async function main(): Promise<void> {
  const config = loadConfig(LogWorkerConfig);
  if (!config.SQS_URL) throw new ConfigError('SQS_URL: is required: the log-worker consumes SQS (the all-in-one server needs no worker)');
  throw new ConfigError('the SQS queue adapter is not part of this build yet');
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
