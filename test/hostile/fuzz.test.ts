import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, type RunningServer, startAllInOne } from '../support/all-in-one.js';

/**
 * Property-based fuzzing of create, bulk and list over real HTTP. The properties: the server never
 * answers 5xx, every refusal is in the envelope, an accepted event carries the token's tenant and
 * subject and reads back exactly as it was answered, a list never shows another tenant, and the
 * server is still up at the end. Run counts add up to several thousand requests in a few seconds.
 */
const TENANT = 'fuzz';
const SUB = 'fuzzer';
const SEED = Number(process.env.FUZZ_SEED ?? Date.now() % 1_000_000);

const OTHER_SECRET = 'only-in-tenant-fuzz-other-3f9c';
let server: RunningServer;
let writer: string;
let viewer: string;
beforeAll(async () => {
  // Exports and searches run 20 at once from one tenant (fuzzInBatches): above the default per-tenant caps
  // (2 exports, 4 searches), which export-exhaustion.test.ts and search-budget.test.ts test; here every
  // request must reach the code under test.
  server = await startAllInOne({
    EXPORT_MAX_PER_TENANT: '32',
    EXPORT_MAX_CONCURRENT: '32',
    SEARCH_MAX_PER_TENANT: '32',
    SEARCH_MAX_CONCURRENT: '32',
  });
  writer = await server.token(TENANT, 'writer', { sub: SUB });
  viewer = await server.token(TENANT, 'viewer');
  // Another tenant's event that any list of TENANT must never show.
  const other = await server.token('fuzz-other', 'writer');
  // Its action and author are text no generator produces, so seeing them anywhere in TENANT's answers is a leak.
  await call(`${server.url}/api/v1/logs`, { token: other, body: { action: OTHER_SECRET, resource_type: OTHER_SECRET } });
});
afterAll(() => server.close());

const HOSTILE_TEXT = [
  "' OR 1=1 --",
  '$ne',
  '{"$gt":""}',
  '.*',
  '(a+)+$',
  '%',
  '_',
  '__proto__',
  'constructor',
  'prototype',
  '\u0000',
  '\uFFFF',
  '\uD800',
  '😀',
  'ǅ',
  'İ',
  '\r\n',
  ' ',
  '',
  'fuzz-other',
  'other',
];
const HOSTILE_KEYS = ['$where', 'a.b', '__proto__', 'constructor', 'prototype', 'tenant_id', '', ' ', '$', '.', 'k'.repeat(300)];

const text = fc.oneof(
  { weight: 4, arbitrary: fc.string({ unit: 'binary', maxLength: 40 }) },
  { weight: 2, arbitrary: fc.constantFrom(...HOSTILE_TEXT) },
  { weight: 1, arbitrary: fc.string({ unit: 'grapheme-ascii', minLength: 120, maxLength: 1100 }) },
);
const scalar = fc.oneof(text, fc.integer(), fc.double(), fc.boolean(), fc.constant(null));
const key = fc.oneof({ weight: 4, arbitrary: fc.string({ maxLength: 12 }) }, { weight: 1, arbitrary: fc.constantFrom(...HOSTILE_KEYS) });
const jsonObject = fc.letrec<{ node: unknown; object: Record<string, unknown> }>((tie) => ({
  node: fc.oneof({ depthSize: 'small', withCrossShrink: true }, scalar, tie('object'), fc.array(tie('node'), { maxLength: 4 })),
  object: fc.dictionary(key, tie('node'), { maxKeys: 5 }),
})).object;
const anyValue = fc.oneof(scalar, jsonObject, fc.array(scalar, { maxLength: 3 }));
const timestamp = fc.oneof(
  fc.date({ noInvalidDate: true }).map((date) => date.toISOString()),
  fc.constantFrom('2025-02-30T00:00:00Z', '2025-06-26T01:00:00+14:00', '2025-06-26', 'now', '+275760-09-13T00:00:00.000Z'),
  text,
);
const ip = fc.oneof(fc.ipV4(), fc.ipV6(), fc.ipV4Extended(), text);
const severity = fc.oneof(fc.constantFrom('INFO', 'WARNING', 'ERROR', 'CRITICAL'), text);

const safeKey = fc.string({ maxLength: 12 }).filter((name) => !name.startsWith('$') && !name.includes('.') && name !== '__proto__');
const safeObject = fc.dictionary(
  safeKey,
  fc.oneof(scalar, fc.dictionary(safeKey, scalar, { maxKeys: 3 }), fc.array(scalar, { maxLength: 3 })),
  {
    maxKeys: 5,
  },
);
const name = fc.string({ unit: 'binary', minLength: 1, maxLength: 40 }).filter((value) => value.trim() !== '');

