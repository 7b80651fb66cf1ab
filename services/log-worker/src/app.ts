import type { WorkerStats } from '@logserver/shared/pipeline/store-handler';
import type { FastifyPluginAsync } from 'fastify';

/** The worker's HTTP surface besides health and metrics: the Python system's /stats JSON. */
export function buildLogWorkerApp(deps: { stats: WorkerStats }): FastifyPluginAsync {
  return async (app) => {
    app.get('/stats', async () => deps.stats);
  };
}
