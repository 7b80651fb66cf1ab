import { warnUnsignedGateway } from '@logserver/shared/auth/gateway-signature';
import { jwtSettings } from '@logserver/shared/auth/jwt-settings';
import { gatewayIdentity } from '@logserver/shared/auth/request-auth';
import { registerCors } from '@logserver/shared/http/cors';
import { registerDocs } from '@logserver/shared/http/docs';
import { type Health, registerHealth } from '@logserver/shared/http/health';
import { registerMetrics } from '@logserver/shared/http/metrics';
import { createServer } from '@logserver/shared/http/server';
import { type Dependency, deferred, gateUntilReady, storesDependency } from '@logserver/shared/lifecycle/dependency';
import { retentionBounds } from '@logserver/shared/retention/config';
import { storeSettings } from '@logserver/shared/stores';
import type { FastifyInstance } from 'fastify';
import { buildTenantApp, hasEventsIn } from './app.js';
import type { TenantConfig } from './config.js';

/** The tenant service from its config, ready to listen; its stores close with the app. */
export async function composeTenant(config: TenantConfig): Promise<{ app: FastifyInstance; health: Health }> {
  const app = createServer({ logLevel: config.LOG_LEVEL, trustProxy: config.TRUST_PROXY });
  // It hands out tenant keys, so it warns about md5-legacy keys as the services that verify them do.
  const auth = jwtSettings(config, config.AUTH_SECRET as string, app.log);
  await registerCors(app, config.CORS_ORIGINS);
  if (config.GATEWAY_SECRET === undefined) warnUnsignedGateway(app.log, 'it trusts any x-auth-* headers it receives');
  // MongoDB may come up after this process: it listens at once and answers 503 until it is reachable
  // (docs/operations.md "Starting before the dependencies").
  const stores = storesDependency(storeSettings.parse(config), {
    log: app.log.child({ component: 'dependencies' }),
    maxDelayMs: config.DEPENDENCY_RETRY_MAX_MS,
  });
  app.addHook('onClose', () => stores.close());
  gateUntilReady(app, [stores as Dependency<unknown>]);
  const tenants = deferred(stores, () => stores.value?.tenants);
  const logs = deferred(stores, () => stores.value?.logs);
  const retention = deferred(stores, () => stores.value?.retention);
  const health = registerHealth(app, { tenants: () => stores.require().tenants.ping() });
  registerMetrics(app);
  await registerDocs(app, { title: 'logserver tenant service', description: 'Multi-tenant audit-log API' });
  await app.register(
    buildTenantApp(
      { tenants, identity: gatewayIdentity(config.GATEWAY_SECRET), hasEvents: hasEventsIn(logs), retention },
      {
        adminTenant: config.AUTH_ADMIN_TENANT,
        authSecret: auth.secret,
        keyScheme: auth.scheme,
        retentionBounds: retentionBounds(config),
      },
    ),
  );
  return { app, health };
}
