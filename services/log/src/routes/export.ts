import { AUDITORS } from '@logserver/shared/auth/rbac';
import { ExportTooWide } from '@logserver/shared/errors/catalogue';
import type { CommitLog } from '@logserver/shared/feed/port';
import type { LogQueue } from '@logserver/shared/queue/port';
import { LogEvent } from '@logserver/shared/schemas/log-event';
import { ExportQuery } from '@logserver/shared/schemas/log-query';
import { errorResponses } from '@logserver/shared/schemas/responses';
import type { LogStore } from '@logserver/shared/store/port';
import { tenantOf } from '@logserver/shared/store/tenant-id';
import type { CursorCodec } from '@logserver/shared/stream/cursor';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { callerOf, queryAsGiven } from '../request-caller.js';
import { inCommitOrder } from '../rules/commit-order.js';
import {
  countThenRecord,
  EXPORT_MEDIA,
  encodeExport,
  exportFileName,
  flattenedColumns,
  MAX_FLATTENED_COLUMNS,
} from '../rules/export-format.js';
import { toLogFilter } from '../rules/filters.js';
import { resumePoint } from '../rules/resume-point.js';
import { selfAuditEvent } from '../rules/self-audit.js';

/** What export uses: the store to read, the queue for its own audit record, ids and times. */
export interface ExportDeps {
  store: Pick<LogStore, 'export'>;
  /** Commit order and cursors, for sort=commit and after=. */
  commitLog: Pick<CommitLog, 'after'>;
  cursors: CursorCodec;
  queue: Pick<LogQueue, 'publish'>;
  newId: () => string;
  now: () => Date;
}

/** Export: every matching event, streamed, and the export itself recorded as an audit event. */
export function exportRoutes(deps: ExportDeps): FastifyPluginAsyncZod {
  return async (app) => {
    app.get(
      '/api/v1/logs/export',
      {
        config: { audience: AUDITORS },
        schema: {
          tags: ['logs'],
          summary: 'Export matching events as NDJSON (default), CSV or a JSON array, streamed',
          description:
            'Same filters as the list; `sort` defaults to desc. `sort=commit` (or `after=<cursor>`) exports in the order stored, each event with its `cursor` (a last CSV column), so a broken download continues with `after=` the last cursor received. Sent as an attachment (Content-Disposition). The export is recorded in the tenant as a `logs.export` event with the parameters and the count.',
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
            ...errorResponses(401, 403, 422),
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
        // Recorded once the last event has been read and before the response ends, so a client that
        // received the whole export finds it recorded; an aborted one is recorded as not completed.
        const after = resumePoint(deps.cursors, tenant, { after: request.query.after });
        const inOrderStored = sort === 'commit' || after !== null;
        const source = inOrderStored
          ? inCommitOrder(deps.commitLog, deps.cursors, tenant, filter, after)
          : deps.store.export(tenant, filter, sort === 'asc' ? 'asc' : 'desc');
        const events = countThenRecord(source, (count, completed) =>
          deps.queue.publish([selfAuditEvent('logs.export', caller, { parameters, format, count, completed }, deps.newId(), deps.now())]),
        );
        let flattened: string[] | undefined;
        if (request.query.flatten) {
          // A first pass finds the dotted columns for the header; the second streams the rows.
          const columns = await flattenedColumns(deps.store.export(tenant, filter, sort === 'asc' ? 'asc' : 'desc'));
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
          cursor: inOrderStored,
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
