import type { AnalyticsStore } from '@logserver/shared/analytics/port';
import type { AnalyticsSlots } from '@logserver/shared/analytics/slots';
import { READERS } from '@logserver/shared/auth/rbac';
import { NotFound } from '@logserver/shared/errors/catalogue';
import { ok, okText } from '@logserver/shared/http/envelope';
import { plainFirstSerializer } from '@logserver/shared/http/plain-first';
import { LIMITS } from '@logserver/shared/schemas/limits';
import { LogEvent, SEVERITIES } from '@logserver/shared/schemas/log-event';
import { plainEventEnvelope, plainListEnvelope } from '@logserver/shared/schemas/log-event-fast-path';
import { ListLogsQuery, ListMeta, LogIdParams, StatsQuery } from '@logserver/shared/schemas/log-query';
import { errorResponses, okEnvelope } from '@logserver/shared/schemas/responses';
import type { LogPage, LogStore, PageRequest, SortOrder, StatsGroup } from '@logserver/shared/store/port';
import { tenantOf } from '@logserver/shared/store/tenant-id';
import type { FastifyReply } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { decodeCursor, encodeCursor, toLogFilter } from '../rules/filters.js';
import { analyticsAnswer, assertPrimaryAnswers } from '../rules/stats-answer.js';
import { zeroFilledBuckets } from '../rules/stats-buckets.js';
import type { SearchSlots } from '../search/search-slots.js';

const Counts = z.record(z.string(), z.number().int());
const PairCounts = z.record(z.string(), Counts);
const StatsData = z.union([
  Counts.describe('Without interval: count per group, e.g. {"INFO":n,"WARNING":n,"ERROR":n,"CRITICAL":n}'),
  PairCounts.describe('group_by with two fields: counts per first-field value, e.g. {"INFO":{"login":n}}'),
  z
    .object({
      totals: z.union([Counts, PairCounts]),
      buckets: z.array(z.object({ start: z.string(), counts: z.union([Counts, PairCounts]) })),
    })
    .describe('With interval: totals plus one zero-filled bucket per minute, hour, day, week (from Monday) or month, in UTC'),
]);
const StatsMeta = z.object({
  source: z.enum(['rollups', 'index', 'analytics']).describe('Where the counts came from'),
  as_of: z
    .string()
    .nullable()
    .describe('Every event stored before this time is counted (analytics: when the sink last caught up; null before it first did)'),
  group_by: z.string(),
  interval: z.string().nullable(),
  from: z.string().nullable(),
  to: z.string().nullable(),
  top: z.number().int().optional(),
  others: z.number().int().optional().describe('With top=N: events in the groups left out'),
});

/** What list, get and stats use: the store. */
export interface ReadDeps {
  store: Pick<LogStore, 'query' | 'queryText' | 'stats' | 'get'>;
  now: () => Date;
  /** With ANALYTICS on, stats are answered from the analytics store, within these slots. */
  analytics?: { store: AnalyticsStore; slots: AnalyticsSlots } | undefined;
}

/** The list's meta, ListMeta's keys in its order: page/size paging counts the matches, a cursor page does not. */
function listMeta(
  result: Pick<LogPage, 'total' | 'next'>,
  page: PageRequest,
  query: { size: number; sort: SortOrder },
): z.infer<typeof ListMeta> {
  const next_cursor = result.next ? encodeCursor(result.next, query.sort) : null;
  if (page.kind === 'cursor') return { size: query.size, next_cursor };
  const total = result.total ?? 0;
  return { total, page: page.page, size: query.size, pages: Math.ceil(total / query.size), next_cursor };
}

