import { makeEvent, seededRandom } from '@logserver/testing/events';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LogEvent } from '../schemas/log-event.js';
import { matchesFilter } from '../store/filter.js';
import type { LogFilter } from '../store/port.js';
import { tenantOf } from '../store/tenant-id.js';
import { expectedCounts } from './expected-stats.js';
import {
  ANALYTICS_INTERVALS,
  type AnalyticsCount,
  type AnalyticsStatsRequest,
  type AnalyticsStore,
  GROUPABLE_FIELDS,
  type PositionedEvent,
} from './port.js';

const A = tenantOf({ tenant: 'tenant-a' });
const B = tenantOf({ tenant: 'tenant-b' });
/** A tenant key shaped like SQL and like a parameter placeholder: it must be just a string to the store. */
const HOSTILE_TENANT = tenantOf({ tenant: "x' OR '1'='1" });

/** Values that would change a statement if they were ever pasted into SQL, or matched as a pattern. */
export const HOSTILE_VALUES = [
  "' OR 1=1 --",
  "'; DROP TABLE logs; --",
  '{tenant:String}',
  '\\',
  "\\' OR ''='",
  '%',
  '_',
  '.*',
  '(a+)+$',
  '"quoted"',
  '`backtick`',
  'new\nline',
  'ünïcödé 日本 🎉',
  // What the TabSeparated insert escapes or reads as a marker: a tab, a carriage return, the NULL marker and an escape as text.
  'tab\there',
  'carriage\rreturn',
  '\\N',
  '\\t',
];

const LIMITS = { maxGroups: 1000, maxCells: 200_000 };
const byKeys = (a: AnalyticsCount, b: AnalyticsCount) => {
  const left = JSON.stringify([a.bucket, ...a.keys]);
  const right = JSON.stringify([b.bucket, ...b.keys]);
  return left < right ? -1 : left > right ? 1 : 0;
};

/**
 * The AnalyticsStore contract: every adapter (chdb in make test, a ClickHouse server when
 * CLICKHOUSE_URL is set) must pass it unchanged. Expected answers are plain counts in memory.
 */
