import { LIMITS } from '@logserver/shared/schemas/limits';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, type RunningServer, startAllInOne } from '../support/all-in-one.js';
import { expectEnvelope, openStream } from './hostile-support.js';

let server: RunningServer;
let writer: string;
let viewer: string;
beforeAll(async () => {
  server = await startAllInOne();
  writer = await server.token('limits', 'writer');
  viewer = await server.token('limits', 'viewer');
});
afterAll(() => server.close());

const post = (body: unknown) => call(`${server.url}/api/v1/logs`, { token: writer, body });
const bulk = (body: unknown) => call(`${server.url}/api/v1/logs/bulk`, { token: writer, body });
const list = (query: string) => call(`${server.url}/api/v1/logs?${query}`, { token: viewer });
const event = { action: 'a', resource_type: 'r' };

/** An object nested `levels` deep, counting the outer object as level 1, as the schema counts. */
function nested(levels: number): Record<string, unknown> {
  let node: Record<string, unknown> = { leaf: true };
  for (let level = 1; level < levels; level++) node = { child: node };
  return node;
}

/** A metadata object whose JSON text is exactly `bytes` long. */
function objectOfBytes(bytes: number): Record<string, string> {
  const overhead = JSON.stringify({ k: '' }).length;
  return { k: 'x'.repeat(bytes - overhead) };
}

describe('request bodies over the limit are 413 in the envelope', () => {
  it(`a single event body over ${LIMITS.singleBodyBytes} bytes`, async () => {
    expectEnvelope(await post({ ...event, metadata: { k: 'x'.repeat(LIMITS.singleBodyBytes) } }), 413);
  });

  it(`a bulk body over ${LIMITS.bulkBodyBytes} bytes`, async () => {
    const big = JSON.stringify([{ ...event, metadata: { k: 'x'.repeat(LIMITS.bulkBodyBytes) } }]);
    expectEnvelope(await bulk(big), 413);
  });
});

describe('the documented limits of packages/shared/src/schemas/limits.ts, at and just over each boundary', () => {
  it(`bulk: ${LIMITS.bulkEvents} events are taken, ${LIMITS.bulkEvents + 1} are a 422 and store nothing`, async () => {
    const marker = { ...event, action: 'bulk-limit' };
    expectEnvelope(await bulk(Array.from({ length: LIMITS.bulkEvents + 1 }, () => marker)), 422);
    expect((await list('action=bulk-limit')).body.meta.total).toBe(0);
    const accepted = await bulk(Array.from({ length: LIMITS.bulkEvents }, () => marker));
    expect(accepted.status).toBe(200);
    expect((await list('action=bulk-limit')).body.meta.total).toBe(LIMITS.bulkEvents);
  });

  it.each([
    ['action', LIMITS.shortText],
    ['resource_type', LIMITS.shortText],
    ['resource_id', LIMITS.resourceId],
    ['user_agent', LIMITS.userAgent],
  ])('%s: %i characters are taken, one more is a 422', async (field, max) => {
    expect((await post({ ...event, [field]: 'x'.repeat(max) })).status).toBe(200);
    const over = await post({ ...event, [field]: 'x'.repeat(max + 1) });
    expectEnvelope(over, 422);
    expect(over.body.data[0].loc).toEqual(['body', field]);
    expectEnvelope(await bulk([event, { ...event, [field]: 'x'.repeat(max + 1) }]), 422);
  });

  it.each(['before', 'after', 'metadata'])(`%s: nesting ${LIMITS.objectDepth} levels deep is taken, one more is a 422`, async (field) => {
    expect((await post({ ...event, [field]: nested(LIMITS.objectDepth) })).status).toBe(200);
    expectEnvelope(await post({ ...event, [field]: nested(LIMITS.objectDepth + 1) }), 422);
    // Arrays count as levels too, so they are no way around the limit.
    const viaArrays = { list: JSON.parse(`${'['.repeat(LIMITS.objectDepth)}1${']'.repeat(LIMITS.objectDepth)}`) };
    expectEnvelope(await post({ ...event, [field]: viaArrays }), 422);
  });

  it.each(['before', 'after', 'metadata'])(`%s: ${LIMITS.objectBytes} bytes of JSON are taken, one more is a 422`, async (field) => {
    expect((await post({ ...event, [field]: objectOfBytes(LIMITS.objectBytes) })).status).toBe(200);
    expectEnvelope(await post({ ...event, [field]: objectOfBytes(LIMITS.objectBytes + 1) }), 422);
  });

  it(`object keys: ${LIMITS.objectKeyLength} characters are taken, one more is a 422`, async () => {
    expect((await post({ ...event, metadata: { ['k'.repeat(LIMITS.objectKeyLength)]: 1 } })).status).toBe(200);
    expectEnvelope(await post({ ...event, metadata: { ['k'.repeat(LIMITS.objectKeyLength + 1)]: 1 } }), 422);
  });

  it(`page size: 1 and ${LIMITS.pageSize} are taken; 0, ${LIMITS.pageSize + 1} and huge are a 422`, async () => {
    expect((await list('size=1')).status).toBe(200);
    expect((await list(`size=${LIMITS.pageSize}`)).status).toBe(200);
    for (const size of ['0', String(LIMITS.pageSize + 1), '1000000', '99999999999999999999', '-1', '1.5']) {
      expectEnvelope(await list(`size=${size}`), 422);
    }
    expectEnvelope(await list('page=1000001'), 422);
  });

  it(`filters: search up to ${LIMITS.search} and other values up to ${LIMITS.filterValue} characters; longer is a 422`, async () => {
    expect((await list(`search=${'s'.repeat(LIMITS.search)}`)).status).toBe(200);
    expectEnvelope(await list(`search=${'s'.repeat(LIMITS.search + 1)}`), 422);
    for (const name of ['action', 'resource_type', 'resource_id', 'user_id', 'ip_address', 'user_agent']) {
      expect((await list(`${name}=${'v'.repeat(LIMITS.filterValue)}`)).status).toBe(200);
      expectEnvelope(await list(`${name}=${'v'.repeat(LIMITS.filterValue + 1)}`), 422);
    }
    expectEnvelope(await list(`cursor=${'c'.repeat(513)}`), 422);
  });

  it('stats buckets: a range of thousands of years by the hour is a 422, not a huge answer', async () => {
    for (const query of ['interval=hour&from=0000-01-01&to=9999-12-31', 'interval=day&from=0000-01-01&to=9999-12-31']) {
      expectEnvelope(await call(`${server.url}/api/v1/logs/stats?${query}`, { token: viewer }), 422);
    }
    expect((await call(`${server.url}/healthz`)).status).toBe(200);
  });

  it('an id longer than the router allows is a 414 in the envelope, not Fastify’s own error shape', async () => {
    expectEnvelope(await call(`${server.url}/api/v1/logs/${'i'.repeat(300)}`, { token: viewer }), 414);
    expectEnvelope(await call(`${server.url}/api/v1/logs/${'i'.repeat(65)}`, { token: viewer }), 422);
  });

  it('a WebSocket frame over the 64 KiB limit closes that connection (1009) and nothing else', async () => {
    const stream = await openStream(server.url, `token=${viewer}`);
    const closed = new Promise<number>((resolve) => stream.socket.once('close', (code) => resolve(code)));
    stream.socket.send('x'.repeat(65 * 1024));
    expect(await closed).toBe(1009);
    expect((await call(`${server.url}/healthz`)).status).toBe(200);
  });
});
