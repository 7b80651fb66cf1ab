import { randomBytes } from 'node:crypto';
import getPort from 'get-port';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { type RunningServer, startAllInOne } from '../../../test/support/all-in-one.js';
import {
  type Checkpoint,
  checkConsistency,
  checkProof,
  eventHashOf,
  type LogEvent,
  LogserverClient,
  type WebSocketClass,
} from '../src/client.js';

/** Real fetch, counting the requests by method and path (without the query). */
function countingFetch() {
  const seen: string[] = [];
  const wrapped: typeof fetch = async (input, init) => {
    seen.push(`${init?.method ?? 'GET'} ${new URL(String(input)).pathname}`);
    return fetch(input, init);
  };
  return { seen, fetch: wrapped };
}

const until = async (what: string, check: () => boolean, timeoutMs = 10_000) => {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
};

describe('@logserver/client against the all-in-one server', () => {
  let server: RunningServer;
  let writer: LogserverClient;
  let reader: LogserverClient;
  beforeAll(async () => {
    server = await startAllInOne({ SEAL_INTERVAL: '0' });
    writer = new LogserverClient({ baseUrl: server.url, token: await server.token('client-a', 'writer'), retry: { minDelayMs: 10 } });
    reader = new LogserverClient({ baseUrl: server.url, token: await server.token('client-a', 'admin'), retry: { minDelayMs: 10 } });
  });
  afterAll(async () => {
    await server?.close();
  });

  it('creates an event and gets it back', async () => {
    const created = await writer.create({
      action: 'invoice.paid',
      resource_type: 'invoice',
      resource_id: 'inv-1',
      metadata: { amount: 12 },
    });
    expect(created).toMatchObject({ tenant_id: 'client-a', user_id: 'writer-of-client-a', severity: 'INFO', action: 'invoice.paid' });
    expect(await reader.get(created.id)).toEqual(created);
  });

  it('retries a POST whose answer was lost with the same Idempotency-Key: one event is stored', async () => {
    let lost = 3;
    const keys: (string | null)[] = [];
    const flaky: typeof fetch = async (input, init) => {
      keys.push(new Headers(init?.headers).get('idempotency-key'));
      const response = await fetch(input, init);
      // The server stored it and answered; the answer never reaches the caller.
      if (lost-- > 0) throw new TypeError('fetch failed: socket hang up');
      return response;
    };
    const client = new LogserverClient({
      baseUrl: server.url,
      token: await server.token('client-lost', 'writer'),
      fetch: flaky,
      retry: { minDelayMs: 10 },
    });
    const created = await client.create({ action: 'order.placed', resource_type: 'order' });
    expect(keys).toHaveLength(4);
    expect(new Set(keys).size).toBe(1);
    expect(keys[0]).toMatch(/^[0-9a-f-]{36}$/);
    const admin = new LogserverClient({ baseUrl: server.url, token: await server.token('client-lost', 'admin') });
    expect((await admin.page()).items.map((event) => event.id)).toEqual([created.id]);
  });

  it('bulk cuts 2 500 events into requests of at most 1 000 and stores them once, in order', async () => {
    const counted = countingFetch();
    const client = new LogserverClient({ baseUrl: server.url, token: await server.token('client-bulk', 'writer'), fetch: counted.fetch });
    const events = Array.from({ length: 2500 }, (_, index) => ({ action: `bulk.${index}`, resource_type: 'doc', metadata: { index } }));
    const stored = await client.bulk(events);
    expect(counted.seen).toEqual(Array(3).fill('POST /api/v1/logs/bulk'));
    expect(stored.map((event) => event.action)).toEqual(events.map((event) => event.action));
    const admin = new LogserverClient({ baseUrl: server.url, token: await server.token('client-bulk', 'admin') });
    expect(await admin.count()).toBe(2500);
  });

  it('bulk also cuts by bytes, below the server’s body limit', async () => {
    const counted = countingFetch();
    const client = new LogserverClient({
      baseUrl: server.url,
      token: await server.token('client-bytes', 'writer'),
      fetch: counted.fetch,
      bulkBytes: 64 * 1024,
    });
    const padding = 'x'.repeat(8 * 1024);
    const stored = await client.bulk(
      Array.from({ length: 40 }, (_, index) => ({ action: `b.${index}`, resource_type: 'doc', metadata: { padding } })),
    );
    expect(stored).toHaveLength(40);
    expect(counted.seen.length).toBeGreaterThanOrEqual(5);
  });

  it('list walks every page by cursor as an async iterator; count, stats and export agree', async () => {
    const client = new LogserverClient({ baseUrl: server.url, token: await server.token('client-list', 'writer') });
    await client.bulk(
      Array.from(
        { length: 250 },
        (_, index) => ({ action: index % 2 ? 'odd' : 'even', resource_type: 'doc', severity: index % 5 ? 'INFO' : 'ERROR' }) as const,
      ),
    );
    const admin = new LogserverClient({ baseUrl: server.url, token: await server.token('client-list', 'admin') });
    const listed: LogEvent[] = [];
    for await (const event of admin.list({}, { pageSize: 40, sort: 'asc' })) listed.push(event);
    expect(listed).toHaveLength(250);
    expect(new Set(listed.map((event) => event.id)).size).toBe(250);
    const errors: LogEvent[] = [];
    for await (const event of admin.list({ severity: ['ERROR'] })) errors.push(event);
    expect(errors).toHaveLength(50);
    expect(await admin.count({ action: 'odd' })).toBe(125);
    expect((await admin.stats()).data).toMatchObject({ INFO: 200, ERROR: 50 });
    const exported: LogEvent[] = [];
    for await (const event of admin.export({}, { sort: 'asc' })) exported.push(event);
    expect(exported).toEqual(listed);
    const csv = await new Response(await admin.exportStream({ action: 'even' }, { format: 'csv' })).text();
    expect(csv.trim().split('\n')).toHaveLength(126);
  });

  it('rejects with the server’s reason, and does not retry what retrying cannot fix', async () => {
    const counted = countingFetch();
    const client = new LogserverClient({ baseUrl: server.url, token: await server.token('client-a', 'writer'), fetch: counted.fetch });
    const invalid = await client.create({ action: '', resource_type: 'doc' }).catch((error: unknown) => error);
    expect(invalid).toMatchObject({ name: 'LogserverError', status: 422, message: 'Validation error' });
    expect((invalid as { problems: { loc: unknown[] }[] }).problems[0]?.loc).toEqual(['body', 'action']);
    const expired = new LogserverClient({
      baseUrl: server.url,
      token: await server.token('client-a', 'viewer', { ttlSeconds: -60 }),
      fetch: counted.fetch,
    });
    await expect(expired.page()).rejects.toMatchObject({ status: 401, message: 'Unauthorized: token expired' });
    await expect(writer.get('0190a4f2-7c3b-7d1e-8a5f-3b2c1d0e9f8a')).rejects.toMatchObject({ status: 403 });
    await expect(reader.get('0190a4f2-7c3b-7d1e-8a5f-3b2c1d0e9f8a')).rejects.toMatchObject({ status: 404 });
    expect(counted.seen).toHaveLength(2);
  });

  it('waits out a 429 with its Retry-After and then succeeds', async () => {
    const limited = await startAllInOne({ RATE_LIMIT_PER_TENANT: '3', RATE_LIMIT_WINDOW: '1' });
    try {
      const counted = countingFetch();
      const client = new LogserverClient({
        baseUrl: limited.url,
        token: await limited.token('client-rl', 'writer'),
        fetch: counted.fetch,
        retry: { minDelayMs: 50 },
      });
      const stored = await Promise.all(
        Array.from({ length: 6 }, (_, index) => client.create({ action: `rl.${index}`, resource_type: 'doc' })),
      );
      expect(stored).toHaveLength(6);
      expect(counted.seen.length).toBeGreaterThan(6);
      const admin = new LogserverClient({ baseUrl: limited.url, token: await limited.token('client-rl', 'admin') });
      expect(await admin.count()).toBe(6);
    } finally {
      await limited.close();
    }
  });

  it('checks an event’s inclusion proof against its checkpoint on the client, and notices a changed event or checkpoint', async () => {
    const created = await writer.create({ action: 'proof.me', resource_type: 'doc' });
    await expect(reader.proof(created.id)).rejects.toMatchObject({ status: 409 });
    await server.seal();
    const checked = await reader.checkEvent(created.id);
    expect(checked).toMatchObject({
      valid: true,
      format: 'tree',
      problem: null,
      checks: { eventHash: true, merklePath: true, checkpoint: true, keyWindow: true, signature: true },
    });
    const keys = await reader.keys();
    expect(keys.keys).toHaveLength(1);
    expect(keys.keys[0]?.kid).toBe(checked.proof.checkpoint?.key_id);
    const proof = checked.proof;
    const checkpoint = proof.checkpoint as Checkpoint;
    // The event changed after it was sealed.
    expect(checkProof({ ...proof, event: { ...proof.event, action: 'proof.changed' } }, keys)).toMatchObject({
      valid: false,
      checks: { eventHash: false },
    });
    // The event re-hashed so its own hash matches: the leaf is no longer the sealed one.
    const rewritten = { ...proof.event, action: 'proof.rewritten' };
    expect(checkProof({ ...proof, event: { ...rewritten, hash: eventHashOf(rewritten) } }, keys)).toMatchObject({
      valid: false,
      checks: { eventHash: true, merklePath: false },
    });
    // A checkpoint whose root was edited: the path no longer leads to it.
    const otherRoot = checkpoint.root_hash.replace(/^./, (c) => (c === '0' ? '1' : '0'));
    expect(checkProof({ ...proof, checkpoint: { ...checkpoint, root_hash: otherRoot } }, keys)).toMatchObject({
      valid: false,
      checks: { merklePath: false },
    });
    // One byte of the note's signature changed.
    const at = checkpoint.note.lastIndexOf(' ') + 1;
    const signature = Buffer.from(checkpoint.note.slice(at, -1), 'base64');
    signature[10] = (signature[10] as number) ^ 1;
    const forged = `${checkpoint.note.slice(0, at)}${signature.toString('base64')}\n`;
    expect(checkProof({ ...proof, checkpoint: { ...checkpoint, note: forged } }, keys)).toMatchObject({
      valid: false,
      checks: { checkpoint: true, keyWindow: true, signature: false },
    });
    // The key's window closed before the checkpoint was signed: refused (aws-cli#10073).
    const closed = { keys: keys.keys.map((jwk) => ({ ...jwk, not_after: '2000-01-01T00:00:00.000Z' })) };
    expect(checkProof(proof, closed)).toMatchObject({ valid: false, checks: { keyWindow: false } });
    expect(checkProof(proof, closed).problem).toMatch(/outside that key's window/);
    // Another server's key: not a key this checkpoint names.
    const other = await startAllInOne();
    try {
      const otherKeys = await new LogserverClient({ baseUrl: other.url, token: await other.token('x', 'admin') }).keys();
      expect(checkProof(proof, otherKeys)).toMatchObject({ valid: false, checks: { keyWindow: false, signature: false } });
      expect(
        checkProof(proof, await new LogserverClient({ baseUrl: other.url, token: await other.token('x', 'admin') }).publicKey()),
      ).toMatchObject({ valid: false });
    } finally {
      await other.close();
    }
    // The PEM the server publishes checks the same proof.
    expect(checkProof(proof, await reader.publicKey())).toMatchObject({ valid: true });
    expect(await reader.verify()).toMatchObject({ status: 'intact' });
  });

  it('checks on the client that a later checkpoint extends one it kept, and that an old proof still holds', async () => {
    const first = await writer.bulk(Array.from({ length: 5 }, (_, index) => ({ action: `kept.${index}`, resource_type: 'doc' })));
    await server.seal();
    const kept = await reader.latestCheckpoint();
    await writer.bulk(Array.from({ length: 7 }, (_, index) => ({ action: `later.${index}`, resource_type: 'doc' })));
    await server.seal();
    const later = await reader.latestCheckpoint();
    expect(later.tree_size).toBe(kept.tree_size + 7);

    const consistent = await reader.checkConsistency(kept);
    expect(consistent).toMatchObject({
      valid: true,
      problem: null,
      checks: { checkpoint: true, keyWindow: true, signature: true, consistency: true },
      consistency: { from: kept.tree_size, to: later.tree_size },
    });
    expect(consistent.consistency.proof.length).toBeGreaterThan(0);
    // A kept checkpoint of the same size but another root: the log showed someone else another tree.
    const otherRoot = kept.root_hash.replace(/^./, (c) => (c === '0' ? '1' : '0'));
    const split = await reader.checkConsistency({ tree_size: kept.tree_size, root_hash: otherRoot });
    expect(split).toMatchObject({ valid: false, checks: { signature: true, consistency: false } });
    expect(split.problem).toMatch(/split view/);
    // The proof's checkpoint edited in transit: its signature no longer holds.
    const keys = await reader.keys();
    const edited = {
      ...consistent.consistency,
      checkpoint: {
        ...consistent.consistency.checkpoint,
        note: consistent.consistency.checkpoint.note.replace(/\n\d+\n/, `\n${later.tree_size + 1}\n`),
      },
    };
    expect(checkConsistency(kept, edited, keys)).toMatchObject({ valid: false, checks: { checkpoint: false } });
    // An event sealed in the kept checkpoint still proves against it, and against the newest.
    const id = (first[2] as LogEvent).id;
    expect(await reader.checkEvent(id, { checkpoint: kept.tree_size, keys })).toMatchObject({
      valid: true,
      proof: { tree_size: kept.tree_size },
    });
    expect(await reader.checkEvent(id, { keys })).toMatchObject({ valid: true, proof: { tree_size: later.tree_size } });
  });
});

describe('the live stream with automatic reconnection', () => {
  it('delivers stored events as they arrive, reconnects after a server restart and goes on', async () => {
    const port = await getPort();
    const env = { PORT: String(port), AUTH_SECRET: randomBytes(24).toString('hex') };
    let server = await startAllInOne(env);
    const dataDir = server.dataDir;
    const token = await server.token('client-live', 'admin');
    const client = new LogserverClient({ baseUrl: server.url, token, WebSocket: WebSocket as unknown as WebSocketClass });
    const received: LogEvent[] = [];
    const states: string[] = [];
    const live = client.stream({
      onEvent: (event) => received.push(event),
      onState: (state) => states.push(state),
      minDelayMs: 50,
      filter: { resource_type: 'live' },
    });
    try {
      await until('the stream to open', () => states.includes('open'));
      const writer = new LogserverClient({ baseUrl: server.url, token: await server.token('client-live', 'writer') });
      const before = await writer.bulk(Array.from({ length: 5 }, (_, index) => ({ action: `before.${index}`, resource_type: 'live' })));
      await writer.create({ action: 'filtered-out', resource_type: 'other' });
      await until('the first events', () => received.length >= 5);
      await server.close();
      await until('the client to notice', () => states.includes('reconnecting'));
      server = await startAllInOne({ ...env, DATA_DIR: dataDir });
      await until('the stream to reopen', () => states.filter((state) => state === 'open').length >= 2, 20_000);
      const after = await writer.bulk(Array.from({ length: 5 }, (_, index) => ({ action: `after.${index}`, resource_type: 'live' })));
      await until('the later events', () => received.length >= 10);
      expect(received.map((event) => event.id)).toEqual([...before, ...after].map((event) => event.id));
    } finally {
      live.close();
      await server.close();
    }
    expect(await live.closed).toMatchObject({ code: 1000 });
  }, 60_000);
});
