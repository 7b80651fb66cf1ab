import { AUDITORS } from '@logserver/shared/auth/rbac';
import { ExportTooWide, TooManyExports } from '@logserver/shared/errors/catalogue';
import type { LogQueue } from '@logserver/shared/queue/port';
import { LogEvent } from '@logserver/shared/schemas/log-event';
import { ExportQuery } from '@logserver/shared/schemas/log-query';
import { errorResponses } from '@logserver/shared/schemas/responses';
import type { LogStore } from '@logserver/shared/store/port';
import { tenantOf } from '@logserver/shared/store/tenant-id';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { ExportLimits, ExportSlots } from '../export/export-slots.js';
import { watchIdle } from '../export/idle-watchdog.js';
import { callerOf, queryAsGiven } from '../request-caller.js';
import {
  countThenRecord,
  EXPORT_MEDIA,
  encodeExport,
  exportFileName,
  flattenedColumns,
  MAX_FLATTENED_COLUMNS,
} from '../rules/export-format.js';
import { toLogFilter } from '../rules/filters.js';
import { selfAuditEvent } from '../rules/self-audit.js';

/** What export uses: the store to read, the queue for its own audit record, ids and times. */
export interface ExportDeps {
  store: Pick<LogStore, 'export'>;
  queue: Pick<LogQueue, 'publish'>;
  newId: () => string;
  now: () => Date;
}

/**
 * Export: every matching event, streamed, and the export itself recorded as an audit event. Each
 * export takes a slot (per tenant and per process, 429 when none is free) until its response closes,
 * and a client that stops reading is cut off after the idle timeout and recorded as incomplete.
 */
export function exportRoutes(deps: ExportDeps, slots: ExportSlots, limits: ExportLimits): FastifyPluginAsyncZod {
  return async (app) => {
    app.get(
      '/api/v1/logs/export',
      {
        config: { audience: AUDITORS },
        schema: {
          tags: ['logs'],
          summary: 'Export matching events as NDJSON (default), CSV or a JSON array, streamed',
          description:
            'Same filters as the list; `sort` defaults to desc. Sent as an attachment (Content-Disposition). The export is recorded in the tenant as a `logs.export` event with the parameters and the count.',
          querystring: ExportQuery,
          response: {
            200: {
              description: 'The events, streamed',
              content: {
                'application/x-ndjson': { schema: z.string().describe('One JSON event per line') },
                'text/csv': {
                  schema: z
                    .string()
                    .describe(
                      'RFC 4180, header row, nested objects as JSON text (flatten=true: dotted columns); cells starting with = + - @ tab or CR get a leading quote unless raw=true; bom=true starts with a UTF-8 BOM',
                    ),
                },
                'application/json': { schema: z.array(LogEvent) },
              },
            },
            ...errorResponses(401, 403, 422, 429),
          },
        },
      },
      async (request, reply) => {
        const { format, sort } = request.query;
        const tenant = tenantOf(request.identity);
        const filter = toLogFilter(request.query);
        const caller = callerOf(request);
        const parameters = queryAsGiven(request.url);
        const now = deps.now();
        const slot = slots.acquire(tenant);
        if ('refused' in slot) {
          reply.header('retry-after', '5');
          throw new TooManyExports(
            slot.refused === 'tenant' ? `for this tenant (${limits.perTenant})` : `on this server (${limits.perProcess})`,
          );
        }
        let timedOut = false;
        const stopWatching = watchIdle(request.raw.socket, limits.idleTimeoutMs, () => {
          timedOut = true;
          request.log.info({ idleMs: limits.idleTimeoutMs }, 'export client stopped reading; closing it');
          reply.raw.destroy();
        });
        reply.raw.once('close', () => {
          stopWatching();
          slot.release();
        });
        // Recorded once the last event has been read and before the response ends, so a client that
        // received the whole export finds it recorded; an aborted one is recorded as not completed.
        const events = countThenRecord(deps.store.export(tenant, filter, sort), (count, completed) =>
          deps.queue.publish([
            selfAuditEvent(
              'logs.export',
              caller,
              { parameters, format, count, completed, ...(timedOut ? { timed_out: true } : {}) },
              deps.newId(),
              deps.now(),
            ),
          ]),
        );
        let flattened: string[] | undefined;
        if (request.query.flatten) {
          // A first pass finds the dotted columns for the header; the second streams the rows.
          const columns = await flattenedColumns(deps.store.export(tenant, filter, sort));
          if (columns === null) {
            throw new ExportTooWide(
              `flatten=true: the matching events have more than ${MAX_FLATTENED_COLUMNS} distinct keys in before/after/metadata; narrow the filters or export without flatten`,
            );
          }
          flattened = columns;
        }
        const body = encodeExport(format, events, (error) => request.log.warn({ err: error }, 'export stream ended early'), {
          raw: request.query.raw,
          bom: request.query.bom,
          flattened,
        });
        return (
          reply
            .header('content-type', EXPORT_MEDIA[format].contentType)
            .header('content-disposition', `attachment; filename="${exportFileName(tenant, format, now)}"`)
            .header('cache-control', 'no-store')
            // A stream is sent as it is, never through the response serializer, so its type is not the schema's.
            .send(body as unknown as string)
        );
      },
    );
  };
}
