import type { WebSocket } from '@fastify/websocket';
import { EVENTS_PATH, READERS, STREAM_PATH } from '@logserver/shared/auth/rbac';
import { failure } from '@logserver/shared/http/envelope';
import { filterShape, single, strictQuery } from '@logserver/shared/schemas/log-query';
import { errorResponses } from '@logserver/shared/schemas/responses';
import { tenantOf } from '@logserver/shared/store/tenant-id';
import type { CursorCodec } from '@logserver/shared/stream/cursor';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { toLogFilter } from '../rules/filters.js';
import { resumePoint } from '../rules/resume-point.js';
import type { StreamLimits } from '../stream/limits.js';
import type { StreamConnection, StreamHub, StreamRequest } from '../stream/stream-hub.js';
import { keepAlive } from '../stream/timers.js';

const StreamQuery = strictQuery({
  ...filterShape,
  token: z.string().optional(),
  after: single(z.string().min(1).max(512)).optional().describe('Resume after this event: the `cursor` of the last event received'),
});
type StreamQuery = z.infer<typeof StreamQuery>;

/** What the stream routes use besides the hub: the cursor codec that opens `after=` and Last-Event-ID. */
export interface StreamDeps {
  cursors: CursorCodec;
}

const wantsEventStream = (request: FastifyRequest) => (request.headers.accept ?? '').includes('text/event-stream');

/** Throws the 422 of a bad cursor; the query itself was validated by the route's schema. */
function streamRequest(deps: StreamDeps, request: FastifyRequest): StreamRequest {
  const query = request.query as StreamQuery;
  const tenant = tenantOf(request.identity);
  const lastEventId = request.headers['last-event-id'];
  return {
    tenant,
    filter: toLogFilter(query),
    after: resumePoint(deps.cursors, tenant, {
      after: query.after,
      lastEventId: typeof lastEventId === 'string' ? lastEventId : undefined,
    }),
    exp: request.identity.exp,
  };
}

/** A WebSocket as the hub sees it: text frames, close codes, protocol pings and text `ping` → `pong`. */
function webSocketConnection(socket: WebSocket, limits: StreamLimits): StreamConnection {
  const open = () => socket.readyState === socket.OPEN;
  socket.on('message', (data, isBinary) => {
    // A client that sends pings without reading would otherwise grow its backlog without bound,
    // so a client that is already at its limit gets no answer until it catches up.
    if (!isBinary && data.toString() === 'ping' && socket.bufferedAmount < limits.bufferBytes) socket.send('pong');
  });
  return {
    wire: {
      get bufferedAmount() {
        return socket.bufferedAmount;
      },
      sendEvent: (frame, done) => (open() ? socket.send(frame.json, done) : done()),
      sendNotice: (json, done) => (open() ? socket.send(json, done) : done()),
    },
    close: (code, reason) => socket.close(code, reason),
    heartbeat: (intervalMs, onDead) => keepAlive(socket, intervalMs, onDead),
    onClosed: (listener) => socket.on('close', listener),
  };
}

/**
 * An SSE response as the hub sees it: each event with `id: <cursor>` (an EventSource sends it back
 * as Last-Event-ID when it reconnects), notices as `data:` only (`live` with its cursor as `id:` too),
 * a comment as heartbeat. There is
 * no close code in SSE: the closing notice says why, and the response ends.
 */
