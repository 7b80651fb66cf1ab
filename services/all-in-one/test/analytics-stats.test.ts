import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GROUPABLE_FIELDS } from '@logserver/shared/analytics/port';
import type { LogEvent } from '@logserver/shared/schemas/log-event';
import { seededRandom } from '@logserver/testing/events';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, type RunningServer, startAllInOne } from '../../../test/support/all-in-one.js';
import { clientEvent, matchesQuery, postBulk } from '../../../test/support/log-seed.js';

/**
 * Stats from the analytics tier (ANALYTICS=chdb) against the primary store's own answers, read by a
 * second server on the same SQLite file with analytics off, and against a count made here.
 */
let analytics: RunningServer;
let primary: RunningServer;
let viewer: string;
let stored: LogEvent[];
const START = Date.UTC(2025, 5, 24);
const SEVERITIES = ['INFO', 'WARNING', 'ERROR', 'CRITICAL'];

beforeAll(async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'logserver-analytics-'));
  const secret = 'a'.repeat(48);
  analytics = await startAllInOne({ DATA_DIR: dataDir, AUTH_SECRET: secret, ANALYTICS: 'chdb', STORE: 'sqlite', SEAL_INTERVAL: '0' });
  primary = await startAllInOne({ DATA_DIR: dataDir, AUTH_SECRET: secret, STORE: 'sqlite', SEAL_INTERVAL: '0' });
  viewer = await analytics.token('acme', 'viewer');
  const random = seededRandom(23);
  // Six weeks of events, so week and month buckets have several of each.
  const bodies = Array.from({ length: 1200 }, () =>
    clientEvent(random, { timestamp: new Date(START + Math.floor(random() * 42 * 86_400_000)).toISOString() }),
  );
  stored = [
    ...(await postBulk(analytics.url, await analytics.token('acme', 'writer', { sub: 'u-a' }), bodies.slice(0, 500))),
    ...(await postBulk(analytics.url, await analytics.token('acme', 'writer', { sub: 'u-b' }), bodies.slice(500))),
  ];
  await postBulk(analytics.url, await analytics.token('globex', 'writer'), bodies.slice(0, 100));
  await analytics.syncAnalytics();
}, 60_000);
afterAll(async () => {
  await analytics?.close();
  await primary?.close();
});

const stats = async (server: RunningServer, query: string) => call(`${server.url}/api/v1/logs/stats?${query}`, { token: viewer });

/** Counted here from the stored events: per group value ("" for a missing one), severity always all four. */
function count(events: LogEvent[], field: (typeof GROUPABLE_FIELDS)[number]): Record<string, number> {
  const counts: Record<string, number> = field === 'severity' ? Object.fromEntries(SEVERITIES.map((key) => [key, 0])) : {};
  for (const event of events) {
    const key = event[field] ?? '';
    counts[key] = (counts[key] ?? 0) + 1;
  }
  return counts;
}

const FILTERS = [
  '',
  'severity=ERROR,CRITICAL',
  'action=update&resource_type=user',
  'user_id=u-b',
  'timestamp=2025-06-25',
  'from=2025-06-24T12:00:00Z&to=2025-07-10T00:00:00Z',
  'from=2025-06-24T12:34:56Z&to=2025-07-01T00:00:00Z',
  'search=example.com',
  'resource_id=4&ip_address=10.0.0.7',
  'user_agent=curl',
];

describe('stats from analytics equal the primary store’s, for every form the primary answers', () => {
  for (const filter of FILTERS) {
    for (const group of ['severity', 'action', 'resource_type', 'user_id']) {
      for (const interval of [undefined, 'hour', 'day'] as const) {
        // Hour buckets only where from/to bound them, as a chart would ask.
        if (interval === 'hour' && !filter.includes('to=')) continue;
        const query = [filter, `group_by=${group}`, interval && `interval=${interval}`].filter(Boolean).join('&');
        it(query, async () => {
          const [fromAnalytics, fromPrimary] = await Promise.all([stats(analytics, query), stats(primary, query)]);
          expect(fromAnalytics.status, fromAnalytics.text).toBe(200);
          expect(fromPrimary.status, fromPrimary.text).toBe(200);
          expect(fromAnalytics.body.meta.source).toBe('analytics');
          expect(fromPrimary.body.meta.source).toMatch(/^(rollups|index)$/);
          expect(fromAnalytics.body.data).toEqual(fromPrimary.body.data);
          const params = new URLSearchParams(filter);
          const matching = stored.filter((event) => matchesQuery(event, params));
          const totals = interval === undefined ? fromAnalytics.body.data : fromAnalytics.body.data.totals;
          expect(totals).toEqual(count(matching, group as 'severity'));
        });
      }
    }
  }
});

