import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import { AUDITORS } from '@logserver/shared/auth/rbac';
import { Conflict, ExportTooWide, TooManyExports, Unavailable, ValidationFailed } from '@logserver/shared/errors/catalogue';
import type { StreamLog } from '@logserver/shared/feed/port';
import { IntegrityGate } from '@logserver/shared/integrity/integrity-gate';
import { buildManifest, type ExportManifest, MANIFEST_MAX_EVENTS } from '@logserver/shared/integrity/manifest';
import { selfAuditEvent } from '@logserver/shared/integrity/self-audit';
import type { LogQueue } from '@logserver/shared/queue/port';
import { LogEvent } from '@logserver/shared/schemas/log-event';
import { ExportQuery } from '@logserver/shared/schemas/log-query';
import { errorResponses } from '@logserver/shared/schemas/responses';
import type { LogStore } from '@logserver/shared/store/port';
import { tenantOf } from '@logserver/shared/store/tenant-id';
import type { CursorCodec } from '@logserver/shared/stream/cursor';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { ExportLimits, ExportSlots } from '../export/export-slots.js';
import { watchIdle } from '../export/idle-watchdog.js';
import { callerOf, queryAsGiven } from '../request-caller.js';
import { inCommitOrder } from '../rules/commit-order.js';
import {
  countThenRecord,
  EXPORT_MEDIA,
  encodeCsvExport,
  encodeJsonExport,
  eventTexts,
  exportFileName,
  flattenedColumns,
  MAX_FLATTENED_COLUMNS,
  ndjsonLines,
  type Page,
  textBody,
} from '../rules/export-format.js';
import { toLogFilter } from '../rules/filters.js';
import { resumePoint } from '../rules/resume-point.js';
import { type IntegrityDeps, presentCheckpoint } from './integrity.js';

/** Passes the pages through and keeps their events' ids (at most `max`: a bound, beside the count checked before). */
async function* keepIds<T extends { id: string }>(pages: AsyncIterable<Page<T>>, ids: string[], max: number): AsyncIterable<Page<T>> {
  for await (const page of pages) {
    if (ids.length + page.length > max)
      throw new Error(`the export grew past ${max} events while it was read; the manifest is not written`);
    for (const event of page) ids.push(event.id);
    yield page;
  }
}

/** What export uses: the store to read, the queue for its own audit record, ids and times; integrity for manifest=true. */
export interface ExportDeps {
  store: Pick<LogStore, 'export' | 'exportText' | 'query' | 'get'>;
  /** Commit order and cursors, for sort=commit and after=. */
  streamLog: Pick<StreamLog, 'after'>;
  cursors: CursorCodec;
  queue: Pick<LogQueue, 'publish'>;
  newId: () => string;
  now: () => Date;
  integrity?: IntegrityDeps | undefined;
}

/**
 * manifest=true (docs/tamper-evidence.md "Verifiable export"): the NDJSON lines as usual, hashed as
 * they go out and their ids kept (at most MANIFEST_MAX_EVENTS, checked by a count before the first
 * byte), then one last line `{"manifest": …}` built once the last event was read.
 */
