import { PLATFORM_ADMIN } from '@logserver/shared/auth/rbac';
import { type IdentityResolver, requireAuth } from '@logserver/shared/auth/request-auth';
import { deriveTenantKey, type KeyScheme } from '@logserver/shared/auth/tenant-key';
import { ok } from '@logserver/shared/http/envelope';
import { useZod } from '@logserver/shared/http/server';
import { errorResponses, okEnvelope } from '@logserver/shared/schemas/responses';
import { Tenant, TenantInput, TenantWithSecret } from '@logserver/shared/schemas/tenant';
import type { TenantStore } from '@logserver/shared/tenant-store/port';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';

export interface TenantDeps {
  tenants: TenantStore;
  identity: IdentityResolver;
}

export interface TenantAppConfig {
  adminTenant: string;
  authSecret: string;
  keyScheme: KeyScheme;
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
        const tenant = await deps.tenants.create(request.body);
        return ok({ ...tenant, secret: deriveTenantKey(config.keyScheme, config.authSecret, tenant.key) });
      },
    );
  };
}
