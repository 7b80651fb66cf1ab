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
