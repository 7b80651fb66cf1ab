import type { LogEvent } from '@logserver/shared/schemas/log-event';
import { seededRandom } from '@logserver/testing/events';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, type RunningServer, startAllInOne } from '../../../test/support/all-in-one.js';
import { clientEvent, matchesQuery, ordered, postBulk } from '../../../test/support/log-seed.js';
import { collectionQueries, postmanItem } from '../../../test/support/postman.js';

const SUB = 'postman';
const bodyOf = (name: string) => JSON.parse(postmanItem(name)?.request.body?.raw ?? 'null');

let server: RunningServer;
let viewer: string;
let stored: LogEvent[];

beforeAll(async () => {
  server = await startAllInOne();
  const writer = await server.token('acme', 'writer', { sub: SUB });
  const other = await server.token('acme', 'writer', { sub: 'someone-else' });
  viewer = await server.token('acme', 'viewer');
  const random = seededRandom(7);
  // The collection's own example events, then varied ones, from two users; another tenant holds look-alikes.
  stored = [
    ...(await postBulk(server.url, writer, [bodyOf('Log add'), ...bodyOf('Log add bulk')])),
    ...(await postBulk(
      server.url,
      writer,
      Array.from({ length: 250 }, () => clientEvent(random)),
    )),
    ...(await postBulk(
      server.url,
      other,
      Array.from({ length: 150 }, () => clientEvent(random, { timestamp: '2025-06-26T01:30:00.000Z' })),
    )),
  ];
  await postBulk(server.url, await server.token('globex', 'writer', { sub: SUB }), [bodyOf('Log add'), clientEvent(random)]);
});
afterAll(() => server.close());

async function list(params: URLSearchParams) {
  const response = await call(`${server.url}/api/v1/logs?${params}`, { token: viewer });
  expect(response.status, response.text).toBe(200);
  return response.body;
}

async function expectListMatches(params: URLSearchParams) {
  const sort = (params.get('sort') ?? 'desc') as 'asc' | 'desc';
  const want = ordered(
    stored.filter((event) => matchesQuery(event, params)),
    sort,
  );
  const query = new URLSearchParams(params);
  query.set('size', '100');
  const body = await list(query);
  expect(body.meta.total).toBe(want.length);
  expect(body.meta.pages).toBe(Math.ceil(want.length / 100));
  expect(body.data.map((event: LogEvent) => event.id)).toEqual(want.slice(0, 100).map((event) => event.id));
  return want.length;
}

