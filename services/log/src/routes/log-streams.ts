import { ADMINS } from '@logserver/shared/auth/rbac';
import { Unavailable } from '@logserver/shared/errors/catalogue';
import { ok } from '@logserver/shared/http/envelope';
import { errorResponses, okEnvelope } from '@logserver/shared/schemas/responses';
import { tenantOf } from '@logserver/shared/store/tenant-id';
import { CreateDestination, DESTINATION_KINDS } from '@logserver/shared/streams/destination';
import type { StreamAdmin } from '@logserver/shared/streams/destinations';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';

const DestinationState = z.object({
  status: z.enum(['ok', 'retrying', 'blocked', 'disabled']),
  position: z.number().int(),
  caught_up: z.boolean(),
  lag_positions: z.number().int(),
  lag_seconds: z.number(),
  delivered_events: z.number().int(),
  failed_attempts: z.number().int(),
  dead_lettered_events: z.number().int(),
  dead_letters: z.number().int(),
  last_error: z.string().nullable(),
  last_attempt_at: z.string().nullable(),
  last_delivered_at: z.string().nullable(),
});

const Destination = z.object({
  id: z.string(),
  name: z.string(),
  kind: z.enum(DESTINATION_KINDS),
  enabled: z.boolean(),
  filter: z.record(z.string(), z.string()),
  settings: z.record(z.string(), z.unknown()).describe('the kind’s settings (url, index, bucket, ca, …); secrets are never returned'),
  secrets_set: z
    .array(z.string())
    .describe('which secret fields are stored (sealed with STREAM_SECRET_KEY); their values are never returned'),
  created_at: z.string(),
  updated_at: z.string(),
  state: DestinationState,
});

const DeadLetter = z.object({
  id: z.number().int(),
  first_position: z.number().int(),
  last_position: z.number().int(),
  event_count: z.number().int(),
  error: z.string(),
  failed_at: z.string(),
  attempts: z.number().int(),
  replay_requested: z.boolean(),
});

const StreamParams = z.strictObject({ id: z.string().min(1).max(64) });
const UpdateBody = z
  .record(z.string(), z.unknown())
  .describe('Any of the fields of the create body except kind and start; secrets left out stay as they are; "ca": null removes the CA');
const ReplayBody = z
  .strictObject({ ids: z.array(z.number().int().min(1)).min(1).max(1000).optional() })
  .describe('ids: the dead letters to replay; left out, every one');
const DeadLettersQuery = z.strictObject({ limit: z.coerce.number().int().min(1).max(1000).default(100) });

/**
 * Log streams (docs/streams.md), tenant admin: the tenant's destinations, their state, and their
 * dead-letter lists. `admin` is null where STREAM_SECRET_KEY is not set: every route then answers
 * 503 saying so, rather than a 404 that would read as "no such feature".
 */
export function logStreamRoutes(admin: StreamAdmin | null): FastifyPluginAsyncZod {
  const need = (): StreamAdmin => {
    if (admin === null) throw new Unavailable('log streams are off on this server: set STREAM_SECRET_KEY (docs/streams.md)');
    return admin;
  };
  const tags = ['streams'];
  return async (app) => {
    app.get(
      '/api/v1/streams',
      {
        config: { audience: ADMINS },
        schema: {
          tags,
          summary: 'The tenant’s log-stream destinations with their delivery state (admin)',
          response: { 200: okEnvelope(z.array(Destination)), ...errorResponses(401, 403, 503) },
        },
      },
      async (request) => ok(await need().list(tenantOf(request.identity))),
    );
    app.post(
      '/api/v1/streams',
      {
        config: { audience: ADMINS },
        schema: {
          tags,
          summary: 'Add a destination that receives every event of the tenant (admin)',
          body: CreateDestination,
          response: { 200: okEnvelope(Destination), ...errorResponses(401, 403, 409, 422, 503) },
        },
      },
      async (request) => ok(await need().create(tenantOf(request.identity), request.body)),
    );
    app.get(
      '/api/v1/streams/:id',
      {
        config: { audience: ADMINS },
        schema: {
          tags,
          summary: 'One destination with its delivery state (admin)',
          params: StreamParams,
          response: { 200: okEnvelope(Destination), ...errorResponses(401, 403, 404, 503) },
        },
      },
      async (request) => ok(await need().get(tenantOf(request.identity), request.params.id)),
    );
    app.patch(
      '/api/v1/streams/:id',
      {
        config: { audience: ADMINS },
        schema: {
          tags,
          summary: 'Change a destination: name, enabled, filter, settings or secrets (admin)',
          params: StreamParams,
          body: UpdateBody,
          response: { 200: okEnvelope(Destination), ...errorResponses(401, 403, 404, 422, 503) },
        },
      },
      async (request) => ok(await need().update(tenantOf(request.identity), request.params.id, request.body)),
    );
    app.delete(
      '/api/v1/streams/:id',
      {
        config: { audience: ADMINS },
        schema: {
          tags,
          summary: 'Remove a destination with its progress and dead letters (admin)',
          params: StreamParams,
          response: { 200: okEnvelope(z.object({ deleted: z.literal(true) })), ...errorResponses(401, 403, 404, 503) },
        },
      },
      async (request) => {
        await need().remove(tenantOf(request.identity), request.params.id);
        return ok({ deleted: true as const });
      },
    );
    app.get(
      '/api/v1/streams/:id/dead-letters',
      {
        config: { audience: ADMINS },
        schema: {
          tags,
          summary: 'The batches that ran out of retries, oldest first (admin)',
          params: StreamParams,
          querystring: DeadLettersQuery,
          response: { 200: okEnvelope(z.array(DeadLetter)), ...errorResponses(401, 403, 404, 422, 503) },
        },
      },
      async (request) => {
        const letters = await need().deadLetters(tenantOf(request.identity), request.params.id, request.query.limit);
        return ok(
          letters.map((letter) => ({
            id: letter.id,
            first_position: letter.firstPosition,
            last_position: letter.lastPosition,
            event_count: letter.eventCount,
            error: letter.error,
            failed_at: letter.failedAt,
            attempts: letter.attempts,
            replay_requested: letter.replayRequested,
          })),
        );
      },
    );
    app.post(
      '/api/v1/streams/:id/dead-letters/replay',
      {
        config: { audience: ADMINS },
        schema: {
          tags,
          summary: 'Send dead letters again (all, or the ids given); delivered ones leave the list (admin)',
          params: StreamParams,
          body: ReplayBody.optional(),
          response: { 200: okEnvelope(z.object({ replay_requested: z.number().int() })), ...errorResponses(401, 403, 404, 422, 503) },
        },
      },
      async (request) => {
        const replay_requested = await need().replay(tenantOf(request.identity), request.params.id, request.body?.ids);
        return ok({ replay_requested });
      },
    );
  };
}
