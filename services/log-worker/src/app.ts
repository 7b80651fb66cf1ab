import type { Audience } from '@logserver/shared/auth/rbac';
import type { WorkerStats } from '@logserver/shared/pipeline/store-handler';
import type { FastifyPluginAsync } from 'fastify';

/**
 * The worker's HTTP surface besides health and metrics: the Python system's /stats JSON. Public
 * on the worker's own port (not routed by the gateway); the all-in-one server gives it an audience,
 * because there it sits beside the API and counts every tenant's events (docs/auth.md).
 */
export function buildLogWorkerApp(deps: { stats: WorkerStats }, config: { audience?: Audience | undefined } = {}): FastifyPluginAsync {
  return async (app) => {
    // An operator's counters (every tenant together), not part of the tenant API: kept out of /docs.
    app.get(
      '/stats',
      { schema: { hide: true }, ...(config.audience ? { config: { audience: config.audience } } : {}) },
      async () => deps.stats,
    );
  };
}
