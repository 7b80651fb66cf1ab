import { makeEvent, seededRandom } from '@logserver/testing/events';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { LogEvent } from '../schemas/log-event.js';
import { compareEvents, matchesFilter } from './filter.js';
import type { LogFilter, LogStore, Position, StatsGroup, StatsResult } from './port.js';
import { tenantOf } from './tenant-id.js';

const A = tenantOf({ tenant: 'tenant-a' });
const B = tenantOf({ tenant: 'tenant-b' });

/** The independent answer for stats: a plain count over the events, bucketed by their timestamp text. */
function countStats(events: readonly LogEvent[], groupBy: StatsGroup, interval?: 'hour' | 'day'): StatsResult {
  const totals: Record<string, number> = {};
  const byStart = new Map<string, Record<string, number>>();
  for (const event of events) {
    const key = event[groupBy];
    totals[key] = (totals[key] ?? 0) + 1;
    if (interval === undefined) continue;
    const start = interval === 'hour' ? `${event.timestamp.slice(0, 13)}:00:00.000Z` : `${event.timestamp.slice(0, 10)}T00:00:00.000Z`;
    const counts = byStart.get(start) ?? {};
    counts[key] = (counts[key] ?? 0) + 1;
    byStart.set(start, counts);
  }
  if (interval === undefined) return { totals };
  const buckets = [...byStart.entries()].sort(([a], [b]) => (a < b ? -1 : 1)).map(([start, counts]) => ({ start, counts }));
  return { totals, buckets };
}

/** The counts of a stats answer; how the store counted them (`source`) is checked on its own. */
function counts(result: StatsResult): StatsResult {
  const { source, ...rest } = result;
  expect([undefined, 'rollups', 'index']).toContain(source);
  return rest;
}

async function collect<T>(iterable: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of iterable) out.push(item);
  return out;
}

/**
 * The LogStore contract: every adapter must pass it unchanged. The expected answers come from
 * `matchesFilter` and plain array sorting, never from the store under test.
 */
