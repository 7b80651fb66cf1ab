import { WRITERS } from '@logserver/shared/auth/rbac';
import { NotQueueable, ValidationFailed } from '@logserver/shared/errors/catalogue';
import { ok } from '@logserver/shared/http/envelope';
import { plainFirstSerializer, plainFirstValidator } from '@logserver/shared/http/plain-first';
import type { LogQueue } from '@logserver/shared/queue/port';
import { LIMITS } from '@logserver/shared/schemas/limits';
import { inputToEvent, LogEvent, LogEventBulkInput, LogEventInput } from '@logserver/shared/schemas/log-event';
import {
  plainEventEnvelope,
  plainEventsEnvelope,
  plainLogEventBulkInput,
  plainLogEventInput,
} from '@logserver/shared/schemas/log-event-fast-path';
import { errorResponses, okEnvelope } from '@logserver/shared/schemas/responses';
import { tenantOf } from '@logserver/shared/store/tenant-id';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { fingerprintOf, type IdempotentIngest, idempotencyKeyOf, REPLAYED_HEADER } from '../idempotent-ingest.js';

const IDEMPOTENCY_DESCRIPTION =
  'Send an Idempotency-Key header (e.g. a UUID) to make retries safe: the same key with the same body within IDEMPOTENCY_TTL answers the first answer again (with Idempotent-Replayed: true) and stores nothing; the same key with another body is a 422; while the first attempt is still being processed, a 409.';
// Loose: the validated headers replace request.headers, and every other header must stay.
const idempotencyHeaders = z.looseObject({
  'idempotency-key': z.string().optional().describe('Makes the request safe to retry (IETF draft-ietf-httpapi-idempotency-key-header)'),
});
/** `idempotencyHeaders` passes such headers unchanged (zod's copy has the same keys and values). */
const plainHeaders = (headers: unknown) => {
  if (typeof headers !== 'object' || headers === null) return undefined;
  const key = (headers as Record<string, unknown>)['idempotency-key'];
  return key === undefined || typeof key === 'string' ? headers : undefined;
};

/** What the ingest routes use: the queue, and where ids and times come from. */
export interface IngestDeps {
  queue: Pick<LogQueue, 'publish'>;
  newId: () => string;
  now: () => Date;
}

/**
 * POST one event or a bulk array; answered only once the queue says the events are durable.
 * With `keyed` (the idempotency store is there), an Idempotency-Key makes the request safe to retry.
 */
export function ingestRoutes(deps: IngestDeps, keyed: IdempotentIngest | null = null): FastifyPluginAsyncZod {
  return async (app) => {
    /** Publishes the events, once per Idempotency-Key when the request has one (and keys are kept). */
    async function ingest<T>(
      request: FastifyRequest,
      reply: FastifyReply,
      route: string,
      body: T,
      build: (idOf: (index: number) => string, receivedAt: Date) => LogEvent[],
    ): Promise<LogEvent[]> {
      const key = idempotencyKeyOf(request.headers['idempotency-key']);
      if (key === undefined || keyed === null) {
        const events = build(() => deps.newId(), deps.now());
        await deps.queue.publish(events);
        return events;
      }
      const fingerprint = fingerprintOf(route, request.identity.sub, body);
      const attempt = await keyed.run(tenantOf(request.identity), key, fingerprint, build, (events) => deps.queue.publish(events));
      if (attempt.replayed) reply.header(REPLAYED_HEADER, 'true');
      return attempt.events;
    }

    app.post(
      '/api/v1/logs',
      {
        config: { audience: WRITERS },
        bodyLimit: LIMITS.singleBodyBytes,
        // The hottest route: well-formed bodies and answers skip zod's parse and encode (#15, docs/benchmarks.md).
        validatorCompiler: plainFirstValidator({ body: plainLogEventInput, headers: plainHeaders }),
        serializerCompiler: plainFirstSerializer({ 200: plainEventEnvelope }),
        schema: {
          tags: ['logs'],
          summary: 'Create one audit event',
          description: IDEMPOTENCY_DESCRIPTION,
          headers: idempotencyHeaders,
          body: LogEventInput,
          response: { 200: okEnvelope(LogEvent), ...errorResponses(400, 401, 403, 409, 413, 415, 422, 503) },
        },
      },
      async (request, reply) => {
        const [event] = await ingest(request, reply, 'POST /api/v1/logs', request.body, (idOf, receivedAt) => [
          inputToEvent(request.body, request.identity, idOf(0), receivedAt),
        ]).catch((error: unknown) => {
          // One event: the problem is the body itself, not an item of it.
          if (error instanceof NotQueueable) throw new ValidationFailed(error.details.map((detail) => ({ ...detail, loc: ['body'] })));
          throw error;
        });
        return ok(event as LogEvent);
      },
    );

    app.post(
      '/api/v1/logs/bulk',
      {
        config: { audience: WRITERS },
        bodyLimit: LIMITS.bulkBodyBytes,
        validatorCompiler: plainFirstValidator({ body: plainLogEventBulkInput, headers: plainHeaders }),
        serializerCompiler: plainFirstSerializer({ 200: plainEventsEnvelope }),
        schema: {
          tags: ['logs'],
          summary: `Create up to ${LIMITS.bulkEvents} events at once, all or none`,
          description: `Each event keeps its own timestamp. One invalid item refuses the whole batch; the 422 lists every problem with its index in loc. ${IDEMPOTENCY_DESCRIPTION}`,
          headers: idempotencyHeaders,
          body: LogEventBulkInput,
          response: {
            200: okEnvelope(z.array(LogEvent), z.object({ count: z.number().int() })),
            ...errorResponses(400, 401, 403, 409, 413, 415, 422, 503),
          },
        },
      },
      async (request, reply) => {
        const events = await ingest(request, reply, 'POST /api/v1/logs/bulk', request.body, (idOf, receivedAt) =>
          request.body.map((input, index) => inputToEvent(input, request.identity, idOf(index), receivedAt)),
        );
        return ok(events, { count: events.length });
      },
    );
  };
}
