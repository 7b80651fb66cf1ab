/**
 * The baseline: a bare Fastify server with no auth, validation, storage or logging. Whatever the
 * real server costs beyond this is ours. Run as its own process, like the server it is compared to.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { makeEvent, seededRandom } from '@logserver/testing/events';
import Fastify from 'fastify';
import { WebSocketServer } from 'ws';

const app = Fastify({ logger: false, bodyLimit: 10 * 1024 * 1024 });

// Parses the body and sends it back: the floor under POST /api/v1/logs.
app.post('/echo', async (request) => request.body);

// A page of events already in memory, in the envelope: the floor under GET /api/v1/logs and stats.
const random = seededRandom(1);
const events = Array.from({ length: 100 }, () => makeEvent('echo', {}, random));
app.get<{ Querystring: { size?: string } }>('/page', async (request) => {
  const size = Math.min(Number(request.query.size ?? 10), events.length);
  return { code: 200, msg: 'ok', data: events.slice(0, size), meta: { size } };
});

app.get('/healthz', async () => ({ status: 'ok' }));

// The gateway's floor (2g): two echoes behind the same nginx config, one answering the forward-auth
// subrequest (HEAD, a GET route's) at once with an identity, the other echoing the proxied POST.
app.get('/auth/verify', async (_request, reply) =>
  reply.headers({ 'x-auth-sub': 'bench', 'x-auth-tenant': 'bench', 'x-auth-role': 'writer' }).send(),
);
app.post('/api/v1/logs', async (request) => request.body);

// The echo's own event-loop delay, measured as the server's /metrics does (prom-client's default
// metrics: monitorEventLoopDelay at 10 ms resolution, p99 in seconds, the window reset at each
// read), so scenario 1 can say what a bare Fastify server's loop does under the same load.
const loop = monitorEventLoopDelay({ resolution: 10 });
loop.enable();
app.get('/metrics', async (_request, reply) => {
  const p99 = loop.percentile(99) / 1e9;
  loop.reset();
  return reply.type('text/plain').send(`nodejs_eventloop_lag_p99_seconds ${p99}\n`);
});

// The fan-out floor under the stream: every POST body goes to every connected socket.
const sockets = new WebSocketServer({ server: app.server, path: '/stream' });
sockets.on('connection', (socket) => {
  socket.on('message', (data, isBinary) => {
    if (!isBinary && data.toString() === 'ping') socket.send('pong');
  });
});
app.post('/broadcast', async (request) => {
  const frame = JSON.stringify({ ...(request.body as object), id: crypto.randomUUID() });
  for (const socket of sockets.clients) socket.send(frame);
  return { code: 200, msg: 'ok', data: null };
});

process.once('SIGTERM', () => {
  for (const socket of sockets.clients) socket.terminate();
  app.close().then(() => process.exit(0));
});

// The server's own listen backlog (LISTEN_BACKLOG's default): with Node's 511 the echo dropped SYNs at
// c=1000 (38-59 ListenOverflows in a scenario 2 round, session 8), and its p99 then held 1 s retransmits ours did not.
await app.listen({ port: Number(process.env.PORT), host: '127.0.0.1', backlog: 4096 });
