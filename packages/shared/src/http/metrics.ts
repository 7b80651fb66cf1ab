import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { Counter, collectDefaultMetrics, Histogram, Registry } from 'prom-client';

/**
 * Prometheus metrics for one process: Node's defaults plus request counts and latency by route.
 * The route label is the route pattern, never the raw URL, so ids and tokens cannot appear in it.
 * `serve: false` leaves the route to the caller (the all-in-one server puts it behind a token).
 */
export function registerMetrics(app: FastifyInstance, registry: Registry = new Registry(), options: { serve?: boolean } = {}): Registry {
  collectDefaultMetrics({ register: registry });
  const requests = new Counter({
    name: 'http_requests_total',
    help: 'HTTP requests by method, route and status',
    labelNames: ['method', 'route', 'status'],
    registers: [registry],
  });
  const latency = new Histogram({
    name: 'http_request_duration_seconds',
    help: 'HTTP request latency by method and route',
    labelNames: ['method', 'route'],
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [registry],
  });
  app.addHook('onResponse', async (request, reply) => {
    const route = request.routeOptions.url ?? 'unmatched';
    requests.inc({ method: request.method, route, status: reply.statusCode });
    latency.observe({ method: request.method, route }, reply.elapsedTime / 1000);
  });
  if (options.serve !== false) app.get('/metrics', { schema: { hide: true } }, metricsHandler(registry));
  return registry;
}

/** GET /metrics in Prometheus' text format; the all-in-one server serves it behind the platform admin's token. */
export function metricsHandler(registry: Registry) {
  return async (_request: FastifyRequest, reply: FastifyReply) => {
    reply.header('content-type', registry.contentType);
    return registry.metrics();
  };
}