describe('GET /api/v1/logs: every filter, against an independent count', () => {
  it('uses the collection’s example events', () => {
    expect(stored.filter((event) => event.action === 'update' && event.resource_id === '123')).toHaveLength(2);
  });

  const queries = collectionQueries('api/v1/logs', SUB);
  it('covers every list request of the Postman collection', () => {
    expect(queries.map(([name]) => name)).toEqual(
      expect.arrayContaining(['Log get', 'Log search', 'Log list by time range and severities', 'Log list first page by cursor']),
    );
  });
  for (const [name, params] of queries) {
    it(`answers the collection’s “${name}” (${params}) exactly`, async () => {
      params.delete('size');
      expect(await expectListMatches(params)).toBeGreaterThan(0);
    });
  }

  const filters: string[] = [
    'action=update',
    'resource_type=invoice',
    'resource_id=7',
    `user_id=${SUB}`,
    'user_id=someone-else',
    'ip_address=192.168.0.1',
    'ip_address=2001:db8::1',
    'severity=CRITICAL',
    'severity=error,critical',
    'user_agent=mozilla',
    'user_agent=CURL/8',
    'from=2025-02-01T00:00:00Z',
    'to=2025-02-01T00:00:00Z',
    'from=2025-01-15&to=2025-01-20',
    'from=2025-06-26T03:00:00%2B02:00&to=2025-06-26T04:00:00Z',
    'timestamp=2025-06-26',
    'timestamp=2025-01-31',
    'search=old@EXAMPLE',
    'search=dashboard',
    'search=(a%2B)%2B$',
    'search=.*',
    'search=100%25_off',
    'search=%25',
    'search=_',
    'search=[',
    'search=nothing-matches-this',
    'sort=asc',
    'sort=asc&severity=INFO&resource_type=user',
    'action=update&resource_type=user&resource_id=123&timestamp=2025-06-26&ip_address=192.168.0.1&user_agent=Windows NT&severity=WARNING',
    'action=delete&severity=ERROR&search=new@example.com&sort=asc',
    'user_id=someone-else&timestamp=2025-06-26&from=2025-06-26T01:00:00Z&to=2025-06-26T02:00:00Z',
  ];
  for (const filter of filters) {
    it(`filters by ${decodeURIComponent(filter)}`, async () => {
      await expectListMatches(new URLSearchParams(filter));
    });
  }

  it('matches search text literally: pattern characters find only events that contain them', async () => {
    const regexLike = await list(new URLSearchParams({ search: '(a+)+$', size: '100' }));
    expect(regexLike.meta.total).toBeGreaterThan(0);
    for (const event of regexLike.data as LogEvent[]) expect(JSON.stringify(event.after)).toContain('(a+)+$');
    const dotStar = await list(new URLSearchParams({ search: '.*zzz' }));
    expect(dotStar.meta.total).toBe(0);
  });

  it('pages by page/size with the Python system’s meta', async () => {
    const want = ordered(stored, 'desc');
    const body = await list(new URLSearchParams({ page: '3', size: '25' }));
    expect(body.meta).toMatchObject({ total: want.length, page: 3, size: 25, pages: Math.ceil(want.length / 25) });
    expect(body.data.map((event: LogEvent) => event.id)).toEqual(want.slice(50, 75).map((event) => event.id));
    const past = await list(new URLSearchParams({ page: '100', size: '100' }));
    expect(past.data).toEqual([]);
    expect(past.meta.next_cursor).toBeNull();
  });

  it('defaults to 10 per page, newest first', async () => {
    const body = await list(new URLSearchParams());
    expect(body.meta.size).toBe(10);
    expect(body.data.map((event: LogEvent) => event.id)).toEqual(
      ordered(stored, 'desc')
        .slice(0, 10)
        .map((event) => event.id),
    );
  });

  it('continues a page/size page with its next_cursor', async () => {
    const want = ordered(stored, 'asc');
    const first = await list(new URLSearchParams({ size: '30', sort: 'asc' }));
    const second = await list(new URLSearchParams({ size: '30', sort: 'asc', cursor: first.meta.next_cursor }));
    expect(second.data.map((event: LogEvent) => event.id)).toEqual(want.slice(30, 60).map((event) => event.id));
    expect(second.meta).toEqual({ size: 30, next_cursor: expect.any(String) });
  });
});

describe('GET /api/v1/logs: the answer\u2019s bytes', () => {
  // The SQLite store writes a page from its stored JSON text (queryText); the get route goes through
  // the answer guard or zod. Both must write the same bytes for the same events.
  it('are the envelope JSON.stringify writes of the same events read one by one, with a JSON content type', async () => {
    const queries = ['size=20', 'size=20&page=2&sort=asc', 'size=15&severity=ERROR', 'size=10&search=e', 'size=5'];
    for (const query of queries) {
      const params = new URLSearchParams(query);
      const response = await call(`${server.url}/api/v1/logs?${params}`, { token: viewer });
      expect(response.status, response.text).toBe(200);
      expect(response.headers.get('content-type')).toBe('application/json; charset=utf-8');
      expect(response.body.data.length, query).toBeGreaterThan(0);
      const events = [];
      for (const item of response.body.data) {
        const one = await call(`${server.url}/api/v1/logs/${item.id}`, { token: viewer });
        expect(one.status).toBe(200);
        events.push(one.body.data);
      }
      expect(response.text, query).toBe(JSON.stringify({ code: 200, msg: 'ok', data: events, meta: response.body.meta }));
      // The next page by cursor, whose meta has no total.
      if (query === 'size=5') queries.push(`size=5&cursor=${encodeURIComponent(response.body.meta.next_cursor)}`);
    }
    expect(queries).toHaveLength(6);
  });
});