/** An event the server should take: every field valid, values as odd as the schema allows. */
const validEvent = fc.record(
  {
    action: name,
    resource_type: name,
    resource_id: name,
    timestamp: fc.date({ noInvalidDate: true, min: new Date(0), max: new Date(4e12) }).map((date) => date.toISOString()),
    ip_address: fc.oneof(fc.ipV4(), fc.ipV6()),
    user_agent: fc.string({ unit: 'binary', maxLength: 60 }),
    before: safeObject,
    after: safeObject,
    metadata: safeObject,
    severity: fc.constantFrom('INFO', 'WARNING', 'ERROR', 'CRITICAL'),
  },
  { requiredKeys: ['action', 'resource_type'] },
);
/** Up to two fields overwritten or added with hostile values: wrong types, server-owned names, odd keys. */
const hostileFields = fc.dictionary(
  fc.constantFrom(
    'action',
    'resource_type',
    'timestamp',
    'ip_address',
    'severity',
    'before',
    'metadata',
    'tenant_id',
    'user_id',
    'id',
    'received_at',
    ...HOSTILE_KEYS,
  ),
  fc.oneof(anyValue, timestamp, ip, severity),
  { minKeys: 1, maxKeys: 2 },
);
const eventBody = fc.oneof(
  { weight: 1, arbitrary: validEvent },
  { weight: 1, arbitrary: fc.tuple(validEvent, hostileFields).map(([event, fields]) => ({ ...event, ...fields })) },
);
/** Bodies as sent on the wire: event-shaped, any JSON, or not JSON at all. */
const wireBody = fc.oneof(
  { weight: 6, arbitrary: eventBody.map((body) => JSON.stringify(body)) },
  { weight: 1, arbitrary: fc.jsonValue().map((value) => JSON.stringify(value) ?? 'null') },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 60 }) },
);
const bulkBody = fc.oneof(
  { weight: 6, arbitrary: fc.array(eventBody, { maxLength: 8 }).map((items) => JSON.stringify(items)) },
  { weight: 1, arbitrary: wireBody },
);

const QUERY_KEYS = [
  'action',
  'resource_type',
  'resource_id',
  'user_id',
  'ip_address',
  'severity',
  'user_agent',
  'from',
  'to',
  'timestamp',
  'search',
  'sort',
  'page',
  'size',
  'cursor',
  'group_by',
  'interval',
  'format',
  'before',
  'older_than_days',
  'all',
  'tenant_id',
  'action[$ne]',
  '__proto__',
  'constructor',
  'toString',
];
const queryValue = fc.oneof(
  text,
  fc.integer({ min: -5, max: 200 }).map(String),
  fc.constantFrom(
    'asc',
    'desc',
    'INFO,ERROR',
    'info',
    '2025-06-26',
    '2025-02-30',
    '2025-06-26T00:00:00Z',
    'severity',
    'hour',
    'day',
    'csv',
    'json',
    'ndjson',
    'true',
    'x',
  ),
);
/** A URL cannot carry a lone surrogate: UTF-8 encoding replaces it, as a browser would. */
const wellFormed = (value: string) => Buffer.from(value, 'utf8').toString('utf8');

/** Query strings: mostly encoded pairs, sometimes raw text with broken percent-encoding. */
const queryString = fc.oneof(
  {
    weight: 6,
    arbitrary: fc
      .array(fc.tuple(fc.oneof({ weight: 4, arbitrary: fc.constantFrom(...QUERY_KEYS) }, { weight: 1, arbitrary: key }), queryValue), {
        maxLength: 5,
      })
      .map((pairs) =>
        pairs.map(([name, value]) => `${encodeURIComponent(wellFormed(name))}=${encodeURIComponent(wellFormed(value))}`).join('&'),
      ),
  },
  {
    weight: 1,
    arbitrary: fc
      .array(fc.constantFrom('%', '%zz', '%E0%A4%A', '=', '&', '[', ']', 'a', '$', '.', '%00', '+', ';'), { maxLength: 12 })
      .map((parts) => parts.join('')),
  },
);

let requests = 0;
// biome-ignore lint/suspicious/noExplicitAny: the body is checked field by field
function expectSound(response: { status: number; body: any; text: string }, allowed: number[]): void {
  requests += 1;
  expect(response.status, response.text).toBeLessThan(500);
  expect(allowed, `${response.status} ${response.text}`).toContain(response.status);
  expect(response.body?.code, response.text).toBe(response.status);
  if (response.status !== 200) expect(typeof response.body.msg).toBe('string');
}

/** Each run sends a batch at once: the server is loopback-latency bound, so batches keep thousands of requests to seconds. */
const BATCH = 10;
let accepted = 0;

