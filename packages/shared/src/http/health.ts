import type { FastifyInstance } from 'fastify';
import { failure, ok } from './envelope.js';

/** A readiness check throws when the dependency it guards cannot serve. */
export type ReadinessCheck = () => Promise<void>;

export interface Health {
  /** Turns /readyz to 503 while everything else keeps serving, so a load balancer drains first. */
  startShutdown(): void;
}

/**
 * /healthz answers while the process runs; /readyz runs every module's check and turns 503
 * as soon as shutdown starts, so load balancers stop sending work before connections close.
 */
export function registerHealth(
  app: FastifyInstance,
  checks: Record<string, ReadinessCheck>,
  /** Shown in /readyz beside the checks without deciding readiness (e.g. the analytics sink's lag). */
  details: Record<string, () => unknown> = {},
): Health {
  let closing = false;
  const startShutdown = () => {
    closing = true;
  };
  app.addHook('preClose', async () => startShutdown());
  app.get('/healthz', { schema: { hide: true } }, async () => ok({ status: 'ok' }));
  app.get('/readyz', { schema: { hide: true } }, async (_request, reply) => {
    if (closing) return reply.code(503).send(failure(503, 'shutting down', { status: 'closing' }));
    const results: Record<string, string> = {};
    let ready = true;
    await Promise.all(
      Object.entries(checks).map(async ([name, check]) => {
        try {
          await check();
          results[name] = 'ok';
        } catch (error) {
          ready = false;
          results[name] = error instanceof Error ? error.message : 'failed';
        }
      }),
    );
    const detail = Object.fromEntries(Object.entries(details).map(([name, read]) => [name, read()]));
    const extra = Object.keys(detail).length === 0 ? {} : { details: detail };
    if (!ready) return reply.code(503).send(failure(503, 'not ready', { status: 'not ready', checks: results, ...extra }));
    return ok({ status: 'ready', checks: results, ...extra });
  });
  return { startShutdown };
}