describe('stats only analytics answers, against a count made here', () => {
  it('groups by every event field', async () => {
    for (const field of GROUPABLE_FIELDS) {
      const response = await stats(analytics, `group_by=${field}`);
      expect(response.status, response.text).toBe(200);
      expect(response.body.data).toEqual(count(stored, field));
    }
  });

  it('groups by two fields at once, nested by the first', async () => {
    const response = await stats(analytics, 'group_by=severity,ip_address&action=login');
    expect(response.status, response.text).toBe(200);
    const matching = stored.filter((event) => event.action === 'login');
    const expected: Record<string, Record<string, number>> = {};
    for (const severity of SEVERITIES)
      expected[severity] = count(
        matching.filter((event) => event.severity === severity),
        'ip_address',
      );
    expect(response.body.data).toEqual(expected);
  });

  it('buckets by minute, week (from Monday) and month in UTC, zero-filled over from/to', async () => {
    const cases = [
      { interval: 'minute', from: '2025-06-25T10:00:00.000Z', to: '2025-06-25T12:00:00.000Z', buckets: 120 },
      { interval: 'week', from: '2025-06-23T00:00:00.000Z', to: '2025-08-04T00:00:00.000Z', buckets: 6 },
      { interval: 'month', from: '2025-06-01T00:00:00.000Z', to: '2025-09-01T00:00:00.000Z', buckets: 3 },
    ];
    for (const { interval, from, to, buckets } of cases) {
      const response = await stats(analytics, `interval=${interval}&from=${from}&to=${to}`);
      expect(response.status, response.text).toBe(200);
      expect(response.body.data.buckets).toHaveLength(buckets);
      for (const bucket of response.body.data.buckets as { start: string; counts: Record<string, number> }[]) {
        const start = Date.parse(bucket.start);
        const end = Date.parse(
          (response.body.data.buckets as { start: string }[])[(response.body.data.buckets as { start: string }[]).indexOf(bucket) + 1]
            ?.start ?? to,
        );
        const inside = stored.filter((event) => Date.parse(event.timestamp) >= start && Date.parse(event.timestamp) < end);
        expect(bucket.counts, `${interval} ${bucket.start}`).toEqual(count(inside, 'severity'));
        if (interval === 'week') expect(new Date(start).getUTCDay()).toBe(1);
      }
    }
  });

  it('keeps the top N and says how many events the rest hold', async () => {
    const response = await stats(analytics, 'group_by=resource_id&top=3');
    expect(response.status, response.text).toBe(200);
    const all = Object.entries(count(stored, 'resource_id')).sort(([a, n], [b, m]) => m - n || (a < b ? -1 : 1));
    expect(response.body.data).toEqual(Object.fromEntries(all.slice(0, 3)));
    expect(response.body.meta).toMatchObject({ source: 'analytics', top: 3, others: all.slice(3).reduce((sum, [, n]) => sum + n, 0) });
    expect(typeof response.body.meta.as_of).toBe('string');
  });

  it('the primary store says these forms need the analytics tier, with a 422', async () => {
    for (const query of ['group_by=ip_address', 'group_by=severity,action', 'interval=week', 'top=3']) {
      const response = await stats(primary, query);
      expect(response.status, query).toBe(422);
      expect(response.body.data[0].msg).toContain('ANALYTICS=chdb or clickhouse');
    }
  });

  it('answers minute buckets up to the bucket limit, and refuses one past it', async () => {
    const tooMany = await stats(analytics, 'interval=minute&from=2025-06-24T00:00:00Z&to=2025-06-26T00:00:00Z');
    expect(tooMany.status).toBe(422);
    expect(tooMany.body.data[0].msg).toContain('interval=hour');
    const wide = await stats(analytics, 'group_by=ip_address&interval=minute&from=2025-06-24T00:00:00Z&to=2025-06-25T08:00:00Z');
    expect(wide.status).toBe(200);
    expect(wide.body.data.buckets).toHaveLength(32 * 60);
  });

  it('never counts another tenant’s events', async () => {
    const globex = await call(`${analytics.url}/api/v1/logs/stats?group_by=user_id`, { token: await analytics.token('globex', 'viewer') });
    expect(globex.body.data).toEqual({ 'writer-of-globex': 100 });
    const acme = await stats(analytics, 'group_by=user_id');
    expect(acme.body.data).toEqual({ 'u-a': 500, 'u-b': 700 });
  });
});
