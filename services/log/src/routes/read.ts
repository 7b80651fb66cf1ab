import { NotFound } from '@logserver/shared/errors/catalogue';
import { ok } from '@logserver/shared/http/envelope';
import { SEVERITIES } from '@logserver/shared/schemas/log-event';
import { ListLogsQuery, LogIdParams, StatsQuery } from '@logserver/shared/schemas/log-query';
import type { PageRequest } from '@logserver/shared/store/port';
import { tenantOf } from '@logserver/shared/store/tenant-id';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type { LogDeps } from '../app.js';
import { decodeCursor, encodeCursor, toLogFilter } from '../rules/filters.js';

/** List, get and count: every query is scoped to the caller's tenant before it reaches the store. */
export function readRoutes(deps: LogDeps): FastifyPluginAsyncZod {
  return async (app) => {
    app.get(
      '/api/v1/logs',
      { schema: { tags: ['logs'], summary: 'Search and filter events', querystring: ListLogsQuery } },
      async (request) => {
        const query = request.query;
        const tenant = tenantOf(request.identity);
        const filter = toLogFilter(query);
        const request_: PageRequest =
          query.cursor !== undefined
            ? { kind: 'cursor', after: decodeCursor(query.cursor, query.sort), size: query.size, sort: query.sort }
            : { kind: 'offset', page: query.page ?? 1, size: query.size, sort: query.sort };
        const result = await deps.store.query(tenant, filter, request_);
        const next_cursor = result.next ? encodeCursor(result.next, query.sort) : null;
        if (request_.kind === 'cursor') return ok(result.items, { size: query.size, next_cursor });
        const total = result.total ?? 0;
        return ok(result.items, { total, page: request_.page, size: query.size, pages: Math.ceil(total / query.size), next_cursor });
      },
    );

    app.get(
      '/api/v1/logs/stats',
      { schema: { tags: ['logs'], summary: 'Count events by severity or another field', querystring: StatsQuery } },
      async (request) => {
        const { group_by, interval } = request.query;
        const result = await deps.store.stats(tenantOf(request.identity), toLogFilter(request.query), { groupBy: group_by, interval });
        // The Python system always answered every severity, zeros included; clients chart that shape.
        if (group_by === 'severity') {
          return ok({ ...Object.fromEntries(SEVERITIES.map((severity) => [severity, 0])), ...result.totals });
        }
        return ok(result.totals);
      },
    );

    app.get('/api/v1/logs/:id', { schema: { tags: ['logs'], summary: 'Get one event', params: LogIdParams } }, async (request) => {
      const event = await deps.store.get(tenantOf(request.identity), request.params.id);
      if (!event) throw new NotFound('Log');
      return ok(event);
    });
  };
}
