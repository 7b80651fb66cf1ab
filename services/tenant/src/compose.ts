import { jwtSettings } from '@logserver/shared/auth/jwt-settings';
import { gatewayIdentity } from '@logserver/shared/auth/request-auth';
import { registerDocs } from '@logserver/shared/http/docs';
import { type Health, registerHealth } from '@logserver/shared/http/health';
import { registerMetrics } from '@logserver/shared/http/metrics';
import { createServer } from '@logserver/shared/http/server';
import { storesPlugin } from '@logserver/shared/plugins/stores';
import { storeSettings } from '@logserver/shared/stores';
import type { FastifyInstance } from 'fastify';
import { buildTenantApp } from './app.js';
import type { TenantConfig } from './config.js';

/** The tenant service from its config, ready to listen; its stores close with the app. */
export async function composeTenant(config: TenantConfig): Promise<{ app: FastifyInstance; health: Health }> {
  const app = createServer({ logLevel: config.LOG_LEVEL });
  // It hands out tenant keys, so it warns about md5-legacy keys as the services that verify them do.
  const auth = jwtSettings(config, config.AUTH_SECRET as string, app.log);
  await app.register(storesPlugin, { settings: storeSettings.parse(config) });
  const { tenants } = app.stores;
  const health = registerHealth(app, { tenants: () => tenants.ping() });
  registerMetrics(app);
  await registerDocs(app, { title: 'logserver tenant service', description: 'Multi-tenant audit-log API' });
  await app.register(
    buildTenantApp(
      { tenants, identity: gatewayIdentity() },
      { adminTenant: config.AUTH_ADMIN_TENANT, authSecret: auth.secret, keyScheme: auth.scheme },
    ),
  );
  return { app, health };
}
