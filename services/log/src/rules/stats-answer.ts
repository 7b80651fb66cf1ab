import type { AnalyticsStatsResult, GroupableField } from '@logserver/shared/analytics/port';
import { ValidationFailed } from '@logserver/shared/errors/catalogue';
import { SEVERITIES } from '@logserver/shared/schemas/log-event';
import { PRIMARY_INTERVALS, STATS_GROUPS } from '@logserver/shared/schemas/log-query';
import { type Counts, type Interval, zeroFilledBuckets } from './stats-buckets.js';

export interface StatsShape {
  group_by: readonly GroupableField[];
  interval?: Interval | undefined;
  top?: number | undefined;
}

/**
 * The primary stores count one of four fields, per hour or day (rollups or an index); anything else
 * needs the analytics tier, and asking for it without one is a 422 that says so.
 */
export function assertPrimaryAnswers(query: StatsShape): void {
  const needs: string[] = [];
  const [first] = query.group_by;
  if (query.group_by.length > 1) needs.push('group_by with two fields');
  else if (first !== undefined && !(STATS_GROUPS as readonly string[]).includes(first)) needs.push(`group_by=${first}`);
  if (query.interval !== undefined && !(PRIMARY_INTERVALS as readonly string[]).includes(query.interval))
    needs.push(`interval=${query.interval}`);
  if (query.top !== undefined) needs.push('top');
  if (needs.length === 0) return;
  throw new ValidationFailed([
    {
      loc: ['query', needs[0]?.startsWith('interval') ? 'interval' : needs[0] === 'top' ? 'top' : 'group_by'],
      msg: `${needs.join(', ')} needs the analytics tier (ANALYTICS=chdb or clickhouse); without it: group_by=${STATS_GROUPS.join('|')}, interval=${PRIMARY_INTERVALS.join('|')}`,
      type: 'value_error',
    },
  ]);
}

/** Counts of zero for every severity when severity is the field: the Python system always answered all four. */
const keysOf = (field: GroupableField, seen: Iterable<string>): string[] =>
  field === 'severity'
    ? [...SEVERITIES, ...[...seen].filter((key) => !(SEVERITIES as readonly string[]).includes(key)).sort()]
    : [...seen].sort();

/** Plain objects without a prototype: a group named `__proto__` is a count like any other. */
const bag = <T>(): Record<string, T> => Object.create(null);

export interface StatsAnswer {
  data: Counts | { totals: Counts; buckets: { start: string; counts: Counts }[] };
}

/**
 * The analytics counts in the stats API's shape: one field gives {"INFO": n, …}, two give
 * {"INFO": {"login": n}, …}; with an interval, totals plus a zero-filled bucket per minute, hour,
 * day, week or month. Only groups with events appear, except that severity lists all four.
 */
export function analyticsAnswer(
  result: AnalyticsStatsResult,
  query: StatsShape & { from?: string | undefined; to?: string | undefined },
): StatsAnswer['data'] {
  const [first, second] = query.group_by;
  if (first === undefined) throw new Error('group_by is never empty');
  if (second === undefined) {
    const totals = bag<number>();
    const perBucket = new Map<string, Record<string, number>>();
    for (const count of result.counts) {
      const key = count.keys[0] as string;
      totals[key] = (totals[key] ?? 0) + count.n;
      if (count.bucket === null) continue;
      const counts = perBucket.get(count.bucket) ?? bag<number>();
      counts[key] = count.n;
      perBucket.set(count.bucket, counts);
    }
    const keys = keysOf(first, Object.keys(totals));
    const filled = Object.assign(bag<number>(), Object.fromEntries(keys.map((key) => [key, totals[key] ?? 0])));
    if (query.interval === undefined) return filled;
    const buckets = zeroFilledBuckets(
      { buckets: [...perBucket].map(([start, counts]) => ({ start, counts })) },
      { interval: query.interval, from: query.from, to: query.to, keys },
    );
    return { totals: filled, buckets };
  }
  const totals = bag<Record<string, number>>();
  const perBucket = new Map<string, Record<string, Record<string, number>>>();
  for (const count of result.counts) {
    const [outer, inner] = count.keys as [string, string];
    totals[outer] ??= bag<number>();
    totals[outer][inner] = (totals[outer][inner] ?? 0) + count.n;
    if (count.bucket === null) continue;
    const counts = perBucket.get(count.bucket) ?? bag<Record<string, number>>();
    counts[outer] ??= bag<number>();
    counts[outer][inner] = count.n;
    perBucket.set(count.bucket, counts);
  }
  const outerKeys = keysOf(first, Object.keys(totals));
  const innerKeys = new Map(outerKeys.map((outer) => [outer, keysOf(second, Object.keys(totals[outer] ?? {}))]));
  const zero = () => {
    const counts = bag<Record<string, number>>();
    for (const outer of outerKeys) {
      counts[outer] = Object.assign(bag<number>(), Object.fromEntries((innerKeys.get(outer) ?? []).map((inner) => [inner, 0])));
    }
    return counts;
  };
  const filled = zero();
  for (const outer of outerKeys) Object.assign(filled[outer] as Record<string, number>, totals[outer]);
  if (query.interval === undefined) return filled;
  const buckets = zeroFilledBuckets<Record<string, Record<string, number>>>(
    { buckets: [...perBucket].map(([start, counts]) => ({ start, counts })) },
    {
      interval: query.interval,
      from: query.from,
      to: query.to,
      keys: outerKeys,
      zero,
      merge: (base, over) => {
        for (const [outer, inner] of Object.entries(over)) Object.assign(base[outer] ?? {}, inner);
        return base;
      },
    },
  );
  return { totals: filled, buckets };
}