async function* withManifest(
  lines: AsyncIterable<Page<string>>,
  build: (count: number, bodySha256: string) => Promise<ExportManifest>,
  release: () => void,
): AsyncIterable<Page<string>> {
  const body = createHash('sha256');
  let count = 0;
  try {
    for await (const page of lines) {
      for (const line of page) body.update(line);
      count += page.length;
      yield page;
    }
    yield [`${JSON.stringify({ manifest: await build(count, body.digest('hex')) })}\n`];
  } finally {
    release();
  }
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
            'Same filters as the list; `sort` defaults to desc. Sent as an attachment (Content-Disposition). `sort=commit` (or `after=<cursor>`) exports in the order stored, each event with its `cursor` (a last CSV column), so a broken download continues with `after=` the last cursor received. The export is recorded in the tenant as a `logs.export` event with the parameters and the count. `manifest=true` (NDJSON, at most 10 000 events, 422 above): the last line is `{"manifest": …}`: count and SHA-256 of the lines before it, the checkpoint covering them, each event\'s leaf index, the tombstones between them with their cleanups, one multi-leaf proof, optionally a consistency proof from `trusted_size`, signed where the server holds the log key; `scripts/verify-offline.mjs check-export` checks it with no server.',
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
            ...errorResponses(401, 403, 409, 422, 429, 503),
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
        const manifest = request.query.manifest === 'true';
        const integrity = deps.integrity;
        let release = () => {};
        if (manifest) {
          if (!integrity) throw new Unavailable('this server keeps no tamper evidence, so an export cannot carry a manifest');
          const matching =
            (await deps.store.query(tenant, filter, { kind: 'offset', page: 1, size: 1, sort: sort === 'asc' ? 'asc' : 'desc' })).total ??
            0;
          if (matching > MANIFEST_MAX_EVENTS)
            throw new ValidationFailed([
              {
                loc: ['query', 'manifest'],
                msg: `${matching} events match; an export with manifest=true covers at most ${MANIFEST_MAX_EVENTS}: narrow it with from/to or filters, or check the whole log with scripts/verify-offline.mjs fetch`,
                type: 'value_error',
              },
            ]);
          if (request.query.trusted_size !== undefined) {
            const newest = (await integrity.store.latestCheckpoint(tenant))?.tree_size ?? 0;
            if (request.query.trusted_size > newest)
              throw new Conflict(
                `trusted_size=${request.query.trusted_size} is beyond the newest checkpoint (${newest}): it is not this log's`,
              );
          }
          release = (integrity.gate ?? new IntegrityGate()).acquire(tenant);
          // An aborted download may end before the body's generator ever runs: the slot is freed either way.
          reply.raw.once('close', release);
        }
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
        const ids: string[] = [];
        // Recorded once the last event has been read and before the response ends, so a client that
        // received the whole export finds it recorded; an aborted one is recorded as not completed.
        const record = (count: number, completed: boolean) =>
          deps.queue.publish([
            selfAuditEvent(
              'logs.export',
              caller,
              { parameters, format, count, completed, ...(timedOut ? { timed_out: true } : {}) },
              deps.newId(),
              deps.now(),
            ),
          ]);
        const after = resumePoint(deps.cursors, tenant, { after: request.query.after });
        const inOrderStored = sort === 'commit' || after !== null;
        const order = sort === 'asc' ? 'asc' : 'desc';
        const commitOrder = inOrderStored ? inCommitOrder(deps.streamLog, deps.cursors, tenant, filter, after) : null;
        let body: Readable;
        if (format === 'csv') {
          let flattened: string[] | undefined;
          if (request.query.flatten) {
            // A first pass finds the dotted columns for the header; the second streams the rows.
            const columns = await flattenedColumns(deps.store.export(tenant, filter, order));
            if (columns === null) {
              throw new ExportTooWide(
                `flatten=true: the matching events have more than ${MAX_FLATTENED_COLUMNS} distinct keys in before/after/metadata; narrow the filters or export without flatten`,
              );
            }
            flattened = columns;
          }
          const read = countThenRecord(commitOrder ?? deps.store.export(tenant, filter, order), record);
          const onError = (error: Error) => request.log.warn({ err: error }, 'export stream ended early');
          body = encodeCsvExport(read, onError, { raw: request.query.raw, bom: request.query.bom, flattened, cursor: inOrderStored });
        } else {
          // NDJSON and JSON lines are the events' JSON text, which a store keeping JSON text hands out without parsing it.
          const texts = commitOrder
            ? eventTexts(commitOrder)
            : (deps.store.exportText?.(tenant, filter, order) ?? eventTexts(deps.store.export(tenant, filter, order)));
          const read = countThenRecord(texts, record, (page) => page.length);
          body =
            manifest && integrity
              ? textBody(
                  withManifest(
                    ndjsonLines(keepIds(read, ids, MANIFEST_MAX_EVENTS)),
                    (count, bodySha256) =>
                      buildManifest(
                        {
                          store: integrity.store,
                          get: (t, id) => deps.store.get(t, id),
                          signer: integrity.signer,
                          present: (checkpoint) => presentCheckpoint(integrity.store, tenant, checkpoint),
                        },
                        { tenant, parameters, ids, count, bodySha256, now: deps.now(), trustedSize: request.query.trusted_size },
                      ),
                    release,
                  ),
                )
              : encodeJsonExport(format, read);
        }
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
