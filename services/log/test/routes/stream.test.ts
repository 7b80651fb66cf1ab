import type { Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { call, type RunningServer, startAllInOne } from '../../../../test/support/all-in-one.js';
import { headCursor, openStream, refusedUpgrade, type StreamClient, streamUrl, until } from '../../../../test/support/stream-client.js';

const BUFFER_BYTES = 64 * 1024;

/** Posts one event as a writer of the tenant and returns its id; the POST answers after the store committed it. */
async function post(server: RunningServer, tenant: string, body: Record<string, unknown>, sub?: string): Promise<string> {
  const token = await server.token(tenant, 'writer', sub ? { sub } : {});
  const response = await call(`${server.url}/api/v1/logs`, { token, body });
  expect(response.status).toBe(200);
  return response.body.data.id as string;
}

// biome-ignore lint/suspicious/noExplicitAny: tests read frames field by field
const events = (client: StreamClient): any[] => client.frames.filter((frame) => typeof frame?.id === 'string');
const ids = (client: StreamClient): string[] => events(client).map((frame) => frame.id);

/** One sample of a Prometheus series from /metrics (0 when it has no sample yet). */
async function metric(server: RunningServer, series: string): Promise<number> {
  const text = (await call(`${server.url}/metrics`, { token: await server.token('system', 'admin') })).text;
  const line = text.split('\n').find((candidate) => candidate.startsWith(`${series} `));
  return line === undefined ? 0 : Number(line.slice(series.length + 1));
}

describe('WS /api/v1/logs/stream', () => {
  let server: RunningServer;
  const clients: StreamClient[] = [];
  const open = async (url: string, options?: WebSocket.ClientOptions) => {
    const client = await openStream(url, options);
    clients.push(client);
    return client;
  };
  beforeAll(async () => {
    server = await startAllInOne({ STREAM_BUFFER_BYTES: String(BUFFER_BYTES) });
  });
  afterAll(async () => {
    await Promise.all(clients.map((client) => client.close()));
    await server.close();
  });

  it('sends each tenant its own stored events only, as JSON text frames in the order they were stored', async () => {
    const a = await open(streamUrl(server.url, { token: await server.token('iso-a', 'viewer') }));
    // The header works as well as ?token=, for clients that can set one.
    const b = await open(streamUrl(server.url), { headers: { authorization: `Bearer ${await server.token('iso-b', 'auditor')}` } });
    const postedA: string[] = [];
    const postedB: string[] = [];
    for (let index = 0; index < 30; index++) {
      if (index % 3 === 0) postedB.push(await post(server, 'iso-b', { action: `b.${index}`, resource_type: 'doc' }));
      else postedA.push(await post(server, 'iso-a', { action: `a.${index}`, resource_type: 'doc' }));
    }
    await until('both streams have their events', () => ids(a).length >= postedA.length && ids(b).length >= postedB.length);
    expect(ids(a)).toEqual(postedA);
    expect(ids(b)).toEqual(postedB);
    // The head frame first, then events only.
    expect(a.frames[0]).toEqual({ type: 'live', cursor: expect.any(String) });
    expect(a.frames.length).toBe(postedA.length + 1);
    expect(events(a).every((frame) => frame.tenant_id === 'iso-a' && frame.action.startsWith('a.'))).toBe(true);
    expect(events(b).every((frame) => frame.tenant_id === 'iso-b' && frame.action.startsWith('b.'))).toBe(true);
    expect(events(a)[0]).toMatchObject({ id: postedA[0], user_id: 'writer-of-iso-a', severity: 'INFO', resource_type: 'doc' });
  });

  it('gives every subscriber of a tenant the same order when events are stored concurrently', async () => {
    const token = await server.token('burst', 'viewer');
    const first = await open(streamUrl(server.url, { token }));
    const second = await open(streamUrl(server.url, { token }));
    const posted = await Promise.all(
      Array.from({ length: 40 }, (_, index) => post(server, 'burst', { action: `burst.${index}`, resource_type: 'doc' })),
    );
    await until('both subscribers have the burst', () => ids(first).length >= 40 && ids(second).length >= 40);
    expect(ids(first)).toEqual(ids(second));
    expect([...ids(first)].sort()).toEqual([...posted].sort());
  });

  it('applies every list filter and combinations of them', async () => {
    const token = await server.token('filters', 'viewer');
    const streams = {
      severe: await open(streamUrl(server.url, { token, severity: 'error,CRITICAL' })),
      login: await open(streamUrl(server.url, { token, action: 'user.login' })),
      pattern: await open(streamUrl(server.url, { token, search: '(a+)+$' })),
      acme: await open(streamUrl(server.url, { token, search: 'ACME', severity: 'WARNING', resource_type: 'invoice' })),
      curl: await open(streamUrl(server.url, { token, user_agent: 'CURL' })),
      day: await open(streamUrl(server.url, { token, timestamp: '2025-06-26' })),
      window: await open(streamUrl(server.url, { token, from: '2025-06-26T12:00:00Z', to: '2025-06-27' })),
      bob: await open(streamUrl(server.url, { token, user_id: 'bob', ip_address: '10.0.0.7', resource_id: 'r-1' })),
    };
    type Name = keyof typeof streams;
    // Each event says which streams must see it; the expectation is written by hand, not computed by the filter under test.
    const cases: { body: Record<string, unknown>; seenBy: Name[]; sub?: string }[] = [
      { body: { action: 'user.login', resource_type: 'user', severity: 'INFO' }, seenBy: ['login'] },
      { body: { action: 'user.login', resource_type: 'user', severity: 'ERROR' }, seenBy: ['login', 'severe'] },
      { body: { action: 'user.logout', resource_type: 'user', severity: 'CRITICAL' }, seenBy: ['severe'] },
      {
        body: { action: 'invoice.paid', resource_type: 'invoice', severity: 'WARNING', metadata: { customer: 'Acme Corp' } },
        seenBy: ['acme'],
      },
      { body: { action: 'invoice.paid', resource_type: 'invoice', severity: 'INFO', metadata: { customer: 'Acme Corp' } }, seenBy: [] },
      { body: { action: 'invoice.paid', resource_type: 'user', severity: 'WARNING', metadata: { customer: 'Acme Corp' } }, seenBy: [] },
      { body: { action: 'price.set', resource_type: 'item', after: { note: 'Price (a+)+$ off' } }, seenBy: ['pattern'] },
      // A regular expression `(a+)+$` would match this; a literal search must not.
      { body: { action: 'price.set', resource_type: 'item', after: { note: 'aaaaaaaaaaaaaaaaaaaaaaaaaaaa!' } }, seenBy: [] },
      {
        body: { action: 'user.login', resource_type: 'user', user_agent: 'curl/8.5.0', severity: 'CRITICAL' },
        seenBy: ['login', 'severe', 'curl'],
      },
      {
        body: { action: 'export', resource_type: 'invoice', user_agent: 'Mozilla/5.0', severity: 'WARNING', resource_id: 'ACME-7' },
        seenBy: ['acme'],
      },
      { body: { action: 'old', resource_type: 'doc', timestamp: '2025-06-26T08:00:00Z' }, seenBy: ['day'] },
      { body: { action: 'old', resource_type: 'doc', timestamp: '2025-06-26T13:00:00Z' }, seenBy: ['day', 'window'] },
      // `to` is exclusive, and the 27th is another day.
      { body: { action: 'old', resource_type: 'doc', timestamp: '2025-06-27T00:00:00Z' }, seenBy: [] },
      { body: { action: 'edit', resource_type: 'doc', resource_id: 'r-1', ip_address: '10.0.0.7' }, sub: 'bob', seenBy: ['bob'] },
      { body: { action: 'edit', resource_type: 'doc', resource_id: 'r-1', ip_address: '10.0.0.8' }, sub: 'bob', seenBy: [] },
      { body: { action: 'edit', resource_type: 'doc', resource_id: 'r-1', ip_address: '10.0.0.7' }, sub: 'alice', seenBy: [] },
    ];
    const expected: Record<Name, string[]> = { severe: [], login: [], pattern: [], acme: [], curl: [], day: [], window: [], bob: [] };
    for (const { body, seenBy, sub } of cases) {
      const id = await post(server, 'filters', body, sub);
      for (const name of seenBy) expected[name].push(id);
    }
    const names = Object.keys(streams) as Name[];
    // Every stream's last expected event arriving means everything before it has arrived too (frames are ordered).
    await until('each stream has its last expected event', () =>
      names.every((name) => ids(streams[name]).includes(expected[name].at(-1) as string)),
    );
    for (const name of names) expect({ name, ids: ids(streams[name]) }).toEqual({ name, ids: expected[name] });
  });

  // Issue 16: a client that connected without after= and was cut before its first event had no
  // cursor, so what was stored while it was away was lost. The head frame gives it one.
  it('starts a stream without after= with the head cursor, from which a client cut before any event misses nothing', async () => {
    const busy = 'head-busy';
    await post(server, busy, { action: 'before.connect', resource_type: 'doc' });
    for (const tenant of ['head-empty', busy]) {
      const token = await server.token(tenant, 'viewer');
      const first = await open(streamUrl(server.url, { token }));
      const head = await headCursor(first);
      expect(head).toMatch(/^[A-Za-z0-9_-]{70}$/);
      // Cut (no close frame) having received only the head frame.
      await first.close();
      expect(first.frames).toEqual([{ type: 'live', cursor: head }]);
      const writer = await server.token(tenant, 'writer');
      const bulk = await call(`${server.url}/api/v1/logs/bulk`, {
        token: writer,
        body: Array.from({ length: 20 }, (_, n) => ({ action: `away.${n}`, resource_type: 'doc' })),
      });
      const posted = [
        ...bulk.body.data.map((event: { id: string }) => event.id),
        await post(server, tenant, { action: 'away.last', resource_type: 'doc' }),
      ];
      const resumed = await open(streamUrl(server.url, { token, after: head }));
      await until('the replay is over', () => resumed.frames.some((frame) => frame.type === 'live'));
      // Every event stored while away, once, in order, and nothing from before the connect.
      expect({ tenant, ids: ids(resumed) }).toEqual({ tenant, ids: posted });
      expect(resumed.frames.at(-1)).toEqual({ type: 'live', cursor: events(resumed).at(-1).cursor });
    }
  });

  it('answers a text ping with pong', async () => {
    const client = await open(streamUrl(server.url, { token: await server.token('pinger', 'admin') }));
    client.ws.send('ping');
    client.ws.send('ping');
    await until('two pongs', () => client.frames.filter((frame) => frame === 'pong').length === 2);
    expect(client.ws.readyState).toBe(WebSocket.OPEN);
  });

  it('refuses bad queries and bad tokens before the upgrade, in the envelope', async () => {
    const token = await server.token('refused', 'viewer');
    const unknown = await refusedUpgrade(streamUrl(server.url, { token, colour: 'red' }));
    expect(unknown.status).toBe(422);
    expect(unknown.body.code).toBe(422);
    expect(unknown.body.msg).toBe('Validation error');
    expect(unknown.body.data[0].loc).toEqual(['query']);
    expect(unknown.body.data[0].msg).toContain('allowed:');
    expect(unknown.body.data[0].msg).toContain('severity');

    const repeated = new URL(streamUrl(server.url, { token, severity: 'INFO' }));
    repeated.searchParams.append('severity', 'ERROR');
    expect((await refusedUpgrade(repeated.toString())).status).toBe(422);
    const badSeverity = await refusedUpgrade(streamUrl(server.url, { token, severity: 'LOUD' }));
    expect(badSeverity.status).toBe(422);
    expect(badSeverity.body.data[0].loc).toEqual(['query', 'severity']);

    expect(await refusedUpgrade(streamUrl(server.url))).toEqual({
      status: 401,
      body: { code: 401, msg: 'Unauthorized: no bearer token: send Authorization: Bearer <token>', data: null },
    });
    expect((await refusedUpgrade(streamUrl(server.url, { token: 'not-a-jwt' }))).status).toBe(401);
    const writer = await refusedUpgrade(streamUrl(server.url, { token: await server.token('refused', 'writer') }));
    expect(writer.status).toBe(403);
    expect(writer.body).toMatchObject({ code: 403, data: null });
  });

  it('closes the connection with 4001 "token expired" when the token’s exp passes', async () => {
    // Two seconds, not one: on a loaded machine a one-second token can expire before the upgrade.
    const token = await server.token('expiring', 'viewer', { ttlSeconds: 2 });
    const exp = JSON.parse(Buffer.from(token.split('.')[1] as string, 'base64url').toString()).exp as number;
    const client = await open(streamUrl(server.url, { token }));
    const lasting = await open(streamUrl(server.url, { token: await server.token('expiring', 'viewer') }));
    const closed = await client.closed;
    expect(closed.code).toBe(4001);
    expect(splitReason(closed.reason)).toEqual({ reason: 'token expired', after: expect.any(String) });
    // The last frame says the same, for clients that cannot read close reasons.
    expect(client.frames.at(-1)).toEqual({ type: 'closing', code: 4001, reason: 'token expired', after: splitReason(closed.reason).after });
    expect(Date.now()).toBeGreaterThanOrEqual(exp * 1000 - 5);
    // The expired connection's tenant still streams to connections with valid tokens.
    const id = await post(server, 'expiring', { action: 'after.expiry', resource_type: 'doc' });
    await until('the lasting stream gets the event', () => ids(lasting).includes(id));
    expect(lasting.ws.readyState).toBe(WebSocket.OPEN);
  });

  it('bounds a slow client’s backlog, drops nothing, and catches it up from the store once it drains', async () => {
    const token = await server.token('slow', 'viewer');
    const client = await open(streamUrl(server.url, { token }));
    await headCursor(client);
    const socket = (client.ws as unknown as { _socket: Socket })._socket;
    socket.pause();
    const writer = await server.token('slow', 'writer');
    const padding = 'x'.repeat(8 * 1024);
    const posted: string[] = [];
    let peakBacklog = 0;
    const postBulk = async (round: number) => {
      const body = Array.from({ length: 200 }, (_, index) => ({
        action: `slow.${round}.${index}`,
        resource_type: 'doc',
        metadata: { padding },
      }));
      const response = await call(`${server.url}/api/v1/logs/bulk`, { token: writer, body });
      expect(response.status).toBe(200);
      posted.push(...response.body.data.map((event: { id: string }) => event.id));
      peakBacklog = Math.max(peakBacklog, await metric(server, 'logserver_stream_buffered_bytes_max'));
    };
    // The kernel's socket buffers take the first few megabytes; the server's own backlog fills after that.
    for (let round = 0; round < 60 && (await metric(server, 'logserver_stream_catch_ups_total')) === 0; round++) await postBulk(round);
    expect(await metric(server, 'logserver_stream_catch_ups_total')).toBeGreaterThan(0);
    await postBulk(60);
    await postBulk(61);
    expect(peakBacklog).toBeGreaterThan(0);
    // Socket backlog plus held live events: never above the limit, however much is stored meanwhile.
    expect(peakBacklog).toBeLessThanOrEqual(BUFFER_BYTES);
    expect(client.frames.length).toBe(1);

    socket.resume();
    await until('every posted event has arrived', () => ids(client).length >= posted.length, 30_000);
    // Every event exactly once, in the order stored (each bulk is one transaction, posted one after the other).
    expect(ids(client)).toEqual(posted);
    // The stream carries on live after the catch-up.
    await until('live again', () => client.frames.at(-1)?.type === 'live');
    // After the head frame: each catch-up is a catching_up/live pair.
    const types = client.frames
      .slice(1)
      .filter((frame) => frame?.type)
      .map((frame) => frame.type);
    expect(types[0]).toBe('catching_up');
    expect(types.filter((type) => type === 'catching_up').length).toBe(types.filter((type) => type === 'live').length);
    expect(await metric(server, 'logserver_stream_events_replayed_total')).toBeGreaterThan(0);
    const after = await post(server, 'slow', { action: 'after.drain', resource_type: 'doc' });
    await until('the event after the catch-up arrives', () => ids(client).includes(after));
    expect(client.frames.at(-1).id).toBe(after);
  });
});

/** `reason; after=<cursor>`: the close reason and the resume cursor it carries. */
function splitReason(reason: string): { reason: string; after: string | undefined } {
  const [text, after] = reason.split('; after=');
  return { reason: text as string, after };
}

describe('per-tenant connection limit', () => {
  let server: RunningServer;
  const clients: StreamClient[] = [];
  beforeAll(async () => {
    server = await startAllInOne({ STREAM_MAX_CONNECTIONS_PER_TENANT: '2' });
  });
  afterAll(async () => {
    await Promise.all(clients.map((client) => client.close()));
    await server.close();
  });

  it('closes the tenant’s extra connection with 1008 and the limit, while other tenants still connect', async () => {
    const url = streamUrl(server.url, { token: await server.token('busy', 'viewer') });
    const first = await openStream(url);
    const second = await openStream(url);
    clients.push(first, second);
    const third = await openStream(url);
    const refused = await third.closed;
    expect(refused.code).toBe(1008);
    expect(splitReason(refused.reason)).toEqual({ reason: 'tenant connection limit reached (2)', after: expect.any(String) });

    const other = await openStream(streamUrl(server.url, { token: await server.token('quiet', 'viewer') }));
    clients.push(other);
    const id = await post(server, 'quiet', { action: 'quiet.one', resource_type: 'doc' });
    await until('the other tenant streams', () => ids(other).includes(id));

    // A closed connection gives its slot back.
    await first.close();
    let open = 3;
    while (open > 2) open = await metric(server, 'logserver_stream_connections');
    const replacement = await openStream(url);
    clients.push(replacement);
    const busyId = await post(server, 'busy', { action: 'busy.one', resource_type: 'doc' });
    await until('the replacement streams', () => ids(replacement).includes(busyId));
    expect(replacement.ws.readyState).toBe(WebSocket.OPEN);
    expect(ids(second)).toContain(busyId);
    expect(await metric(server, 'logserver_stream_closed_total{reason="tenant_limit"}')).toBe(1);
  });
});

describe('protocol heartbeat', () => {
  let server: RunningServer;
  beforeAll(async () => {
    server = await startAllInOne({ STREAM_PING_INTERVAL_MS: '100' });
  });
  afterAll(() => server.close());

  it('terminates a peer that does not answer protocol pings and keeps one that does', async () => {
    const url = streamUrl(server.url, { token: await server.token('beat', 'viewer') });
    const alive = await openStream(url);
    let pings = 0;
    alive.ws.on('ping', () => {
      pings++;
    });
    const dead = await openStream(url, { autoPong: false });
    const closed = await dead.closed;
    expect(closed.code).toBe(1006);
    await until('the live peer has answered pings across the same intervals', () => pings >= 2);
    expect(alive.ws.readyState).toBe(WebSocket.OPEN);
    expect(await metric(server, 'logserver_stream_closed_total{reason="dead_peer"}')).toBe(1);
    const id = await post(server, 'beat', { action: 'still.alive', resource_type: 'doc' });
    await until('the live peer still streams', () => ids(alive).includes(id));
    await alive.close();
  });
});

describe('shutdown', () => {
  it('closes open streams with 1001 "server shutting down" and the cursor to resume from', async () => {
    const server = await startAllInOne();
    const client = await openStream(streamUrl(server.url, { token: await server.token('leaving', 'viewer') }));
    const id = await post(server, 'leaving', { action: 'last.one', resource_type: 'doc' });
    await until('the event arrived', () => ids(client).includes(id));
    await server.close();
    const closed = await client.closed;
    expect(closed.code).toBe(1001);
    // The resume point is the last event the client received.
    expect(splitReason(closed.reason)).toEqual({
      reason: 'server shutting down',
      after: client.frames.find((frame) => frame.id === id).cursor,
    });
  });
});
