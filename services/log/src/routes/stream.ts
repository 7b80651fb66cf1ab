import type { WebSocket } from '@fastify/websocket';
import { READERS, STREAM_PATH } from '@logserver/shared/auth/rbac';
import type { LogFeed } from '@logserver/shared/feed/port';
import { failure } from '@logserver/shared/http/envelope';
import { filterShape, strictQuery } from '@logserver/shared/schemas/log-query';
import { tenantOf } from '@logserver/shared/store/tenant-id';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type { Registry } from 'prom-client';
import { z } from 'zod';
import { toLogFilter } from '../rules/filters.js';
import type { StreamLimits } from '../stream/limits.js';
import { StreamHub } from '../stream/stream-hub.js';

const StreamQuery = strictQuery({ ...filterShape, token: z.string().optional() });

/** What the stream uses: the feed it follows, and where its Prometheus series go. */
export interface StreamDeps {
  feed: LogFeed;
  metrics?: Registry | undefined;
}

/**
 * The live stream: each of the tenant's stored events that matches the filters, as one JSON text
 * frame. The query is validated before the upgrade, so a bad filter is an ordinary 422.
 */
export function streamRoutes(deps: StreamDeps, limits: StreamLimits): FastifyPluginAsyncZod {
  return async (app) => {
    const hub = new StreamHub(deps.feed, limits, deps.metrics);
    app.get(
      STREAM_PATH,
      {
        config: { audience: READERS },
        websocket: true,
        schema: { tags: ['logs'], summary: 'Live events (WebSocket)', querystring: StreamQuery },
        // A plain HTTP GET (no Upgrade) is told what to do, in the envelope, instead of @fastify/websocket's empty 404.
        preHandler: async (request, reply) => {
          if (!request.ws) {
            return reply.code(426).header('upgrade', 'websocket').send(failure(426, 'Upgrade Required: connect with a WebSocket client'));
          }
        },
      },
      (socket: WebSocket, request) => {
        hub.serve(socket, { tenant: tenantOf(request.identity), filter: toLogFilter(request.query), exp: request.identity.exp });
        // Who watched a tenant's audit trail, and how it ended, is itself worth a log line.
        request.log.info({ tenant: request.identity.tenant, sub: request.identity.sub }, 'stream opened');
        socket.on('close', (code, reason) => request.log.info({ code, reason: reason.toString() }, 'stream closed'));
      },
    );
  };
}