describe('GET /api/v1/logs: bad parameters are a 422 that says what to do', () => {
  const cases: [string, string, (string | number)[], string][] = [
    ['an unknown parameter', 'colour=red', ['query'], 'allowed: action, cursor, from'],
    ['a repeated parameter', 'action=a&action=b', ['query', 'action'], 'only once'],
    ['size 0', 'size=0', ['query', 'size'], ''],
    ['size 101', 'size=101', ['query', 'size'], ''],
    ['page 0', 'page=0', ['query', 'page'], ''],
    ['a page beyond the offset window', 'page=1001&size=100', ['query', 'page'], 'cursor'],
    ['page and cursor together', 'page=2&cursor=abc', ['query', 'cursor'], 'not both'],
    ['a cursor that is not one', 'cursor=not-a-cursor', ['query', 'cursor'], 'start again'],
    ['an unknown severity', 'severity=INFO,LOUD', ['query', 'severity'], 'INFO, WARNING, ERROR, CRITICAL'],
    ['a date-time without a zone', 'from=2025-01-01T00:00:00', ['query', 'from'], 'time zone'],
    ['from after to', 'from=2025-02-01&to=2025-01-01', ['query', 'from'], 'later than'],
    ['a day that does not exist', 'timestamp=2025-02-30', ['query', 'timestamp'], 'real calendar day'],
    ['a from day that does not exist', 'from=2025-02-30', ['query', 'from'], 'ISO 8601'],
    ['a search longer than the limit', `search=${'x'.repeat(257)}`, ['query', 'search'], ''],
    ['an unknown sort', 'sort=newest', ['query', 'sort'], ''],
  ];
  for (const [label, query, loc, message] of cases) {
    it(`refuses ${label}`, async () => {
      const response = await call(`${server.url}/api/v1/logs?${query}`, { token: viewer });
      expect(response.status).toBe(422);
      expect(response.body).toMatchObject({ code: 422, msg: 'Validation error' });
      const detail = (response.body.data as { loc: unknown[]; msg: string; type: string }[]).find(
        (item) => JSON.stringify(item.loc) === JSON.stringify(loc),
      );
      expect(detail, JSON.stringify(response.body.data)).toBeDefined();
      expect(detail?.msg).toContain(message);
    });
  }

  it('refuses a cursor issued for the other sort order', async () => {
    const first = await list(new URLSearchParams({ size: '5', sort: 'asc' }));
    const response = await call(`${server.url}/api/v1/logs?cursor=${first.meta.next_cursor}&sort=desc`, { token: viewer });
    expect(response.status).toBe(422);
  });
});

describe('cursor paging over 10 000 events', () => {
  it('visits every event once, in order, both ways and with a filter', async () => {
    const writer = await server.token('deep', 'writer');
    const reader = await server.token('deep', 'viewer');
    const random = seededRandom(99);
    // Only 400 distinct timestamps for 10 000 events: ties must be broken by id, never skipped or repeated.
    const stamps = Array.from({ length: 400 }, (_, index) => new Date(Date.UTC(2025, 3, 1) + index * 60_000).toISOString());
    const bodies = Array.from({ length: 10_000 }, () => clientEvent(random, { timestamp: stamps[Math.floor(random() * stamps.length)] }));
    const deep = await postBulk(server.url, writer, bodies);
    expect(deep).toHaveLength(10_000);

    for (const [sort, filter] of [
      ['desc', ''],
      ['asc', ''],
      ['desc', 'severity=ERROR,CRITICAL'],
    ] as const) {
      const params = new URLSearchParams(filter);
      const want = ordered(
        deep.filter((event) => matchesQuery(event, params)),
        sort,
      ).map((event) => event.id);
      const seen: string[] = [];
      let cursor: string | null = null;
      for (let guard = 0; guard < 200; guard++) {
        const query = new URLSearchParams(params);
        query.set('size', '100');
        query.set('sort', sort);
        if (cursor) query.set('cursor', cursor);
        const response = await call(`${server.url}/api/v1/logs?${query}`, { token: reader });
        expect(response.status).toBe(200);
        seen.push(...(response.body.data as LogEvent[]).map((event) => event.id));
        cursor = response.body.meta.next_cursor;
        if (cursor === null) break;
      }
      expect(new Set(seen).size).toBe(seen.length);
      expect(seen).toEqual(want);
    }
  }, 120_000); // 10 000 events posted and paged four ways: minutes on a loaded 2-core machine (30 s default)
});
