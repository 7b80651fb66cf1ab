import { setTimeout as sleep } from 'node:timers/promises';
import WebSocket from 'ws';
import { type BenchContext, bearer, loopFigure } from '../context.js';
import { PYTHON_EVENT } from '../data.js';
import { Latencies } from '../http-load.js';
import { metricsHeaders, watchLoopDelay } from '../processes.js';
import type { Figure } from '../report.js';

const CONNECT_CHUNK = 100;
/** Pause between posted events: a steady stream, not a burst that only measures queueing. */
const GAP_MS = 20;
const SETTLE_MS = 5000;
const SEQ = /"bench_seq":(\d+)/;

interface FanOut {
  latencies: Latencies;
  received: number;
  expected: number;
}

async function connect(url: string): Promise<WebSocket> {
  const socket = new WebSocket(url);
  await new Promise<void>((resolve, reject) => {
    socket.once('open', () => resolve());
    socket.once('error', reject);
    socket.once('unexpected-response', (_request, response) => reject(new Error(`stream refused: HTTP ${response.statusCode}`)));
  });
  return socket;
}

/** A pong proves the server has attached its handlers to this socket, so no event is posted before it listens. */
async function pingPong(socket: WebSocket): Promise<void> {
  await new Promise<void>((resolve) => {
    const onMessage = (data: WebSocket.RawData) => {
      if (data.toString() === 'pong') {
        socket.off('message', onMessage);
        resolve();
      }
    };
    socket.on('message', onMessage);
    socket.send('ping');
  });
}

/**
 * Opens `subscribers` sockets, posts `events` events one after another, and records for every
 * frame the time from just before its POST was sent to its arrival, in this one process.
 */
async function fanOut(options: {
  wsUrl: string;
  post: (seq: number) => Promise<Response>;
  subscribers: number;
  events: number;
}): Promise<FanOut> {
  const sockets: WebSocket[] = [];
  try {
    for (let opened = 0; opened < options.subscribers; opened += CONNECT_CHUNK) {
      const chunk = Math.min(CONNECT_CHUNK, options.subscribers - opened);
      sockets.push(...(await Promise.all(Array.from({ length: chunk }, () => connect(options.wsUrl)))));
    }
    await Promise.all(sockets.map(pingPong));
    const sentAt: number[] = [];
    const latencies = new Latencies();
    let received = 0;
    for (const socket of sockets) {
      socket.on('message', (data: WebSocket.RawData) => {
        const match = SEQ.exec(data.toString());
        const sent = match ? sentAt[Number(match[1])] : undefined;
        if (sent === undefined) return;
        latencies.record(performance.now() - sent);
        received++;
      });
    }
    const expected = options.subscribers * options.events;
    for (let seq = 0; seq < options.events; seq++) {
      sentAt[seq] = performance.now();
      const response = await options.post(seq);
      if (!response.ok) throw new Error(`posting a stream event answered ${response.status}: ${await response.text()}`);
      await response.arrayBuffer();
      await sleep(GAP_MS);
    }
    const deadline = Date.now() + SETTLE_MS;
    while (received < expected && Date.now() < deadline) await sleep(20);
    return { latencies, received, expected };
  } finally {
    for (const socket of sockets) socket.terminate();
  }
}

/** The cursor of a fresh marker event: where a client that leaves now would resume. */
async function cursorOfNow(wsUrl: string, post: () => Promise<Response>): Promise<string> {
  const socket = await connect(wsUrl);
  try {
    await pingPong(socket);
    const cursor = new Promise<string>((resolve) => {
      socket.on('message', (data: WebSocket.RawData) => {
        const frame = JSON.parse(data.toString());
        // The marker's own frame, not the head frame the stream starts with.
        if (typeof frame.id === 'string' && typeof frame.cursor === 'string') resolve(frame.cursor);
      });
    });
    await (await post()).arrayBuffer();
    return await cursor;
  } finally {
    socket.terminate();
  }
}

/**
 * Replay: `events` are stored while a client is away; it comes back with after= and reads until
 * `live`. Beside it, the same events paged through GET /api/v1/logs with cursors (size 100), which
 * is how a client caught up before the stream could resume.
 */
