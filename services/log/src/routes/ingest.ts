import { ok } from '@logserver/shared/http/envelope';
import { LIMITS } from '@logserver/shared/schemas/limits';
import { LogEventBulkInput, LogEventInput, toLogEvent } from '@logserver/shared/schemas/log-event';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type { LogDeps } from '../app.js';

/** POST one event or a bulk array; answered only once the queue says the events are durable. */
export function ingestRoutes(deps: LogDeps): FastifyPluginAsyncZod {
  return async (app) => {
    app.post(
      '/api/v1/logs',
      { bodyLimit: LIMITS.singleBodyBytes, schema: { tags: ['logs'], summary: 'Create one audit event', body: LogEventInput } },
      async (request) => {
        const event = toLogEvent(request.body, request.identity, deps.newId(), deps.now());
        await deps.queue.publish([event]);
        return ok(event);
      },
    );

    app.post(
      '/api/v1/logs/bulk',
      {
        bodyLimit: LIMITS.bulkBodyBytes,
        schema: { tags: ['logs'], summary: `Create up to ${LIMITS.bulkEvents} events at once`, body: LogEventBulkInput },
      },
      async (request) => {
        const now = deps.now();
        const events = request.body.map((input) => toLogEvent(input, request.identity, deps.newId(), now));
        await deps.queue.publish(events);
        return ok(events, { count: events.length });
      },
    );
  };
}
