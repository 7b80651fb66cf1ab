import { LIMITS } from '@logserver/shared/schemas/limits';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, type RunningServer, startAllInOne } from '../../../test/support/all-in-one.js';

let server: RunningServer;
let writer: string;
let viewer: string;
beforeAll(async () => {
  server = await startAllInOne();
  writer = await server.token('acme', 'writer');
  viewer = await server.token('acme', 'viewer');
});
afterAll(() => server.close());

const base = { action: 'update', resource_type: 'user' };
const nested = (depth: number): Record<string, unknown> => (depth <= 1 ? { leaf: 1 } : { child: nested(depth - 1) });
const stored = async () => (await call(`${server.url}/api/v1/logs?size=1`, { token: viewer })).body.meta.total as number;

/** [what, the largest accepted body, the smallest refused one, the refused field's loc under body]. */
const boundaries: [string, Record<string, unknown>, Record<string, unknown>, (string | number)[]][] = [
  ['action length', { ...base, action: 'a'.repeat(LIMITS.shortText) }, { ...base, action: 'a'.repeat(LIMITS.shortText + 1) }, ['action']],
  [
    'resource_type length',
    { ...base, resource_type: 'r'.repeat(LIMITS.shortText) },
    { ...base, resource_type: 'r'.repeat(LIMITS.shortText + 1) },
    ['resource_type'],
  ],
  [
    'resource_id length',
    { ...base, resource_id: 'i'.repeat(LIMITS.resourceId) },
    { ...base, resource_id: 'i'.repeat(LIMITS.resourceId + 1) },
    ['resource_id'],
  ],
  [
    'user_agent length',
    { ...base, user_agent: 'u'.repeat(LIMITS.userAgent) },
    { ...base, user_agent: 'u'.repeat(LIMITS.userAgent + 1) },
    ['user_agent'],
  ],
  [
    'object size as JSON',
    { ...base, metadata: { k: 'x'.repeat(LIMITS.objectBytes - 8) } },
    { ...base, metadata: { k: 'x'.repeat(LIMITS.objectBytes - 7) } },
    ['metadata'],
  ],
  ['nesting depth', { ...base, after: nested(LIMITS.objectDepth) }, { ...base, after: nested(LIMITS.objectDepth + 1) }, ['after']],
  [
    'object key length',
    { ...base, before: { ['k'.repeat(LIMITS.objectKeyLength)]: 1 } },
    { ...base, before: { ['k'.repeat(LIMITS.objectKeyLength + 1)]: 1 } },
    ['before'],
  ],
];

describe('POST /api/v1/logs: validation at the documented limits', () => {
  for (const [what, accepted, refused, loc] of boundaries) {
    it(`accepts the largest and refuses one past it: ${what}`, async () => {
      const ok = await call(`${server.url}/api/v1/logs`, { token: writer, body: accepted });
      expect(ok.status, ok.text.slice(0, 300)).toBe(200);
      const bad = await call(`${server.url}/api/v1/logs`, { token: writer, body: refused });
      expect(bad.status).toBe(422);
      expect(bad.body.data.map((detail: { loc: unknown[] }) => detail.loc.slice(0, loc.length + 1))).toContainEqual(['body', ...loc]);
    });
  }

  const refusals: [string, unknown, (string | number)[]][] = [
    ['a $ key', { ...base, metadata: { $where: 1 } }, ['body', 'metadata', '$where']],
    ['a dotted key', { ...base, after: { 'a.b': 1 } }, ['body', 'after', 'a.b']],
    ['an unknown field', { ...base, tenant_id: 'other' }, ['body']],
    ['an invalid IP address', { ...base, ip_address: '999.1.1.1' }, ['body', 'ip_address']],
    ['a timestamp without a zone', { ...base, timestamp: '2025-06-26T01:23:45' }, ['body', 'timestamp']],
    ['an unknown severity', { ...base, severity: 'LOUD' }, ['body', 'severity']],
    ['a blank action', { ...base, action: '   ' }, ['body', 'action']],
    ['before as an array', { ...base, before: [1, 2] }, ['body', 'before']],
    ['an array body', [base], ['body']],
  ];
  for (const [what, body, loc] of refusals) {
    it(`refuses ${what} with a 422 naming the field`, async () => {
      const response = await call(`${server.url}/api/v1/logs`, { token: writer, body });
      expect(response.status).toBe(422);
      expect(response.body.msg).toBe('Validation error');
      expect(response.body.data.map((detail: { loc: unknown[] }) => detail.loc)).toContainEqual(loc);
    });
  }

  it('refuses a body over the single-event limit with 413, and a non-JSON body with 400/415', async () => {
    const big = await call(`${server.url}/api/v1/logs`, {
      token: writer,
      body: { ...base, user_agent: 'x'.repeat(LIMITS.singleBodyBytes) },
    });
    expect(big.status).toBe(413);
    expect(big.body).toEqual({ code: 413, msg: 'Request body too large', data: null });
    expect((await call(`${server.url}/api/v1/logs`, { token: writer, body: '{"action":' })).status).toBe(400);
    const text = await call(`${server.url}/api/v1/logs`, {
      token: writer,
      body: '<action/>',
      headers: { 'content-type': 'application/xml' },
    });
    expect(text.status).toBe(415);
  });

  it('stores the same body sent twice as two events', async () => {
    const first = await call(`${server.url}/api/v1/logs`, { token: writer, body: { ...base, resource_id: 'twice' } });
    const second = await call(`${server.url}/api/v1/logs`, { token: writer, body: { ...base, resource_id: 'twice' } });
    expect(first.body.data.id).not.toBe(second.body.data.id);
    expect((await call(`${server.url}/api/v1/logs?resource_id=twice`, { token: viewer })).body.meta.total).toBe(2);
  });
});