async function replayRates(context: BenchContext, events: number, viewer: string, writer: Record<string, string>) {
  const json = { 'content-type': 'application/json', ...writer };
  const base = context.server.url;
  const streamUrl = `${base.replace(/^http/, 'ws')}/api/v1/logs/stream?token=${viewer}&action=bench.replay`;
  const cursor = await cursorOfNow(streamUrl, () =>
    fetch(`${base}/api/v1/logs`, { method: 'POST', headers: json, body: JSON.stringify({ ...PYTHON_EVENT, action: 'bench.replay' }) }),
  );
  for (let sent = 0; sent < events; sent += 1000) {
    const body = Array.from({ length: Math.min(1000, events - sent) }, () => ({
      ...PYTHON_EVENT,
      timestamp: undefined,
      action: 'bench.replay',
    }));
    const response = await fetch(`${base}/api/v1/logs/bulk`, { method: 'POST', headers: json, body: JSON.stringify(body) });
    if (!response.ok) throw new Error(`bulk for the replay answered ${response.status}`);
    await response.arrayBuffer();
  }
  const started = performance.now();
  const socket = new WebSocket(`${streamUrl}&after=${cursor}`);
  let replayed = 0;
  await new Promise<void>((resolve, reject) => {
    socket.on('message', (data: WebSocket.RawData) => {
      const frame = JSON.parse(data.toString());
      if (frame.type === 'live') resolve();
      else if (typeof frame.id === 'string') replayed++;
    });
    socket.once('error', reject);
  });
  const streamSeconds = (performance.now() - started) / 1000;
  socket.terminate();
  if (replayed !== events) throw new Error(`the replay sent ${replayed} events, expected ${events}`);
  const listStarted = performance.now();
  let listed = 0;
  let next: string | null = null;
  do {
    const page = `${base}/api/v1/logs?action=bench.replay&sort=asc&size=100${next ? `&cursor=${next}` : ''}`;
    const answer = (await (await fetch(page, { headers: bearer(viewer) })).json()) as {
      data: unknown[];
      meta: { next_cursor: string | null };
    };
    listed += answer.data.length;
    next = answer.meta.next_cursor;
  } while (next !== null);
  const listSeconds = (performance.now() - listStarted) / 1000;
  return { stream: replayed / streamSeconds, list: listed / listSeconds };
}

const eventBody = (seq: number) =>
  JSON.stringify({ ...PYTHON_EVENT, timestamp: undefined, metadata: { ...PYTHON_EVENT.metadata, bench_seq: seq } });

/** 7: subscribers on the stream while events are posted, POST-to-frame latency, beside a bare `ws` broadcast. */
export async function streamFanOut(context: BenchContext): Promise<Figure[]> {
  const { subscribers, streamEvents: events } = context.sizes;
  const scenario = `7 stream, ${subscribers} subscribers, ${events} events`;
  const writer = bearer(await context.token('bench-stream', 'writer'));
  const viewer = await context.token('bench-stream', 'viewer');
  const json = { 'content-type': 'application/json' };
  const echo = await fanOut({
    wsUrl: `${context.echo.url.replace(/^http/, 'ws')}/stream`,
    post: (seq) => fetch(`${context.echo.url}/broadcast`, { method: 'POST', headers: json, body: eventBody(seq) }),
    subscribers,
    events,
  });
  const loop = await watchLoopDelay(context.server.url, await metricsHeaders(context));
  const ours = await fanOut({
    wsUrl: `${context.server.url.replace(/^http/, 'ws')}/api/v1/logs/stream?token=${viewer}`,
    post: (seq) => fetch(`${context.server.url}/api/v1/logs`, { method: 'POST', headers: { ...json, ...writer }, body: eventBody(seq) }),
    subscribers,
    events,
  });
  const replay = await replayRates(context, context.sizes.replayEvents, viewer, writer);
  return [
    {
      scenario,
      figure: `replay after a cursor, ${context.sizes.replayEvents} events (events/s; baseline: paging the list)`,
      value: replay.stream,
      baseline: replay.list,
    },
    {
      scenario,
      figure: 'POST to frame p99 (ms)',
      value: ours.latencies.percentile(99),
      baseline: echo.latencies.percentile(99),
      target: { of: 'value', op: '<=', limit: 100, unit: 'ms' },
    },
    { scenario, figure: 'POST to frame p50 (ms)', value: ours.latencies.percentile(50), baseline: echo.latencies.percentile(50) },
    {
      scenario,
      figure: 'frames dropped',
      value: ours.expected - ours.received,
      baseline: echo.expected - echo.received,
      target: { of: 'value', op: '<=', limit: 0 },
    },
    loopFigure(scenario, await loop()),
  ];
}
