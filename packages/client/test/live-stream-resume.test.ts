import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { openSqlite } from '@logserver/shared/sqlite/database';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { type RunningServer, startAllInOne } from '../../../test/support/all-in-one.js';
import { TcpProxy } from '../../../test/support/tcp-proxy.js';
import { type LiveStream, type LogEvent, LogserverClient, type StreamState, type WebSocketClass } from '../src/client.js';

const until = async (what: string, check: () => boolean, timeoutMs = 30_000) => {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
};
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The tenant's stored ids for a resource type, in commit order, read from the SQLite file with plain SQL. */
function storedIds(dataDir: string, tenant: string, resourceType: string): string[] {
  const db = openSqlite(join(dataDir, 'logserver.db'));
  try {
    const rows = db.prepare('SELECT id FROM logs WHERE tenant_id = ? AND resource_type = ? ORDER BY seq').all(tenant, resourceType) as {
      id: string;
    }[];
    return rows.map((row) => row.id);
  } finally {
    db.close();
  }
}

const portOf = (server: RunningServer) => Number(new URL(server.url).port);

/** A stream through the proxy that records what it receives, and the states it goes through. */
function watch(client: LogserverClient, options: { filter?: Record<string, string>; after?: string } = {}) {
  const received: LogEvent[] = [];
  const cursors: (string | undefined)[] = [];
  const states: StreamState[] = [];
  const live = client.stream({
    filter: options.filter,
    after: options.after,
    minDelayMs: 50,
    maxDelayMs: 400,
    onEvent: (event, cursor) => {
      received.push(event);
      cursors.push(cursor);
    },
    onState: (state) => states.push(state),
  });
  const opens = () => states.filter((state) => state === 'open').length;
  return { live, received, cursors, states, opens };
}

