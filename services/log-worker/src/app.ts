import type { WorkerStats } from '@logserver/shared/pipeline/store-handler';
import type { FastifyPluginAsync } from 'fastify';

/** The worker's HTTP surface besides health and metrics: the Python system's /stats JSON. */
export function buildLogWorkerApp(deps: { stats: WorkerStats }): FastifyPluginAsync {
  return async (app) => {
    // An operator's counters (every tenant together), not part of the tenant API: kept out of /docs.
    app.get('/stats', { schema: { hide: true } }, async () => deps.stats);
  };
}
