import { WRITERS } from '@logserver/shared/auth/rbac';
import { ok } from '@logserver/shared/http/envelope';
import type { LogQueue } from '@logserver/shared/queue/port';
import { LIMITS } from '@logserver/shared/schemas/limits';
import { inputToEvent, LogEvent, LogEventBulkInput, LogEventInput } from '@logserver/shared/schemas/log-event';
import { errorResponses, okEnvelope } from '@logserver/shared/schemas/responses';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';

/** What the ingest routes use: the queue, and where ids and times come from. */
export interface IngestDeps {
  queue: Pick<LogQueue, 'publish'>;
  newId: () => string;
  now: () => Date;
}

/** POST one event or a bulk array; answered only once the queue says the events are durable. */
export function ingestRoutes(deps: IngestDeps): FastifyPluginAsyncZod {
  return async (app) => {
    app.post(
      '/api/v1/logs',
      {
        config: { audience: WRITERS },
        bodyLimit: LIMITS.singleBodyBytes,
        schema: {
          tags: ['logs'],
          summary: 'Create one audit event',
          body: LogEventInput,
          response: { 200: okEnvelope(LogEvent), ...errorResponses(400, 401, 403, 413, 415, 422, 503) },
        },
      },
      async (request) => {
        const event = inputToEvent(request.body, request.identity, deps.newId(), deps.now());
        await deps.queue.publish([event]);
        return ok(event);
      },
    );

    app.post(
      '/api/v1/logs/bulk',
      {
        config: { audience: WRITERS },
        bodyLimit: LIMITS.bulkBodyBytes,
        schema: {
          tags: ['logs'],
          summary: `Create up to ${LIMITS.bulkEvents} events at once, all or none`,
          description:
            'Each event keeps its own timestamp. One invalid item refuses the whole batch; the 422 lists every problem with its index in loc.',
          body: LogEventBulkInput,
          response: {
            200: okEnvelope(z.array(LogEvent), z.object({ count: z.number().int() })),
            ...errorResponses(400, 401, 403, 413, 415, 422, 503),
          },
        },
      },
      async (request) => {
        const now = deps.now();
        const events = request.body.map((input) => inputToEvent(input, request.identity, deps.newId(), now));
        await deps.queue.publish(events);
        return ok(events, { count: events.length });
      },
    );
  };
}