export function describeAnalyticsStoreContract(name: string, open: () => Promise<AnalyticsStore>): void {
  describe(`AnalyticsStore contract: ${name}`, () => {
    let store: AnalyticsStore;
    let dataA: LogEvent[];
    let dataB: LogEvent[];
    let position = 0;
    const positioned = (events: readonly LogEvent[]): PositionedEvent[] => events.map((event) => ({ position: String(++position), event }));

    beforeAll(async () => {
      store = await open();
      await store.migrate();
      const random = seededRandom(7);
      dataA = Array.from({ length: 400 }, () => makeEvent(A, {}, random));
      // Values hostile to SQL and to pattern matching, stored as fields, so filtering by them must find exactly these.
      for (const value of HOSTILE_VALUES) {
        dataA.push(makeEvent(A, { action: value, resource_type: value, resource_id: value, user_id: value, user_agent: value }, random));
      }
      dataB = Array.from({ length: 120 }, () => makeEvent(B, { action: 'update' }, random));
      const all = positioned([...dataA, ...dataB]);
      await store.insert(all.slice(0, 300));
      await store.insert(all.slice(200));
    });

    afterAll(async () => {
      await store.close();
    });

    const stats = async (filter: LogFilter, request: Omit<AnalyticsStatsRequest, 'maxGroups' | 'maxCells'>) => {
      const result = await store.stats(A, filter, { ...request, ...LIMITS });
      return { counts: [...result.counts].sort(byKeys), others: result.others };
    };
    const expected = (filter: LogFilter, request: Omit<AnalyticsStatsRequest, 'maxGroups' | 'maxCells'>) => {
      const result = expectedCounts(dataA, filter, request);
      return { counts: [...result.counts].sort(byKeys), others: result.others };
    };

    it('counts an event written twice once (overlapping batches were inserted)', async () => {
      expect(await store.count(A, {})).toBe(dataA.length);
      expect(await store.count(B, {})).toBe(dataB.length);
    });

    it('stays exact when the same events arrive again, whole batches and single ones', async () => {
      const again = dataA.slice(0, 50).map((event, index) => ({ position: String(index + 1), event }));
      await store.insert(again);
      await store.insert(again.slice(10, 20));
      expect(await store.count(A, {})).toBe(dataA.length);
      expect(await stats({}, { groupBy: ['severity'] })).toEqual(expected({}, { groupBy: ['severity'] }));
    });

    for (const field of GROUPABLE_FIELDS) {
      it(`groups by ${field} exactly`, async () => {
        expect(await stats({}, { groupBy: [field] })).toEqual(expected({}, { groupBy: [field] }));
      });
    }

    it('groups by two fields at once', async () => {
      for (const pair of [
        ['severity', 'action'],
        ['resource_type', 'ip_address'],
        ['user_agent', 'severity'],
      ] as const) {
        expect(await stats({}, { groupBy: pair })).toEqual(expected({}, { groupBy: pair }));
      }
    });

    for (const interval of ANALYTICS_INTERVALS) {
      it(`buckets by ${interval} in UTC, ascending`, async () => {
        const result = await store.stats(A, {}, { groupBy: ['severity'], interval, ...LIMITS });
        const buckets = result.counts.map((count) => count.bucket ?? '');
        expect(buckets).toEqual([...buckets].sort());
        expect(await stats({}, { groupBy: ['severity'], interval })).toEqual(expected({}, { groupBy: ['severity'], interval }));
      });
    }

    it('keeps the top N values and counts the rest as others', async () => {
      for (const top of [1, 3, 50]) {
        const request = { groupBy: ['action'] as const, top };
        const answer = await stats({}, request);
        expect(answer).toEqual(expected({}, request));
        expect(answer.counts.reduce((sum, count) => sum + count.n, 0) + answer.others).toBe(dataA.length);
      }
      expect(await stats({}, { groupBy: ['user_id', 'severity'], interval: 'day', top: 2 })).toEqual(
        expected({}, { groupBy: ['user_id', 'severity'], interval: 'day', top: 2 }),
      );
    });

    it('answers every filter as matchesFilter does', async () => {
      const filters: LogFilter[] = [
        { action: 'login' },
        { resource_type: 'invoice', user_id: 'u2' },
        { resource_id: '7' },
        { ip_address: '2001:db8::1' },
        { severity: ['ERROR', 'CRITICAL'] },
        { user_agent: 'CURL' },
        { from: '2025-02-01T00:00:00.000Z', to: '2025-02-15T12:30:00.000Z' },
        { search: 'old@example' },
        { search: '(A+)+$ .*' },
      ];
      for (const filter of filters) {
        expect(await store.count(A, filter)).toBe(dataA.filter((event) => matchesFilter(event, filter)).length);
        expect(await stats(filter, { groupBy: ['action'], interval: 'day' })).toEqual(
          expected(filter, { groupBy: ['action'], interval: 'day' }),
        );
      }
    });

    it('binds hostile values in every filter: each finds exactly the event that holds it, and nothing breaks', async () => {
      for (const value of HOSTILE_VALUES) {
        for (const field of ['action', 'resource_type', 'resource_id', 'user_id', 'ip_address', 'user_agent', 'search'] as const) {
          const filter: LogFilter = { [field]: value };
          const want = dataA.filter((event) => matchesFilter(event, filter)).length;
          expect(want).toBeGreaterThan(field === 'ip_address' ? -1 : 0);
          expect(await store.count(A, filter), `${field}=${JSON.stringify(value)}`).toBe(want);
        }
      }
      // Tables are untouched by the attempts above.
      expect(await store.count(A, {})).toBe(dataA.length);
      expect(await store.count(HOSTILE_TENANT, {})).toBe(0);
    });

    it('never shows one tenant the events of another', async () => {
      expect(await store.count(A, { action: 'update' })).toBe(dataA.filter((event) => event.action === 'update').length);
      const answer = await store.stats(B, {}, { groupBy: ['action'], ...LIMITS });
      expect(answer.counts).toEqual([{ keys: ['update'], bucket: null, n: dataB.length }]);
      await store.insert([{ position: String(++position), event: makeEvent(HOSTILE_TENANT, { action: 'x' }) }]);
      expect(await store.count(HOSTILE_TENANT, {})).toBe(1);
      expect(await store.count(A, {})).toBe(dataA.length);
    });

    it('refuses an answer with more groups than the bound, with a 422 that says what to do', async () => {
      await expect(store.stats(A, {}, { groupBy: ['resource_id', 'user_agent'], maxGroups: 5, maxCells: 1000 })).rejects.toMatchObject({
        statusCode: 422,
      });
      await expect(store.stats(A, {}, { groupBy: ['severity'], interval: 'minute', maxGroups: 10, maxCells: 20 })).rejects.toMatchObject({
        statusCode: 422,
      });
    });

    it('deletes the given ids of one tenant only, idempotently', async () => {
      const doomed = dataA.slice(0, 30);
      const sameIdInB = { ...makeEvent(B, { action: 'update' }), id: doomed[0]?.id as string };
      await store.insert([{ position: String(++position), event: sameIdInB }]);
      await store.deleteIds(
        A,
        doomed.map((event) => event.id),
      );
      await store.deleteIds(
        A,
        doomed.map((event) => event.id),
      );
      dataA = dataA.slice(30);
      expect(await store.count(A, {})).toBe(dataA.length);
      expect(await store.count(B, {})).toBe(dataB.length + 1);
      expect(await stats({}, { groupBy: ['severity'], interval: 'hour' })).toEqual(
        expected({}, { groupBy: ['severity'], interval: 'hour' }),
      );
      // A deleted event written again (a redelivery after the cleanup) is counted again, once.
      await store.insert([{ position: String(++position), event: doomed[1] as LogEvent }]);
      expect(await store.count(A, {})).toBe(dataA.length + 1);
      await store.deleteIds(A, [(doomed[1] as LogEvent).id]);
    });

    it('keeps a checkpoint that never moves back', async () => {
      await store.saveCheckpoint({ position: '120', cleanupId: 3, caughtUpAt: '2025-06-26T01:02:03.456Z' });
      await store.saveCheckpoint({ position: '80', cleanupId: 2, caughtUpAt: '2025-06-26T00:00:00.000Z' });
      expect(await store.loadCheckpoint()).toEqual({ position: '120', cleanupId: 3, caughtUpAt: '2025-06-26T01:02:03.456Z' });
      await store.saveCheckpoint({ position: '121', cleanupId: 3, caughtUpAt: '2025-06-26T01:02:04.000Z' });
      expect(await store.loadCheckpoint()).toMatchObject({ position: '121', caughtUpAt: '2025-06-26T01:02:04.000Z' });
    });
  });
}