describe('POST /api/v1/logs/bulk: all or nothing, errors by index', () => {
  it('keeps each event’s own timestamp and defaults the rest to now', async () => {
    const response = await call(`${server.url}/api/v1/logs/bulk`, {
      token: writer,
      body: [{ ...base, timestamp: '2024-12-31T23:59:59.999+02:00' }, { ...base, timestamp: '2025-01-01T00:00:00Z' }, { ...base }],
    });
    expect(response.status).toBe(200);
    expect(response.body.meta).toEqual({ count: 3 });
    const [a, b, c] = response.body.data;
    expect(a.timestamp).toBe('2024-12-31T21:59:59.999Z');
    expect(b.timestamp).toBe('2025-01-01T00:00:00.000Z');
    expect(c.timestamp).toBe(c.received_at);
  });

  it('refuses the whole batch when one item is invalid, listing every bad item by index', async () => {
    const before = await stored();
    const response = await call(`${server.url}/api/v1/logs/bulk`, {
      token: writer,
      body: [base, { ...base, severity: 'LOUD' }, base, { action: 'x' }, { ...base, metadata: { 'a.b': 1 } }],
    });
    expect(response.status).toBe(422);
    const locs = response.body.data.map((detail: { loc: unknown[] }) => detail.loc);
    expect(locs).toContainEqual(['body', 1, 'severity']);
    expect(locs).toContainEqual(['body', 3, 'resource_type']);
    expect(locs).toContainEqual(['body', 4, 'metadata', 'a.b']);
    expect(locs.some((loc: unknown[]) => loc[1] === 0 || loc[1] === 2)).toBe(false);
    expect(await stored()).toBe(before);
  });

  it(`takes ${LIMITS.bulkEvents} events and refuses ${LIMITS.bulkEvents + 1} or none`, async () => {
    const full = await call(`${server.url}/api/v1/logs/bulk`, {
      token: writer,
      body: Array.from({ length: LIMITS.bulkEvents }, () => base),
    });
    expect(full.status).toBe(200);
    expect(full.body.data).toHaveLength(LIMITS.bulkEvents);
    const before = await stored();
    const over = await call(`${server.url}/api/v1/logs/bulk`, {
      token: writer,
      body: Array.from({ length: LIMITS.bulkEvents + 1 }, () => base),
    });
    expect(over.status).toBe(422);
    expect(over.body.data[0].loc).toEqual(['body']);
    expect(over.body.data[0].msg).toContain(String(LIMITS.bulkEvents));
    expect((await call(`${server.url}/api/v1/logs/bulk`, { token: writer, body: [] })).status).toBe(422);
    expect((await call(`${server.url}/api/v1/logs/bulk`, { token: writer, body: base })).status).toBe(422);
    expect(await stored()).toBe(before);
  });

  it('refuses a bulk body over its byte limit with 413', async () => {
    const event = { ...base, metadata: { k: 'x'.repeat(12 * 1024) } };
    const body = Array.from({ length: Math.ceil(LIMITS.bulkBodyBytes / (12 * 1024)) + 10 }, () => event).slice(0, LIMITS.bulkEvents);
    expect(JSON.stringify(body).length).toBeGreaterThan(LIMITS.bulkBodyBytes);
    const response = await call(`${server.url}/api/v1/logs/bulk`, { token: writer, body });
    expect(response.status).toBe(413);
  });
});
