import type { LogEvent } from '@logserver/shared/schemas/log-event';
import { seededRandom } from '@logserver/testing/events';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { call, type RunningServer, startAllInOne } from '../../../test/support/all-in-one.js';
import { clientEvent, matchesQuery, postBulk } from '../../../test/support/log-seed.js';
import { collectionQueries } from '../../../test/support/postman.js';

let server: RunningServer;
let viewer: string;
let stored: LogEvent[];
const START = Date.UTC(2025, 5, 24);

beforeAll(async () => {
  server = await startAllInOne();
  viewer = await server.token('acme', 'viewer');
  const random = seededRandom(11);
  // Three days of events at random minutes, from three users, with one quiet hour left empty on purpose.
  const bodies = Array.from({ length: 900 }, () => {
    let at = START + Math.floor(random() * 3 * 86_400_000);
    if (new Date(at).toISOString().startsWith('2025-06-25T07')) at += 3_600_000;
    return clientEvent(random, { timestamp: new Date(at).toISOString() });
  });
  stored = [
    ...(await postBulk(server.url, await server.token('acme', 'writer', { sub: 'u-a' }), bodies.slice(0, 300))),
    ...(await postBulk(server.url, await server.token('acme', 'writer', { sub: 'u-b' }), bodies.slice(300, 700))),
    ...(await postBulk(server.url, await server.token('acme', 'writer', { sub: 'postman' }), bodies.slice(700))),
  ];
  await postBulk(server.url, await server.token('globex', 'writer'), bodies.slice(0, 50));
});
afterAll(() => server.close());

type Group = 'severity' | 'action' | 'resource_type' | 'user_id';
const SEVERITY_ZEROS = { INFO: 0, WARNING: 0, ERROR: 0, CRITICAL: 0 };

/** Counted here from the stored events, not by the server. */
function count(events: LogEvent[], group: Group): Record<string, number> {
  const counts: Record<string, number> = group === 'severity' ? { ...SEVERITY_ZEROS } : {};
  for (const event of events) counts[event[group]] = (counts[event[group]] ?? 0) + 1;
  return counts;
}

async function stats(query: string) {
  const response = await call(`${server.url}/api/v1/logs/stats?${query}`, { token: viewer });
  return response;
}

