import { PLATFORM_ADMIN } from '@logserver/shared/auth/rbac';
import type { TenantRegistry } from '@logserver/shared/auth/registered-tenants';
import { type IdentityResolver, requireAuth } from '@logserver/shared/auth/request-auth';
import { deriveTenantKey, type KeyScheme } from '@logserver/shared/auth/tenant-key';
import { TenantInUse, TenantReserved } from '@logserver/shared/errors/catalogue';
import { ok } from '@logserver/shared/http/envelope';
import { useZod } from '@logserver/shared/http/server';
import { retentionBounds, retentionBoundsConfig } from '@logserver/shared/retention/config';
import type { RetentionBounds } from '@logserver/shared/retention/policy';
import type { RetentionStore } from '@logserver/shared/retention/port';
import { errorResponses, okEnvelope } from '@logserver/shared/schemas/responses';
import { Tenant, TenantInput, TenantWithSecret } from '@logserver/shared/schemas/tenant';
import type { LogStore } from '@logserver/shared/store/port';
import { tenantOf } from '@logserver/shared/store/tenant-id';
import type { TenantStore } from '@logserver/shared/tenant-store/port';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { retentionRoutes } from './retention-routes.js';

export interface TenantDeps {
  tenants: TenantStore;
  identity: IdentityResolver;
  /**
   * Whether a key already has events (a tenant used before it was registered, or by a token from
   * before AUTH_REQUIRE_REGISTERED_TENANT): its key is live, so "creating" it must not hand it out.
   */
  hasEvents: (key: string) => Promise<boolean>;
  /** This process's registered-tenant cache, told of each new tenant. */
  registry?: TenantRegistry | undefined;
  /** Retention policies (GET/PUT /api/v1/tenants/{key}/retention, /api/v1/retention); absent, those routes are not served. */
  retention?: RetentionStore | undefined;
}

export interface TenantAppConfig {
  adminTenant: string;
  authSecret: string;
  keyScheme: KeyScheme;
  /** RETENTION_MIN_DAYS / RETENTION_MAX_DAYS; their defaults when absent. */
  retentionBounds?: RetentionBounds | undefined;
}

/** TenantDeps.hasEvents on a log store: one indexed row read. */
export function hasEventsIn(logs: Pick<LogStore, 'query'>): (key: string) => Promise<boolean> {
  return async (key) => {
    const page = await logs.query(tenantOf({ tenant: key }), {}, { kind: 'cursor', after: null, size: 1, sort: 'asc' });
    return page.items.length > 0;
  };
}

/** Tenant administration for the platform admin. The signing key is shown once, on create, and never stored. */
export function buildTenantApp(deps: TenantDeps, config: TenantAppConfig): FastifyPluginAsyncZod {
  return async (app) => {
    useZod(app);
    requireAuth(app, deps.identity, config.adminTenant);

    app.get(
      '/api/v1/tenants',
      {
        config: { audience: PLATFORM_ADMIN },
        schema: {
          tags: ['tenants'],
          summary: 'List tenants (platform admin)',
          response: { 200: okEnvelope(z.array(Tenant)), ...errorResponses(401, 403, 503) },
        },
      },
      async () => ok(await deps.tenants.list()),
    );

    app.post(
      '/api/v1/tenants',
      {
        config: { audience: PLATFORM_ADMIN },
        schema: {
          tags: ['tenants'],
          summary: 'Create a tenant (platform admin)',
          body: TenantInput,
          response: { 200: okEnvelope(TenantWithSecret), ...errorResponses(400, 401, 403, 409, 413, 415, 422, 503) },
        },
      },
      async (request) => {
        // The platform tenant's key signs platform tokens: handing it out would turn a 24-hour token into a permanent key.
        if (request.body.key === config.adminTenant) throw new TenantReserved(request.body.key);
        if (await deps.hasEvents(request.body.key)) throw new TenantInUse(request.body.key);
        const tenant = await deps.tenants.create(request.body);
        deps.registry?.remember(tenant.key);
        return ok({ ...tenant, secret: deriveTenantKey(config.keyScheme, config.authSecret, tenant.key) });
      },
    );

    if (deps.retention)
      await app.register(
        retentionRoutes({
          retention: deps.retention,
          tenants: deps.tenants,
          bounds: config.retentionBounds ?? retentionBounds(z.object(retentionBoundsConfig).parse({})),
        }),
      );
  };
}