export function describeLogStoreContract(name: string, open: () => Promise<LogStore>): void {
  describe(`LogStore contract: ${name}`, () => {
    let store: LogStore;
    let dataA: LogEvent[];

    beforeEach(async () => {
      store = await open();
      const random = seededRandom(42);
      dataA = Array.from({ length: 300 }, () => makeEvent(A, {}, random));
      const dataB = Array.from({ length: 50 }, () => makeEvent(B, { action: 'update' }, random));
      await store.append(A, dataA);
      await store.append(B, dataB);
    });

    afterEach(async () => {
      await store.close();
    });

    const expected = (filter: LogFilter, sort: 'asc' | 'desc' = 'desc') => {
      const rows = dataA.filter((event) => matchesFilter(event, filter)).sort(compareEvents);
      return sort === 'desc' ? rows.reverse() : rows;
    };

    it('returns an appended event exactly as it was given', async () => {
      const event = dataA[0] as LogEvent;
      expect(await store.get(A, event.id)).toEqual(event);
    });

    it('never returns another tenant’s event by id', async () => {
      const event = dataA[0] as LogEvent;
      expect(await store.get(B, event.id)).toBeNull();
    });

    it('stores a redelivered event once', async () => {
      const event = makeEvent(A);
      expect((await store.append(A, [event])).inserted).toHaveLength(1);
      const again = await store.append(A, [event, makeEvent(A)]);
      expect(again.duplicates).toBe(1);
      expect(again.inserted).toHaveLength(1);
      const page = await store.query(A, {}, { kind: 'offset', page: 1, size: 1, sort: 'desc' });
      expect(page.total).toBe(dataA.length + 2);
    });

    it('lets two tenants hold the same event id', async () => {
      const event = makeEvent(A);
      await store.append(A, [event]);
      const copy = { ...event, tenant_id: B };
      expect((await store.append(B, [copy])).inserted).toHaveLength(1);
      expect(await store.get(B, event.id)).toEqual(copy);
    });

    it('refuses an event whose tenant differs from the tenant it is appended to', async () => {
      await expect(store.append(A, [makeEvent(B)])).rejects.toThrow();
    });

    const filters: [string, LogFilter][] = [
      ['no filter', {}],
      ['action', { action: 'update' }],
      ['resource_type and resource_id', { resource_type: 'user', resource_id: '3' }],
      ['user_id', { user_id: 'u2' }],
      ['ip_address', { ip_address: '2001:db8::1' }],
      ['severity list', { severity: ['ERROR', 'CRITICAL'] }],
      ['user_agent substring, any case', { user_agent: 'MOZILLA' }],
      ['from/to', { from: '2025-02-01T00:00:00.000Z', to: '2025-02-15T00:00:00.000Z' }],
      ['search in JSON', { search: 'new@EXAMPLE' }],
      ['search with pattern characters', { search: '(a+)+$ .*' }],
      ['search with SQL wildcards', { search: '100%_off' }],
      ['search that matches nothing', { search: '.*' + 'zzz' }],
      ['everything at once', { action: 'update', severity: ['INFO', 'WARNING'], search: 'user' }],
    ];

    for (const [label, filter] of filters) {
      it(`filters by ${label}, newest first, with a correct total`, async () => {
        const want = expected(filter);
        const page = await store.query(A, filter, { kind: 'offset', page: 1, size: 100, sort: 'desc' });
        expect(page.total).toBe(want.length);
        expect(page.items.map((event) => event.id)).toEqual(want.slice(0, 100).map((event) => event.id));
      });
    }

    it('pages by offset in ascending order', async () => {
      const want = expected({}, 'asc');
      const second = await store.query(A, {}, { kind: 'offset', page: 2, size: 50, sort: 'asc' });
      expect(second.items.map((event) => event.id)).toEqual(want.slice(50, 100).map((event) => event.id));
      const past = await store.query(A, {}, { kind: 'offset', page: 100, size: 50, sort: 'asc' });
      expect(past.items).toEqual([]);
      expect(past.total).toBe(want.length);
    });

    for (const sort of ['asc', 'desc'] as const) {
      it(`pages by cursor (${sort}) with no gaps or repeats`, async () => {
        const seen: string[] = [];
        let after: Position | null = null;
        for (let guard = 0; guard < 100; guard++) {
          const page = await store.query(A, { severity: ['INFO', 'ERROR'] }, { kind: 'cursor', after, size: 7, sort });
          seen.push(...page.items.map((event) => event.id));
          if (page.next === null) break;
          after = page.next;
        }
        expect(seen).toEqual(expected({ severity: ['INFO', 'ERROR'] }, sort).map((event) => event.id));
      });
    }

    it('exports every matching event in order', async () => {
      const filter: LogFilter = { resource_type: 'invoice' };
      const rows = await collect(store.export(A, filter, 'asc'));
      expect(rows).toEqual(expected(filter, 'asc'));
    });

    it('counts by severity and by action as an independent count does', async () => {
      for (const groupBy of ['severity', 'action'] as const) {
        const want: Record<string, number> = {};
        for (const event of dataA) want[event[groupBy]] = (want[event[groupBy]] ?? 0) + 1;
        const result = await store.stats(A, {}, { groupBy });
        expect(result.totals).toEqual(want);
      }
    });

    it('counts with a filter', async () => {
      const filter: LogFilter = { user_id: 'u1', from: '2025-02-01T00:00:00.000Z' };
      const want: Record<string, number> = {};
      for (const event of expected(filter)) want[event.severity] = (want[event.severity] ?? 0) + 1;
      expect((await store.stats(A, filter, { groupBy: 'severity' })).totals).toEqual(want);
    });

    const statsFilters: [string, LogFilter][] = [
      ['no filter', {}],
      [
        'whole-day bounds and a severity list',
        { from: '2025-01-10T00:00:00.000Z', to: '2025-02-20T00:00:00.000Z', severity: ['INFO', 'ERROR'] },
      ],
      ['action, resource_type and user_id', { action: 'update', resource_type: 'user', user_id: 'u2' }],
      ['bounds inside an hour', { from: '2025-01-10T10:17:00.000Z', to: '2025-03-01T08:59:59.999Z' }],
      ['search and resource_id', { search: 'example', resource_id: '3' }],
      ['ip_address and user_agent', { ip_address: '10.0.0.7', user_agent: 'curl' }],
    ];
    for (const [label, filter] of statsFilters) {
      for (const interval of [undefined, 'hour', 'day'] as const) {
        it(`counts with ${label}${interval ? `, by ${interval}` : ''}, as an independent count does`, async () => {
          const matching = dataA.filter((event) => matchesFilter(event, filter));
          for (const groupBy of ['severity', 'action', 'resource_type', 'user_id'] as const) {
            expect(counts(await store.stats(A, filter, { groupBy, interval }))).toEqual(countStats(matching, groupBy, interval));
          }
        });
      }
    }

    it('keeps counts right through duplicates, partial-hour deletes and a purge', async () => {
      const hour = '2025-05-05T10';
      const burst = Array.from({ length: 6 }, (_, index) =>
        makeEvent(A, { timestamp: `${hour}:${String(index * 10).padStart(2, '0')}:00.000Z`, severity: 'ERROR', action: 'burst' }),
      );
      await store.append(A, burst);
      await store.append(A, burst.slice(0, 3));
      let all = [...dataA, ...burst];
      expect(counts(await store.stats(A, {}, { groupBy: 'action', interval: 'hour' }))).toEqual(countStats(all, 'action', 'hour'));

      // The boundary falls inside the burst's hour: the hour's rollup must lose exactly the older part.
      const boundary = `${hour}:25:00.000Z`;
      await store.deleteOlderThan(A, boundary);
      all = all.filter((event) => event.timestamp >= boundary);
      for (const interval of [undefined, 'hour', 'day'] as const) {
        expect(counts(await store.stats(A, {}, { groupBy: 'action', interval }))).toEqual(countStats(all, 'action', interval));
        expect(counts(await store.stats(A, { severity: ['ERROR'] }, { groupBy: 'severity', interval }))).toEqual(
          countStats(
            all.filter((event) => event.severity === 'ERROR'),
            'severity',
            interval,
          ),
        );
      }

      await store.deleteOlderThan(A, null);
      expect(counts(await store.stats(A, {}, { groupBy: 'severity', interval: 'day' }))).toEqual({ totals: {}, buckets: [] });
      const again = makeEvent(A, { timestamp: `${hour}:40:00.000Z` });
      await store.append(A, [again]);
      expect(counts(await store.stats(A, {}, { groupBy: 'severity', interval: 'hour' }))).toEqual(countStats([again], 'severity', 'hour'));
      expect((await store.stats(B, {}, { groupBy: 'severity' })).totals).not.toEqual({});
    });

    it('keeps an event exactly at the boundary and deletes one a millisecond older', async () => {
      const boundary = '2025-04-01T12:00:00.000Z';
      const at = makeEvent(A, { timestamp: boundary });
      const older = makeEvent(A, { timestamp: '2025-04-01T11:59:59.999Z' });
      await store.append(A, [at, older]);
      await store.deleteOlderThan(A, boundary);
      expect(await store.get(A, at.id)).toEqual(at);
      expect(await store.get(A, older.id)).toBeNull();
      const left = dataA.filter((event) => event.timestamp >= boundary);
      expect((await store.stats(A, {}, { groupBy: 'severity' })).totals).toEqual(countStats([...left, at], 'severity').totals);
    });

    it('deletes strictly before the boundary, and only in that tenant', async () => {
      const boundary = '2025-02-01T00:00:00.000Z';
      const older = dataA.filter((event) => event.timestamp < boundary).length;
      expect(await store.deleteOlderThan(A, boundary)).toBe(older);
      const left = await store.query(A, {}, { kind: 'offset', page: 1, size: 1, sort: 'asc' });
      expect(left.total).toBe(dataA.length - older);
      expect((left.items[0]?.timestamp ?? '') >= boundary).toBe(true);
      const other = await store.query(B, {}, { kind: 'offset', page: 1, size: 1, sort: 'asc' });
      expect(other.total).toBe(50);
    });

    it('purges a whole tenant when no boundary is given', async () => {
      expect(await store.deleteOlderThan(A, null)).toBe(dataA.length);
      expect((await store.query(A, {}, { kind: 'offset', page: 1, size: 1, sort: 'asc' })).total).toBe(0);
      expect((await store.query(B, {}, { kind: 'offset', page: 1, size: 1, sort: 'asc' })).total).toBe(50);
    });

    it('answers ping while open', async () => {
      await expect(store.ping()).resolves.toBeUndefined();
    });
  });
}
