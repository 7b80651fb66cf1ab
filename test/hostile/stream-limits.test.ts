import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { call, type RunningServer, startAllInOne } from '../support/all-in-one.js';
import { type OpenStream, openStream, upgradeStatus } from './hostile-support.js';

const MAX = 2;
let server: RunningServer;
beforeAll(async () => {
  server = await startAllInOne({ STREAM_MAX_CONNECTIONS_PER_TENANT: String(MAX) });
});
afterAll(() => server.close());

const wsUrl = (query: string) => `${server.url.replace(/^http/, 'ws')}/api/v1/logs/stream?${query}`;

/** Connects and resolves with how the server ended the connection, and any frames before that. */
function connectUntilClosed(
  query: string,
  headers: Record<string, string> = {},
): Promise<{ code: number; reason: string; frames: string[] }> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(wsUrl(query), { headers });
    const frames: string[] = [];
    socket.on('message', (data) => frames.push(data.toString()));
    socket.once('close', (code, reason) => resolve({ code, reason: reason.toString(), frames }));
    socket.once('unexpected-response', (_request, response) => reject(new Error(`upgrade refused: ${response.statusCode}`)));
    socket.once('error', reject);
  });
}

describe('per-tenant stream connections (STREAM_MAX_CONNECTIONS_PER_TENANT)', () => {
  it('one more than the tenant may hold is closed with 1008 and a reason that names the limit, and nothing else', async () => {
    const viewer = await server.token('streams-a', 'viewer');
    const held: OpenStream[] = [];
    for (let n = 0; n < MAX; n++) held.push(await openStream(server.url, `token=${viewer}`));
    const refused = await connectUntilClosed(`token=${await server.token('streams-a', 'auditor')}`);
    expect(refused.code).toBe(1008);
    // The reason names the limit and where to resume; the one frame before the close says the same, and nothing else is sent.
    expect(refused.reason).toMatch(new RegExp(`^tenant connection limit reached \\(${MAX}\\); after=[A-Za-z0-9_-]{70}$`));
    expect(refused.frames.map((frame) => JSON.parse(frame))).toEqual([
      { type: 'closing', code: 1008, reason: `tenant connection limit reached (${MAX})`, after: refused.reason.split('after=')[1] },
    ]);

    // The held streams still work, and closing one frees its place.
    const writer = await server.token('streams-a', 'writer');
    const created = await call(`${server.url}/api/v1/logs`, { token: writer, body: { action: 'held', resource_type: 'r' } });
    for (const stream of held) await stream.waitFor((frame) => frame.includes(created.body.data.id));
    await held.pop()?.close();
    const again = await openStream(server.url, `token=${viewer}`);
    held.push(again);
    for (const stream of held) await stream.close();
  });

  it('another tenant is not affected, and cannot be charged by headers or forged tokens', async () => {
    const viewerA = await server.token('streams-b', 'viewer');
    const heldA: OpenStream[] = [];
    for (let n = 0; n < MAX; n++) heldA.push(await openStream(server.url, `token=${viewerA}`));

    // Tenant C's streams, with tenant B named in x-auth-* headers, count against C only.
    const viewerC = await server.token('streams-c', 'viewer');
    const heldC: OpenStream[] = [];
    for (let n = 0; n < MAX; n++) heldC.push(await openStream(server.url, `token=${viewerC}`, { 'x-auth-tenant': 'streams-b' }));
    const overC = await connectUntilClosed(`token=${viewerC}`);
    expect(overC.code).toBe(1008);

    // Tokens that claim B without its key are refused before the upgrade, so they hold no place of B's.
    const forged = `${viewerA.slice(0, -4)}AAAA`;
    for (let n = 0; n < MAX + 1; n++) expect((await upgradeStatus(server.url, `token=${forged}`)).status).toBe(401);
    await heldA.pop()?.close();
    const stillB = await openStream(server.url, `token=${viewerA}`);
    for (const stream of [...heldA, stillB, ...heldC]) await stream.close();
  });
});

describe('streams of all tenants on one replica (STREAM_MAX_CONNECTIONS)', () => {
  let small: RunningServer;
  beforeAll(async () => {
    small = await startAllInOne({ STREAM_MAX_CONNECTIONS: '3', STREAM_MAX_CONNECTIONS_PER_TENANT: '2' });
  });
  afterAll(() => small.close());

  it('the next stream once the process holds its limit is closed with 1008 and where to resume, SSE streams counting too', async () => {
    const held: OpenStream[] = [];
    held.push(await openStream(small.url, `token=${await small.token('many-a', 'viewer')}`));
    held.push(await openStream(small.url, `token=${await small.token('many-b', 'viewer')}`));
    // An SSE stream holds a place like a WebSocket.
    const controller = new AbortController();
    const sse = await fetch(`${small.url}/api/v1/logs/events?token=${await small.token('many-c', 'viewer')}`, {
      signal: controller.signal,
    });
    expect(sse.status).toBe(200);
    const token = await small.token('many-d', 'viewer');
    const refused = await new Promise<{ code: number; reason: string }>((resolve, reject) => {
      const socket = new WebSocket(`${small.url.replace(/^http/, 'ws')}/api/v1/logs/stream?token=${token}`);
      socket.once('close', (code, reason) => resolve({ code, reason: reason.toString() }));
      socket.once('unexpected-response', () => reject(new Error('refused before the upgrade')));
    });
    expect(refused.code).toBe(1008);
    expect(refused.reason).toMatch(/^server connection limit reached \(3\); after=[A-Za-z0-9_-]{70}$/);
    // One place freed (the SSE client leaves): the next tenant gets in.
    controller.abort();
    // /metrics answers the platform admin only; a count that cannot be read fails here rather than passing the wait.
    const platformAdmin = await small.token('system', 'admin');
    const open = async () => {
      const count = Number(
        /^logserver_stream_connections (\d+)$/m.exec((await call(`${small.url}/metrics`, { token: platformAdmin })).text)?.[1],
      );
      expect(Number.isInteger(count)).toBe(true);
      return count;
    };
    while ((await open()) > 2) await new Promise((resolve) => setTimeout(resolve, 20));
    const admitted = await openStream(small.url, `token=${token}`);
    const writer = await small.token('many-d', 'writer');
    const created = await call(`${small.url}/api/v1/logs`, { token: writer, body: { action: 'in', resource_type: 'r' } });
    await admitted.waitFor((frame) => frame.includes(created.body.data.id));
    for (const stream of [...held, admitted]) await stream.close();
  });
});
