import { ADMINS, PLATFORM_ADMIN, READERS } from '@logserver/shared/auth/rbac';
import { NotFound } from '@logserver/shared/errors/catalogue';
import { ok } from '@logserver/shared/http/envelope';
import { platformPolicyBody, type RetentionBounds, tenantPolicyBody } from '@logserver/shared/retention/policy';
import type { RetentionPolicy, RetentionRun, RetentionStore } from '@logserver/shared/retention/port';
import { SEVERITIES } from '@logserver/shared/schemas/log-event';
import { errorResponses, okEnvelope } from '@logserver/shared/schemas/responses';
import { TenantKey } from '@logserver/shared/schemas/tenant';
import type { TenantStore } from '@logserver/shared/tenant-store/port';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';

export interface RetentionRouteDeps {
  retention: RetentionStore;
  tenants: Pick<TenantStore, 'get'>;
  bounds: RetentionBounds;
}

const RetentionView = z.object({
  tenant: z.string(),
  retention_days: z.number().int().nullable().describe('days every event is kept; null keeps them forever'),
  severity_days: z.partialRecord(z.enum(SEVERITIES), z.number().int()).describe('days per severity, overriding retention_days'),
  legal_hold: z.boolean().describe('while true, the policy deletes nothing'),
  updated_at: z.string().nullable(),
  updated_by: z.string().nullable(),
  bounds: z.object({ min_days: z.number().int(), max_days: z.number().int() }).describe('RETENTION_MIN_DAYS and RETENTION_MAX_DAYS'),
  last_run: z
    .object({ at: z.string(), deleted_count: z.number().int(), backlog: z.boolean() })
    .nullable()
    .describe("the job's last visit: backlog=true when the per-tenant limit stopped it and the next run continues"),
});

const PolicyDescription =
  'Events older than their severity’s days (severity_days, else retention_days) are deleted by the retention job at its next run ' +
  '(RETENTION_INTERVAL), in slices and at most RETENTION_TENANT_LIMIT per tenant per run; each deletion is recorded as a `logs.cleanup` ' +
  'event with metadata.by = "policy", and verify counts the events as deleted_by_policy. `logs.cleanup` records themselves are never deleted by a policy. ' +
  'Every days value must lie within RETENTION_MIN_DAYS and RETENTION_MAX_DAYS (422 otherwise). docs/retention.md.';

/**
 * Retention policies: the platform admin reads and sets any tenant's (and alone sets the legal
 * hold); a tenant's admin sets its own within the platform's bounds; its readers read it.
 */
export function retentionRoutes(deps: RetentionRouteDeps): FastifyPluginAsyncZod {
  const bounds = { min_days: deps.bounds.minDays, max_days: deps.bounds.maxDays };
  const view = async (tenant: string) => {
    const stored = await deps.retention.get(tenant);
    const policy: RetentionPolicy | null = stored?.policy ?? null;
    const last_run: RetentionRun | null = stored?.last_run ?? null;
    return {
      tenant,
      retention_days: policy?.retention_days ?? null,
      severity_days: policy?.severity_days ?? {},
      legal_hold: policy?.legal_hold ?? false,
      updated_at: policy?.updated_at ?? null,
      updated_by: policy?.updated_by ?? null,
      bounds,
      last_run,
    };
  };
  const registered = async (key: string) => {
    if ((await deps.tenants.get(key)) === null) throw new NotFound(`Tenant ${key}`);
  };
  const platformBody = platformPolicyBody(deps.bounds);
  const tenantBody = tenantPolicyBody(deps.bounds);
  const params = z.object({ key: TenantKey });

  return async (app) => {
    app.get(
      '/api/v1/tenants/:key/retention',
      {
        config: { audience: PLATFORM_ADMIN },
        schema: {
          tags: ['retention'],
          summary: 'A tenant’s retention policy (platform admin)',
          description:
            'The policy of a registered tenant (404 otherwise): its days, per severity where set, the legal hold, who set it, the platform’s bounds, and what the job’s last run deleted.',
          params,
          response: { 200: okEnvelope(RetentionView), ...errorResponses(401, 403, 404, 422, 503) },
        },
      },
      async (request) => {
        await registered(request.params.key);
        return ok(await view(request.params.key));
      },
    );

    app.put(
      '/api/v1/tenants/:key/retention',
      {
        config: { audience: PLATFORM_ADMIN },
        schema: {
          tags: ['retention'],
          summary: 'Set a tenant’s retention policy and legal hold (platform admin)',
          description: `${PolicyDescription} legal_hold: true stops every deletion by the policy until it is set false here; omitted, the hold stays as it was.`,
          params,
          body: platformBody,
          response: { 200: okEnvelope(RetentionView), ...errorResponses(400, 401, 403, 404, 413, 415, 422, 503) },
        },
      },
      async (request) => {
        const { key } = request.params;
        await registered(key);
        const current = await deps.retention.get(key);
        const { legal_hold, ...days } = request.body;
        await deps.retention.put(key, {
          ...days,
          legal_hold: legal_hold ?? current?.policy.legal_hold ?? false,
          updated_at: new Date().toISOString(),
          updated_by: `platform:${request.identity.sub}`,
        });
        return ok(await view(key));
      },
    );

    app.get(
      '/api/v1/retention',
      {
        config: { audience: READERS },
        schema: {
          tags: ['retention'],
          summary: 'The caller’s tenant’s retention policy',
          description:
            'How long the caller’s tenant’s events are kept (retention_days, severity_days; null: forever), whether a legal hold stops deletion, the platform’s bounds for PUT, and what the job’s last run deleted. Roles: viewer, auditor, admin.',
          response: { 200: okEnvelope(RetentionView), ...errorResponses(401, 403, 503) },
        },
      },
      async (request) => ok(await view(request.identity.tenant)),
    );

    app.put(
      '/api/v1/retention',
      {
        config: { audience: ADMINS },
        schema: {
          tags: ['retention'],
          summary: 'Set the caller’s tenant’s retention policy, within the platform’s bounds (admin)',
          description: `${PolicyDescription} The legal hold is the platform admin’s (PUT /api/v1/tenants/{key}/retention): it stays as it is, and a body naming it is a 422.`,
          body: tenantBody,
          response: { 200: okEnvelope(RetentionView), ...errorResponses(400, 401, 403, 413, 415, 422, 503) },
        },
      },
      async (request) => {
        const tenant = request.identity.tenant;
        const current = await deps.retention.get(tenant);
        await deps.retention.put(tenant, {
          ...request.body,
          legal_hold: current?.policy.legal_hold ?? false,
          updated_at: new Date().toISOString(),
          updated_by: `tenant:${request.identity.sub}`,
        });
        return ok(await view(tenant));
      },
    );
  };
}
