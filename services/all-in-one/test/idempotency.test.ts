import { randomUUID } from 'node:crypto';
import { Agent, request } from 'node:http';
import { tenantOf } from '@logserver/shared/store/tenant-id';
import pMap from 'p-map';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, type RunningServer, startAllInOne } from '../../../test/support/all-in-one.js';

const MAX_KEYS = 50;

/** A keyed POST through a connection pool (node:http), returning the status and the parsed body. */
function postWith(
  agent: Agent,
  url: string,
  token: string,
  key: string,
  body: unknown,
): Promise<{ status: number; body: { data: { id: string } } }> {
  return new Promise((resolve, reject) => {
    const payload = JSON.stringify(body);
    const req = request(
      url,
      {
        method: 'POST',
        agent,
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', 'idempotency-key': key },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          text += chunk;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) }));
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

describe('Idempotency-Key and event_id on POST /api/v1/logs and /bulk', () => {
  let server: RunningServer;
  beforeAll(async () => {
    server = await startAllInOne();
  });
  afterAll(async () => {
    await server?.close();
  });

  const post = async (tenant: string, body: unknown, key?: string, path = '/api/v1/logs') =>
    call(`${server.url}${path}`, {
      token: await server.token(tenant, 'writer'),
      body,
      headers: key === undefined ? {} : { 'idempotency-key': key },
    });
  const stored = async (tenant: string, filter = ''): Promise<{ id: string; action: string }[]> => {
    const response = await call(`${server.url}/api/v1/logs?size=100${filter}`, { token: await server.token(tenant, 'viewer') });
    expect(response.status).toBe(200);
    return response.body.data;
  };

  it('five retries with one key answer the first answer and leave exactly one event', async () => {
    const key = randomUUID();
    const body = { action: 'invoice.paid', resource_type: 'invoice', resource_id: 'inv-1', metadata: { amount: 10 } };
    const answers = [];
    for (let attempt = 0; attempt < 5; attempt++) answers.push(await post('idem-a', body, key));
    for (const answer of answers) expect(answer.status).toBe(200);
    expect(answers[0]?.headers.get('idempotent-replayed')).toBeNull();
    for (const answer of answers.slice(1)) {
      expect(answer.headers.get('idempotent-replayed')).toBe('true');
      expect(answer.text).toBe(answers[0]?.text);
    }
    const events = await stored('idem-a');
    expect(events.map((event) => event.id)).toEqual([answers[0]?.body.data.id]);
  });

  it('a key sent again with the same body in another key order is the same request', async () => {
    const key = randomUUID();
    const first = await post('idem-order', { action: 'a', resource_type: 'r', metadata: { x: 1, y: 2 } }, key);
    const again = await post('idem-order', { metadata: { y: 2, x: 1 }, resource_type: 'r', action: 'a' }, key);
    expect(again.status).toBe(200);
    expect(again.body.data).toEqual(first.body.data);
    expect(await stored('idem-order')).toHaveLength(1);
  });

  it('the same key with another body, or on the other route, is a 422 that says so, and stores nothing', async () => {
    const key = randomUUID();
    expect((await post('idem-b', { action: 'first', resource_type: 'doc' }, key)).status).toBe(200);
    const other = await post('idem-b', { action: 'second', resource_type: 'doc' }, key);
    expect(other.status).toBe(422);
    expect(other.body.msg).toMatch(/Idempotency-Key was already used for a different request/);
    const bulk = await post('idem-b', [{ action: 'first', resource_type: 'doc' }], key, '/api/v1/logs/bulk');
    expect(bulk.status).toBe(422);
    expect((await stored('idem-b')).map((event) => event.action)).toEqual(['first']);
  });

  it('bulk retries give the same ids in the same order and store the batch once', async () => {
    const key = randomUUID();
    const batch = Array.from({ length: 300 }, (_, index) => ({ action: `bulk.${index}`, resource_type: 'doc' }));
    const first = await post('idem-bulk', batch, key, '/api/v1/logs/bulk');
    const again = await post('idem-bulk', batch, key, '/api/v1/logs/bulk');
    expect(first.status).toBe(200);
    expect(again.text).toBe(first.text);
    expect(new Set(first.body.data.map((event: { id: string }) => event.id)).size).toBe(300);
    const response = await call(`${server.url}/api/v1/logs?size=1`, { token: await server.token('idem-bulk', 'viewer') });
    expect(response.body.meta.total).toBe(300);
  });

  it('keys are tenant-scoped: two tenants may use one key for different events', async () => {
    const key = 'same-key-for-both';
    const a = await post('idem-t1', { action: 'one', resource_type: 'doc' }, key);
    const b = await post('idem-t2', { action: 'two', resource_type: 'doc' }, key);
    expect([a.status, b.status]).toEqual([200, 200]);
    expect((await stored('idem-t1')).map((event) => event.action)).toEqual(['one']);
    expect((await stored('idem-t2')).map((event) => event.action)).toEqual(['two']);
  });

  it('refuses a malformed key with a 400 that names the rule; accepts the draft’s quoted form', async () => {
    const tooLong = await post('idem-c', { action: 'a', resource_type: 'r' }, 'x'.repeat(256));
    expect(tooLong.status).toBe(400);
    expect(tooLong.body.msg).toMatch(/Idempotency-Key must be 1 to 255 printable ASCII/);
    const quoted = await post('idem-c', { action: 'a', resource_type: 'r' }, '"quoted-key"');
    const bare = await post('idem-c', { action: 'a', resource_type: 'r' }, 'quoted-key');
    expect(quoted.status).toBe(200);
    expect(bare.body.data.id).toBe(quoted.body.data.id);
  });

  it('1000 concurrent requests with 100 distinct keys leave 100 events; each key’s answers carry one id', async () => {
    const keys = Array.from({ length: 100 }, () => randomUUID());
    const token = await server.token('idem-crowd', 'writer');
    // All 1000 are in flight at once; they share 100 keep-alive connections, as a client's pool would,
    // rather than opening 1000 sockets at once past the listen backlog.
    const agent = new Agent({ keepAlive: true, maxSockets: 100 });
    const statuses = new Map<number, number>();
    const idsByKey = new Map<string, Set<string>>();
    await pMap(
      Array.from({ length: 1000 }, (_, index) => index),
      async (index) => {
        const key = keys[index % 100] as string;
        // A client that gets the in-flight 409 retries, as the client library does.
        for (let attempt = 0; attempt < 50; attempt++) {
          const response = await postWith(agent, `${server.url}/api/v1/logs`, token, key, {
            action: 'crowd',
            resource_type: 'doc',
            resource_id: key,
          });
          statuses.set(response.status, (statuses.get(response.status) ?? 0) + 1);
          if (response.status === 409) {
            await new Promise((resolve) => setTimeout(resolve, 20));
            continue;
          }
          expect(response.status).toBe(200);
          const ids = idsByKey.get(key) ?? new Set();
          ids.add(response.body.data.id);
          idsByKey.set(key, ids);
          return;
        }
        throw new Error(`key ${key} stayed in flight`);
      },
      { concurrency: 1000 },
    ).finally(() => agent.destroy());
    expect([...statuses.keys()].every((status) => status === 200 || status === 409)).toBe(true);
    expect(idsByKey.size).toBe(100);
    for (const ids of idsByKey.values()) expect(ids.size).toBe(1);
    const response = await call(`${server.url}/api/v1/logs?size=1`, { token: await server.token('idem-crowd', 'viewer') });
    expect(response.body.meta.total).toBe(100);
  }, 120_000);

  it('a client event_id becomes the id: the same event sent twice, with or without keys, is stored once', async () => {
    const eventId = '0190a4f2-7c3b-7d1e-8a5f-3b2c1d0e9f8a';
    const body = { event_id: eventId.toUpperCase(), action: 'user.login', resource_type: 'session' };
    const first = await post('idem-ev', body);
    const again = await post('idem-ev', body);
    const viaBulk = await post('idem-ev', [body, { action: 'other', resource_type: 'session' }], randomUUID(), '/api/v1/logs/bulk');
    expect([first.status, again.status, viaBulk.status]).toEqual([200, 200, 200]);
    expect(first.body.data.id).toBe(eventId);
    expect(viaBulk.body.data[0].id).toBe(eventId);
    const events = await stored('idem-ev');
    expect(events.filter((event) => event.id === eventId)).toHaveLength(1);
    expect(events).toHaveLength(2);
    const got = await call(`${server.url}/api/v1/logs/${eventId}`, { token: await server.token('idem-ev', 'viewer') });
    expect(got.body.data).toMatchObject({ id: eventId, action: 'user.login' });
    // Another tenant's event with the same event_id is its own event.
    expect((await post('idem-ev-other', body)).status).toBe(200);
    expect(await stored('idem-ev-other')).toHaveLength(1);
  });

  it('refuses an event_id that is not a UUID, and one bulk with an event_id twice, naming the item', async () => {
    const bad = await post('idem-ev2', { event_id: 'order-17', action: 'a', resource_type: 'r' });
    expect(bad.status).toBe(422);
    expect(bad.body.data[0]).toMatchObject({ loc: ['body', 'event_id'] });
    const id = randomUUID();
    const twice = await post(
      'idem-ev2',
      [
        { event_id: id, action: 'a', resource_type: 'r' },
        { event_id: id, action: 'b', resource_type: 'r' },
      ],
      undefined,
      '/api/v1/logs/bulk',
    );
    expect(twice.status).toBe(422);
    expect(twice.body.data[0]).toMatchObject({ loc: ['body', 1, 'event_id'], msg: 'the same event_id as item 0' });
    expect(await stored('idem-ev2')).toHaveLength(0);
  });
});

describe('IDEMPOTENCY_TTL', () => {
  it('forgets a key after the TTL: the same key then carries a new request', async () => {
    const server = await startAllInOne({ IDEMPOTENCY_TTL: '1' });
    try {
      const token = await server.token('ttl', 'writer');
      const send = (action: string) =>
        call(`${server.url}/api/v1/logs`, { token, body: { action, resource_type: 'doc' }, headers: { 'idempotency-key': 'k' } });
      expect((await send('first')).status).toBe(200);
      expect((await send('second')).status).toBe(422);
      await new Promise((resolve) => setTimeout(resolve, 1100));
      expect((await send('second')).status).toBe(200);
    } finally {
      await server.close();
    }
  });
});

describe('IDEMPOTENCY_MAX_KEYS_PER_TENANT', () => {
  let server: RunningServer;
  beforeAll(async () => {
    server = await startAllInOne({ IDEMPOTENCY_MAX_KEYS_PER_TENANT: String(MAX_KEYS) });
  });
  afterAll(async () => {
    await server?.close();
  });
  const postTo = async (target: RunningServer, tenant: string, body: unknown, key: string) =>
    call(`${target.url}/api/v1/logs`, { token: await target.token(tenant, 'writer'), body, headers: { 'idempotency-key': key } });

  it(`keeps at most ${MAX_KEYS} keys per tenant (plus one trim interval), without touching another tenant's`, async () => {
    const victim = await postTo(server, 'idem-quiet', { action: 'quiet', resource_type: 'doc' }, 'quiet-key');
    expect(victim.status).toBe(200);
    const token = await server.token('idem-noisy', 'writer');
    for (let index = 0; index < 400; index++) {
      const response = await call(`${server.url}/api/v1/logs`, {
        token,
        body: { action: 'noisy', resource_type: 'doc' },
        headers: { 'idempotency-key': `noisy-${index}` },
      });
      expect(response.status).toBe(200);
    }
    const keysOf = (tenant: string) => server.idempotencyKeys(tenantOf({ tenant }));
    await expect.poll(() => keysOf('idem-noisy')).toBeLessThanOrEqual(MAX_KEYS + Math.ceil(MAX_KEYS / 10));
    expect(await keysOf('idem-quiet')).toBe(1);
    // The quiet tenant's key still replays.
    const replay = await postTo(server, 'idem-quiet', { action: 'quiet', resource_type: 'doc' }, 'quiet-key');
    expect(replay.headers.get('idempotent-replayed')).toBe('true');
  }, 60_000);
});
