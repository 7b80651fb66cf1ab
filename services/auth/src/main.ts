import { jwtSettingsFrom } from '@logserver/shared/auth/jwt-settings';
import { createJwtVerifier } from '@logserver/shared/auth/jwt-verifier';
import { loadConfig } from '@logserver/shared/config/load-config';
import { registerHealth } from '@logserver/shared/http/health';
import { registerMetrics } from '@logserver/shared/http/metrics';
import { createServer } from '@logserver/shared/http/server';
import { closeGracefully } from '@logserver/shared/http/shutdown';
import { buildAuthApp } from './app.js';
import { AuthConfig } from './config.js';

async function main(): Promise<void> {
  const config = loadConfig(AuthConfig);
  const app = createServer({ logLevel: config.LOG_LEVEL });
  if (config.AUTH_KEY_SCHEME === 'md5-legacy') app.log.warn('AUTH_KEY_SCHEME=md5-legacy is weak: migrate tokens to hmac-sha256.');
  const verifier = createJwtVerifier(jwtSettingsFrom(config, config.AUTH_SECRET as string));
  const health = registerHealth(app, {});
  registerMetrics(app);
  await app.register(buildAuthApp({ verifier }, { adminTenant: config.AUTH_ADMIN_TENANT }));
  closeGracefully(app, health, config.SHUTDOWN_DELAY_MS);
  await app.listen({ port: config.PORT, host: config.HOST });
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
