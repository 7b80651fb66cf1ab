import type { WebSocket } from '@fastify/websocket';
import { STREAM_PATH } from '@logserver/shared/auth/rbac';
import { filterShape, strictQuery } from '@logserver/shared/schemas/log-query';
import { matchesFilter } from '@logserver/shared/store/filter';
import { tenantOf } from '@logserver/shared/store/tenant-id';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { LogDeps } from '../app.js';
import { toLogFilter } from '../rules/filters.js';

const StreamQuery = strictQuery({ ...filterShape, token: z.string().optional() });

/** The live stream: each of the tenant's stored events that matches the filters, as one JSON text frame. */
export function streamRoutes(deps: LogDeps): FastifyPluginAsyncZod {
  return async (app) => {
    app.get(
      STREAM_PATH,
      { websocket: true, schema: { tags: ['logs'], summary: 'Live events (WebSocket)', querystring: StreamQuery } },
      (socket: WebSocket, request) => {
        const filter = toLogFilter(request.query);
        const unsubscribe = deps.feed.subscribe(tenantOf(request.identity), (event) => {
          if (matchesFilter(event, filter)) socket.send(JSON.stringify(event));
        });
        socket.on('message', (data, isBinary) => {
          if (!isBinary && data.toString() === 'ping') socket.send('pong');
        });
        socket.on('close', unsubscribe);
      },
    );
  };
}