describe('GET /api/v1/logs/stats against an independent count', () => {
  it('answers the Python system’s shape by default', async () => {
    const response = await stats('');
    expect(response.status).toBe(200);
    expect(response.body).toMatchObject({ code: 200, msg: 'ok', data: count(stored, 'severity') });
    expect(Object.keys(response.body.data)).toEqual(['INFO', 'WARNING', 'ERROR', 'CRITICAL']);
    // SQLite keeps hourly rollups for exactly this; MongoDB counts on an index.
    const source = inject('testStore') === 'mongodb-double' ? 'index' : 'rollups';
    expect(response.body.meta).toEqual({ source, as_of: expect.any(String), group_by: 'severity', interval: null, from: null, to: null });
  });

  const filters = [
    '',
    'severity=ERROR,CRITICAL',
    'action=update&resource_type=user',
    'user_id=u-b',
    'timestamp=2025-06-25',
    'from=2025-06-24T12:00:00Z&to=2025-06-26T00:00:00Z',
    'from=2025-06-24T12:34:56Z',
    'search=example.com',
    'resource_id=4&ip_address=10.0.0.7',
    'user_agent=mozilla',
    ...collectionQueries('api/v1/logs/stats').map(([, params]) => {
      for (const key of ['group_by', 'interval']) params.delete(key);
      return params.toString();
    }),
  ];
  for (const filter of filters) {
    for (const group of ['severity', 'action', 'resource_type', 'user_id'] as const) {
      it(`group_by=${group} with ${filter || 'no filter'}`, async () => {
        const matching = stored.filter((event) => matchesQuery(event, new URLSearchParams(filter)));
        const response = await stats(`${filter}&group_by=${group}`);
        expect(response.status).toBe(200);
        expect(response.body.data).toEqual(count(matching, group));
      });
    }
  }

  for (const [interval, step] of [
    ['hour', 3_600_000],
    ['day', 86_400_000],
  ] as const) {
    for (const filter of ['', 'severity=WARNING', 'search=dashboard', 'from=2025-06-24T05:30:00Z']) {
      it(`zero-fills ${interval} buckets over from/to (${filter || 'no filter'})`, async () => {
        const from = '2025-06-23T00:00:00.000Z';
        const to = '2025-06-28T00:00:00.000Z';
        const params = new URLSearchParams(filter);
        if (!params.has('from')) params.set('from', from);
        params.set('to', to);
        const response = await stats(`${params}&interval=${interval}&group_by=severity`);
        expect(response.status).toBe(200);
        const matching = stored.filter((event) => matchesQuery(event, params));
        const firstStart = Math.floor(Date.parse(params.get('from') as string) / step) * step;
        const buckets = response.body.data.buckets as { start: string; counts: Record<string, number> }[];
        expect(buckets).toHaveLength(Math.ceil((Date.parse(to) - firstStart) / step));
        buckets.forEach((bucket, index) => {
          const start = firstStart + index * step;
          expect(bucket.start).toBe(new Date(start).toISOString());
          const inside = matching.filter((event) => Date.parse(event.timestamp) >= start && Date.parse(event.timestamp) < start + step);
          expect(bucket.counts).toEqual(count(inside, 'severity'));
        });
        expect(response.body.data.totals).toEqual(count(matching, 'severity'));
        expect(response.body.meta).toEqual({
          source: expect.stringMatching(/^(rollups|index)$/),
          as_of: expect.any(String),
          group_by: 'severity',
          interval,
          from: new Date(params.get('from') as string).toISOString(),
          to,
        });
      });
    }
  }

  it('keeps an empty hour as a zero bucket, and every key in every bucket', async () => {
    const response = await stats('interval=hour&group_by=user_id&timestamp=2025-06-25');
    const buckets = response.body.data.buckets as { start: string; counts: Record<string, number> }[];
    expect(buckets).toHaveLength(24);
    expect(buckets[7]).toEqual({ start: '2025-06-25T07:00:00.000Z', counts: { postman: 0, 'u-a': 0, 'u-b': 0 } });
  });

  it('runs from the first to the last bucket with data when from/to are not given', async () => {
    const response = await stats('interval=day');
    const starts = (response.body.data.buckets as { start: string }[]).map((bucket) => bucket.start);
    expect(starts).toEqual(['2025-06-24T00:00:00.000Z', '2025-06-25T00:00:00.000Z', '2025-06-26T00:00:00.000Z']);
    const empty = await call(`${server.url}/api/v1/logs/stats?interval=day`, { token: await server.token('nobody', 'viewer') });
    expect(empty.body.data).toEqual({ totals: SEVERITY_ZEROS, buckets: [] });
  });

  it('refuses more buckets than the limit, naming what to change', async () => {
    const response = await stats('interval=hour&from=2025-01-01&to=2025-06-01');
    expect(response.status).toBe(422);
    expect(response.body.data[0]).toMatchObject({ loc: ['query', 'interval'] });
    expect(response.body.data[0].msg).toContain('interval=day');
    expect((await stats('interval=day&from=2020-01-01&to=2025-06-01')).status).toBe(200);
  });

  it('refuses bad parameters with a 422', async () => {
    for (const query of [
      'group_by=ip_address',
      'interval=week',
      'from=2025-02-01&to=2025-01-01',
      'size=10',
      'group_by=action&group_by=user_id',
    ]) {
      const response = await stats(query);
      expect(response.status, query).toBe(422);
      expect(response.body.data.length).toBeGreaterThan(0);
    }
  });
});