function eventStreamConnection(reply: FastifyReply): StreamConnection {
  const raw = reply.raw;
  reply.hijack();
  raw.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-store',
    connection: 'keep-alive',
    // nginx (the gateway) would otherwise buffer the response and the events would arrive in lumps.
    'x-accel-buffering': 'no',
  });
  raw.write(': logserver stream\nretry: 1000\n\n');
  const writable = () => !raw.writableEnded && !raw.destroyed;
  let flushed = 0;
  const write = (text: string, done: (error?: Error) => void) => {
    if (!writable()) return done();
    raw.write(text, (error) => {
      flushed++;
      done(error ?? undefined);
    });
  };
  return {
    wire: {
      get bufferedAmount() {
        return raw.writableLength;
      },
      sendEvent: (frame, done) => write(`id: ${frame.cursor}\ndata: ${frame.json}\n\n`, done),
      // The `live` notice's cursor as id: EventSource then resumes from it even before its first event.
      sendNotice: (json, done, cursor) => write(`${cursor === undefined ? '' : `id: ${cursor}\n`}data: ${json}\n\n`, done),
    },
    close: () => {
      if (writable()) raw.end();
    },
    heartbeat: (intervalMs, onDead) => {
      let flushedBefore = flushed;
      const timer = setInterval(() => {
        // Bytes waited a whole interval and not one write reached the kernel: the peer is gone.
        if (raw.writableLength > 0 && flushed === flushedBefore) {
          clearInterval(timer);
          onDead();
          raw.destroy();
          return;
        }
        flushedBefore = flushed;
        write(': ping\n\n', () => {});
      }, intervalMs);
      timer.unref();
      return () => clearInterval(timer);
    },
    onClosed: (listener) => raw.on('close', listener),
  };
}

/**
 * The live stream: each of the tenant's stored events that matches the filters, with its cursor,
 * from `after=` (or Last-Event-ID) or from now. WebSocket on STREAM_PATH; Server-Sent Events on
 * EVENTS_PATH and on STREAM_PATH for `Accept: text/event-stream`. The query and the cursor are
 * validated before the upgrade or the first byte, so a bad one is an ordinary 422.
 */
export function streamRoutes(deps: StreamDeps, hub: StreamHub, limits: StreamLimits): FastifyPluginAsyncZod {
  return async (app) => {
    app.get(
      STREAM_PATH,
      {
        config: { audience: READERS },
        websocket: true,
        schema: {
          tags: ['logs'],
          summary: 'Live events (WebSocket, or SSE with Accept: text/event-stream)',
          description:
            'Every matching event with its `cursor`; `after=<cursor>` replays what was committed after it, then continues live. Without `after`, the first frame is `{"type":"live","cursor":…}` (the head). Notices: `catching_up`, `live`, `cursor_expired`, `closing`.',
          querystring: StreamQuery,
        },
        preHandler: async (request, reply) => {
          const resume = streamRequest(deps, request);
          if (request.ws) return;
          if (wantsEventStream(request)) {
            hub.serve(eventStreamConnection(reply), resume);
            request.log.info({ tenant: request.identity.tenant, sub: request.identity.sub }, 'event stream opened');
            return reply;
          }
          // A plain HTTP GET is told what to do, in the envelope, instead of @fastify/websocket's empty 404.
          return reply
            .code(426)
            .header('upgrade', 'websocket')
            .send(failure(426, 'Upgrade Required: connect with a WebSocket client, or send Accept: text/event-stream'));
        },
      },
      (socket: WebSocket, request) => {
        hub.serve(webSocketConnection(socket, limits), streamRequest(deps, request));
        // Who watched a tenant's audit trail, and how it ended, is itself worth a log line.
        request.log.info({ tenant: request.identity.tenant, sub: request.identity.sub }, 'stream opened');
        socket.on('close', (code, reason) => request.log.info({ code, reason: reason.toString() }, 'stream closed'));
      },
    );

    app.get(
      EVENTS_PATH,
      {
        config: { audience: READERS },
        schema: {
          tags: ['logs'],
          summary: 'Live events as Server-Sent Events',
          description:
            'The stream as text/event-stream: each event as `id: <cursor>` and `data: <event JSON>`; resumes after the Last-Event-ID header (or `after=`).',
          querystring: StreamQuery,
          headers: z.object({ 'last-event-id': z.string().max(512).optional() }),
          response: {
            200: { description: 'The event stream', content: { 'text/event-stream': { schema: z.string() } } },
            ...errorResponses(401, 403, 422),
          },
        },
      },
      async (request, reply) => {
        const resume = streamRequest(deps, request);
        hub.serve(eventStreamConnection(reply), resume);
        request.log.info({ tenant: request.identity.tenant, sub: request.identity.sub }, 'event stream opened');
        return reply;
      },
    );
  };
}