describe('@logserver/client stream: resumes with after=<cursor>, every event once, in commit order', () => {
  const cleanup: (() => Promise<unknown> | unknown)[] = [];
  afterEach(async () => {
    for (const step of cleanup.splice(0).reverse()) await step();
  });

  it('across TCP cuts in the middle of bursts and a server restart while events are being stored', async () => {
    const env = { AUTH_SECRET: randomBytes(24).toString('hex'), SEAL_INTERVAL: '0' };
    let server = await startAllInOne(env);
    cleanup.push(() => server.close());
    const { dataDir } = server;
    const proxy = await TcpProxy.start(portOf(server));
    cleanup.push(() => proxy.close());
    const reader = new LogserverClient({
      baseUrl: proxy.url,
      token: await server.token('resume-a', 'viewer'),
      WebSocket: WebSocket as unknown as WebSocketClass,
    });
    const stream = watch(reader, { filter: { resource_type: 'job' } });
    cleanup.push(() => stream.live.close());
    await until('the stream to open', () => stream.opens() === 1);

    // Bursts straight to the server (not through the proxy), one in five events outside the filter.
    let writer = new LogserverClient({ baseUrl: server.url, token: await server.token('resume-a', 'writer'), retry: { minDelayMs: 20 } });
    const burst = (label: string, count: number) =>
      writer.bulk(
        Array.from({ length: count }, (_, index) => ({ action: `${label}.${index}`, resource_type: index % 5 === 4 ? 'other' : 'job' })),
      );
    let bursting = true;
    const bursts = (async () => {
      for (let round = 0; bursting; round++) {
        await burst(`burst-${round}`, 100);
        await sleep(20);
      }
    })();
    // Six cuts while frames flow: each time the client stays away for a while, as events are stored.
    let cuts = 0;
    let cutsDuringReplay = 0;
    const replaying = () => stream.states.lastIndexOf('live') < stream.states.lastIndexOf('open');
    for (let cut = 0; cut < 6; cut++) {
      const seen = stream.received.length;
      // The fourth cut comes right after the first replayed event of a long replay (the third outage lasts 1.5 s).
      if (cut === 3) await until('the replay to start', () => stream.received.length > seen);
      else await until('events between the cuts', () => stream.received.length >= seen + 150);
      proxy.refuse();
      if (replaying()) cutsDuringReplay++;
      cuts += proxy.cut() > 0 ? 1 : 0;
      await sleep(cut === 2 ? 1_500 : 100 + Math.floor(Math.random() * 300));
      proxy.accept();
      await until('the stream to reopen', () => stream.opens() === cut + 2);
    }
    bursting = false;
    await bursts;

    // A restart: the client cannot reach anything while the server is replaced and events are stored.
    proxy.refuse();
    await server.close();
    server = await startAllInOne({ ...env, DATA_DIR: dataDir });
    writer = new LogserverClient({ baseUrl: server.url, token: await server.token('resume-a', 'writer') });
    const whileDown = await burst('while-down', 300);
    proxy.target = portOf(server);
    proxy.accept();
    await until('the stream to reopen after the restart', () => stream.opens() === 8);
    const afterwards = await burst('after', 50);

    const expected = storedIds(dataDir, 'resume-a', 'job');
    expect(expected).toEqual(
      expect.arrayContaining([...whileDown, ...afterwards].filter((event) => event.resource_type === 'job').map((e) => e.id)),
    );
    await until('every stored event', () => stream.received.length >= expected.length, 60_000);
    await sleep(200);
    const ids = stream.received.map((event) => event.id);
    expect(ids).toEqual(expected);
    expect(new Set(ids).size).toBe(ids.length);
    expect(stream.received.every((event) => event.resource_type === 'job')).toBe(true);
    expect(stream.cursors.every((cursor) => typeof cursor === 'string' && cursor.length === 70)).toBe(true);
    expect(cuts).toBe(6);
    // Every connection after the first asked to resume after the last cursor it had (probes included).
    const streamRequests = proxy.requestLines.filter((line) => line.startsWith('GET /api/v1/logs/stream?'));
    expect(streamRequests[0]).not.toContain('after=');
    expect(streamRequests.length).toBeGreaterThanOrEqual(8);
    expect(streamRequests.slice(1).every((line) => line.includes('after='))).toBe(true);
    // The last connection replayed what was stored during the restart and then said `live`; some
    // cuts fell inside a replay (before its `live`), and the next connection resumed from within it.
    expect(stream.states.lastIndexOf('live')).toBeGreaterThan(stream.states.lastIndexOf('open'));
    expect(cutsDuringReplay).toBeGreaterThanOrEqual(1);
    expect(stream.live.cursor).toBe(stream.cursors.at(-1));
  }, 180_000);

  it('a stream that has no event yet resumes from the closing frame of a shutdown: nothing stored meanwhile is missed', async () => {
    const env = { AUTH_SECRET: randomBytes(24).toString('hex'), SEAL_INTERVAL: '0' };
    let server = await startAllInOne(env);
    cleanup.push(() => server.close());
    const { dataDir } = server;
    const earlier = new LogserverClient({ baseUrl: server.url, token: await server.token('resume-b', 'writer') });
    await earlier.bulk(Array.from({ length: 5 }, (_, index) => ({ action: `earlier.${index}`, resource_type: 'job' })));
    const proxy = await TcpProxy.start(portOf(server));
    cleanup.push(() => proxy.close());
    const reader = new LogserverClient({
      baseUrl: proxy.url,
      token: await server.token('resume-b', 'viewer'),
      WebSocket: WebSocket as unknown as WebSocketClass,
    });
    const stream = watch(reader);
    cleanup.push(() => stream.live.close());
    await until('the stream to open', () => stream.opens() === 1);
    proxy.refuse();
    await server.close();
    await until('the client to notice', () => stream.states.includes('reconnecting'));
    expect(stream.live.cursor).toMatch(/^[A-Za-z0-9_-]{70}$/);
    server = await startAllInOne({ ...env, DATA_DIR: dataDir });
    const writer = new LogserverClient({ baseUrl: server.url, token: await server.token('resume-b', 'writer') });
    const meanwhile = await writer.bulk(Array.from({ length: 5 }, (_, index) => ({ action: `meanwhile.${index}`, resource_type: 'job' })));
    proxy.target = portOf(server);
    proxy.accept();
    await until('the events stored while it was away', () => stream.received.length >= 5);
    await sleep(200);
    // Not the events stored before it connected, and each stored while it was away, once.
    expect(stream.received.map((event) => event.id)).toEqual(meanwhile.map((event) => event.id));
  }, 60_000);

  it('a stream cut (no close frame) before its first event resumes from the head cursor it started with', async () => {
    const server = await startAllInOne({ SEAL_INTERVAL: '0' });
    cleanup.push(() => server.close());
    const writer = new LogserverClient({ baseUrl: server.url, token: await server.token('resume-head', 'writer') });
    await writer.bulk([{ action: 'before', resource_type: 'job' }]);
    const proxy = await TcpProxy.start(portOf(server));
    cleanup.push(() => proxy.close());
    const reader = new LogserverClient({
      baseUrl: proxy.url,
      token: await server.token('resume-head', 'viewer'),
      WebSocket: WebSocket as unknown as WebSocketClass,
    });
    const stream = watch(reader);
    cleanup.push(() => stream.live.close());
    await until('the head frame', () => stream.states.includes('live'));
    const head = stream.live.cursor;
    expect(head).toMatch(/^[A-Za-z0-9_-]{70}$/);
    proxy.refuse();
    expect(proxy.cut()).toBeGreaterThan(0);
    await until('the client to notice', () => stream.states.includes('reconnecting'));
    const meanwhile = await writer.bulk(Array.from({ length: 5 }, (_, index) => ({ action: `meanwhile.${index}`, resource_type: 'job' })));
    proxy.accept();
    await until('the events stored while it was away', () => stream.received.length >= 5);
    await sleep(200);
    expect(stream.received.map((event) => event.id)).toEqual(meanwhile.map((event) => event.id));
    const streamRequests = proxy.requestLines.filter((line) => line.startsWith('GET /api/v1/logs/stream?'));
    expect(streamRequests[0]).not.toContain('after=');
    expect(streamRequests.at(-1)).toContain(`after=${head}`);
  }, 60_000);

  it('renews an expiring token: each 4001 is followed by a reconnect with a fresh token and after=, nothing missing', async () => {
    const server = await startAllInOne({ SEAL_INTERVAL: '0' });
    cleanup.push(() => server.close());
    let minted = 0;
    const reader = new LogserverClient({
      baseUrl: server.url,
      token: () => {
        minted++;
        return server.token('resume-c', 'viewer', { ttlSeconds: 2 });
      },
      WebSocket: WebSocket as unknown as WebSocketClass,
    });
    const stream = watch(reader);
    cleanup.push(() => stream.live.close());
    await until('the stream to open', () => stream.opens() === 1);
    const writer = new LogserverClient({ baseUrl: server.url, token: await server.token('resume-c', 'writer') });
    const stored: string[] = [];
    const started = Date.now();
    while (Date.now() - started < 6_500) {
      stored.push(
        ...(await writer.bulk(Array.from({ length: 20 }, (_, index) => ({ action: `t.${index}`, resource_type: 'job' })))).map((e) => e.id),
      );
      await sleep(50);
    }
    await until('every event', () => stream.received.length >= stored.length);
    await sleep(200);
    expect(stream.received.map((event) => event.id)).toEqual(stored);
    // The 2-second tokens ran out at least twice while events were being stored.
    expect(stream.opens()).toBeGreaterThanOrEqual(3);
    expect(minted).toBeGreaterThanOrEqual(3);
  }, 60_000);

  it("a bad, truncated or other tenant's cursor ends the stream with the server's 422 instead of retrying for ever", async () => {
    const server = await startAllInOne({ SEAL_INTERVAL: '0' });
    cleanup.push(() => server.close());
    const writer = new LogserverClient({ baseUrl: server.url, token: await server.token('resume-d', 'writer') });
    await writer.create({ action: 'a', resource_type: 'job' });
    const owner = watch(
      new LogserverClient({
        baseUrl: server.url,
        token: await server.token('resume-d', 'viewer'),
        WebSocket: WebSocket as unknown as WebSocketClass,
      }),
    );
    cleanup.push(() => owner.live.close());
    await until('the stream to open', () => owner.opens() === 1);
    await writer.create({ action: 'b', resource_type: 'job' });
    await until('an event with its cursor', () => owner.cursors.length === 1);
    const cursor = owner.cursors[0] as string;
    const stranger = new LogserverClient({
      baseUrl: server.url,
      token: await server.token('resume-other', 'viewer'),
      WebSocket: WebSocket as unknown as WebSocketClass,
    });
    for (const after of [cursor, cursor.slice(0, 69), 'not-a-cursor']) {
      const refused: LiveStream = stranger.stream({ after, onEvent: () => {}, minDelayMs: 50 });
      const closed = await refused.closed;
      expect(closed.code).toBe(422);
      expect(closed.reason).toMatch(/query\.after: not a cursor of this stream/);
    }
    // The owner's own cursor is good.
    const resumed = watch(
      new LogserverClient({
        baseUrl: server.url,
        token: await server.token('resume-d', 'viewer'),
        WebSocket: WebSocket as unknown as WebSocketClass,
      }),
      { after: cursor },
    );
    cleanup.push(() => resumed.live.close());
    await until('the resumed stream to say live', () => resumed.states.includes('live'));
    await writer.create({ action: 'c', resource_type: 'job' });
    await until('the next event', () => resumed.received.length === 1);
    expect(resumed.received[0]?.action).toBe('c');
  }, 60_000);
});