function fuzzInBatches<T>(arbitrary: fc.Arbitrary<T>, batches: number, check: (value: T) => Promise<void>): Promise<void> {
  return fc.assert(
    fc.asyncProperty(fc.array(arbitrary, { minLength: BATCH, maxLength: BATCH }), async (values) => {
      await Promise.all(values.map(check));
    }),
    { numRuns: batches, seed: SEED, endOnFailure: true },
  );
}

const postJson = (path: string, body: string) =>
  call(`${server.url}${path}`, { token: writer, body, headers: { 'content-type': 'application/json' } });

// Seconds on an idle machine; the generous timeout is for a CI box shared with other suites.
describe(`fuzzing (seed ${SEED}; rerun with FUZZ_SEED=${SEED})`, { timeout: 120_000 }, () => {
  it('POST /api/v1/logs: never 5xx; accepted events keep the token’s tenant and subject and read back as answered', async () => {
    await fuzzInBatches(wireBody, 120, async (body) => {
      const response = await postJson('/api/v1/logs', body);
      expectSound(response, [200, 400, 413, 422]);
      if (response.status !== 200) return;
      accepted += 1;
      expect(response.body.data).toMatchObject({ tenant_id: TENANT, user_id: SUB });
      const stored = await call(`${server.url}/api/v1/logs/${response.body.data.id}`, { token: viewer });
      expect(stored.body.data).toEqual(response.body.data);
    });
  });

  it('POST /api/v1/logs/bulk: never 5xx; all or nothing, every event with the token’s tenant and subject', async () => {
    await fuzzInBatches(bulkBody, 40, async (body) => {
      const response = await postJson('/api/v1/logs/bulk', body);
      expectSound(response, [200, 400, 413, 422]);
      if (response.status !== 200) return;
      accepted += 1;
      for (const event of response.body.data) expect(event).toMatchObject({ tenant_id: TENANT, user_id: SUB });
    });
  });

  it('GET /api/v1/logs and /logs/stats: never 5xx, never another tenant', async () => {
    await fuzzInBatches(queryString, 120, async (query) => {
      const listed = await call(`${server.url}/api/v1/logs?${query}`, { token: viewer });
      expectSound(listed, [200, 400, 422]);
      if (listed.status === 200) {
        for (const event of listed.body.data) expect(event.tenant_id).toBe(TENANT);
      }
      const stats = await call(`${server.url}/api/v1/logs/stats?${query}`, { token: viewer });
      expectSound(stats, [200, 400, 422]);
      expect(stats.text).not.toContain(OTHER_SECRET);
      expect(stats.text).not.toContain('writer-of-fuzz-other');
    });
  });

  it('GET /api/v1/logs/export and DELETE /api/v1/logs/cleanup: never 5xx, never another tenant', async () => {
    // Their own tenants: every export records itself, and cleanups delete, so the others stay as they are.
    const auditor = await server.token('fuzz-export', 'auditor');
    const admin = await server.token('fuzz-cleanup', 'admin');
    for (const tenant of ['fuzz-export', 'fuzz-cleanup']) {
      const seeder = await server.token(tenant, 'writer');
      await call(`${server.url}/api/v1/logs/bulk`, { token: seeder, body: [{ action: 'seed', resource_type: 'r' }] });
    }
    await fuzzInBatches(queryString, 20, async (query) => {
      const exported = await call(`${server.url}/api/v1/logs/export?${query}`, { token: auditor });
      expectSound(exported.status === 200 ? { ...exported, body: { code: 200 } } : exported, [200, 400, 422]);
      // Only fuzz-export's own events, in any of the three formats: no other tenant as an event's tenant or
      // author (JSON field or CSV cell). The other keys may appear as text only where the caller typed them:
      // the logs.export records echo the caller's own parameters in the caller's own tenant.
      for (const other of [TENANT, 'fuzz-other', 'fuzz-cleanup']) {
        expect(exported.text).not.toContain(`"tenant_id":"${other}"`);
        expect(exported.text).not.toContain(`-of-${other}"`);
        expect(exported.text).not.toContain(`,${other},`);
        expect(exported.text).not.toContain(`-of-${other},`);
      }
      const cleaned = await call(`${server.url}/api/v1/logs/cleanup?${query}`, { token: admin, method: 'DELETE' });
      expectSound(cleaned, [200, 400, 422]);
    });
  });

  it('the server is still up and answers after all of it', async () => {
    expect(requests).toBeGreaterThanOrEqual(4000);
    // The generators are not all refusals: a good share of bodies is valid and was stored (about 500 a run).
    expect(accepted).toBeGreaterThan(250);
    expect((await call(`${server.url}/healthz`)).status).toBe(200);
    expect((await call(`${server.url}/readyz`)).status).toBe(200);
    const list = await call(`${server.url}/api/v1/logs?size=1`, { token: viewer });
    expect(list.status).toBe(200);
    expect(list.body.meta.total).toBeGreaterThan(0);
  });
});