/** List, get and count: every query is scoped to the caller's tenant before it reaches the store. */
export function readRoutes(deps: ReadDeps, searches: SearchSlots): FastifyPluginAsyncZod {
  return async (app) => {
    app.get(
      '/api/v1/logs',
      {
        config: { audience: READERS },
        // A page of plain events is written by JSON.stringify, as zod's encode would write it (#15).
        serializerCompiler: plainFirstSerializer({ 200: plainListEnvelope }),
        schema: {
          tags: ['logs'],
          summary: 'Search and filter events',
          description: 'Newest first by default. Page with page/size (meta.total, meta.pages) or with cursor (meta.next_cursor).',
          querystring: ListLogsQuery,
          response: { 200: okEnvelope(z.array(LogEvent), ListMeta), ...errorResponses(401, 403, 422, 429, 503) },
        },
      },
      async (request, reply) => {
        const query = request.query;
        const filter = toLogFilter(query);
        const page: PageRequest =
          query.cursor !== undefined
            ? { kind: 'cursor', after: decodeCursor(query.cursor, query.sort), size: query.size, sort: query.sort }
            : { kind: 'offset', page: query.page ?? 1, size: query.size, sort: query.sort };
        const tenant = tenantOf(request.identity);
        const queryText = deps.store.queryText;
        if (queryText) {
          // The events' stored JSON text, put into the answer as it is (#15): what JSON.stringify of the parsed events writes.
          const result = await searches.run(tenant, filter, reply, () => queryText.call(deps.store, tenant, filter, page));
          const data = `[${result.items.map((item) => item.json).join(',')}]`;
          // A string with a JSON content type is sent as it is: neither the serializer nor zod reads it.
          const text: FastifyReply = reply.type('application/json; charset=utf-8');
          return text.send(okText(data, listMeta(result, page, query)));
        }
        const result = await searches.run(tenant, filter, reply, () => deps.store.query(tenant, filter, page));
        return ok(result.items, listMeta(result, page, query));
      },
    );

    app.get(
      '/api/v1/logs/stats',
      {
        config: { audience: READERS },
        schema: {
          tags: ['logs'],
          summary: 'Count events by one or two fields, optionally per minute, hour, day, week or month',
          description:
            'Without the analytics tier: group_by severity, action, resource_type or user_id, interval hour or day. With ANALYTICS on: any field, two fields (group_by=severity,action), every interval and top=N.',
          querystring: StatsQuery,
          response: { 200: okEnvelope(StatsData, StatsMeta.optional()), ...errorResponses(401, 403, 422, 429, 503) },
        },
        // Group names are client text, and zod drops a `__proto__` key when it re-parses an answer:
        // an action or subject of that name would vanish from the counts. The schema still documents
        // the answer at /docs; the answer itself is sent as built.
        serializerCompiler: () => (data) => JSON.stringify(data),
      },
      async (request, reply) => {
        const { group_by, interval, top } = request.query;
        const filter = toLogFilter(request.query);
        const tenant = tenantOf(request.identity);
        const base = { group_by: group_by.join(','), interval: interval ?? null, from: filter.from ?? null, to: filter.to ?? null };
        const analytics = deps.analytics;
        if (analytics) {
          const { result, checkpoint } = await analytics.slots.run(tenant, async () => {
            // The checkpoint first: every event counted was stored before as_of, or after (never less).
            const checkpoint = await analytics.store.loadCheckpoint();
            const result = await analytics.store.stats(tenant, filter, {
              groupBy: group_by,
              interval,
              top,
              maxGroups: LIMITS.statsGroups,
              maxCells: LIMITS.statsCells,
            });
            return { result, checkpoint };
          });
          const data = analyticsAnswer(result, { group_by, interval, top, from: filter.from, to: filter.to });
          const meta = {
            source: 'analytics' as const,
            as_of: checkpoint.caughtUpAt,
            ...base,
            ...(top === undefined ? {} : { top, others: result.others }),
          };
          return ok(data, meta);
        }
        assertPrimaryAnswers({ group_by, interval, top });
        const asOf = deps.now().toISOString();
        const result = await searches.run(tenant, filter, reply, () =>
          deps.store.stats(tenant, filter, {
            groupBy: group_by[0] as StatsGroup,
            interval: interval as 'hour' | 'day' | undefined,
          }),
        );
        const meta = { source: result.source ?? ('index' as const), as_of: asOf, ...base };
        // The Python system always answered every severity, zeros included; clients chart that shape.
        const keys = group_by[0] === 'severity' ? [...SEVERITIES] : Object.keys(result.totals).sort();
        const totals = { ...Object.fromEntries(keys.map((key) => [key, 0])), ...result.totals };
        if (interval === undefined) return ok(totals, meta);
        const buckets = zeroFilledBuckets(result, { interval, from: filter.from, to: filter.to, keys });
        return ok({ totals, buckets }, meta);
      },
    );

    app.get(
      '/api/v1/logs/:id',
      {
        config: { audience: READERS },
        serializerCompiler: plainFirstSerializer({ 200: plainEventEnvelope }),
        schema: {
          tags: ['logs'],
          summary: 'Get one event',
          params: LogIdParams,
          response: { 200: okEnvelope(LogEvent), ...errorResponses(401, 403, 404, 422, 503) },
        },
      },
      async (request) => {
        const event = await deps.store.get(tenantOf(request.identity), request.params.id);
        if (!event) throw new NotFound('Log');
        return ok(event);
      },
    );
  };
}
