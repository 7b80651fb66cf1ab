import type { AnalyticsInterval } from '@logserver/shared/analytics/port';
import { ValidationFailed } from '@logserver/shared/errors/catalogue';
import { LIMITS } from '@logserver/shared/schemas/limits';
import type { StatsResult } from '@logserver/shared/store/port';

export type Interval = AnalyticsInterval;

/** Flat counts ({"INFO": 3}) or, grouped by two fields, counts per first-field value ({"INFO": {"login": 3}}). */
export type Counts = Record<string, number> | Record<string, Record<string, number>>;

export interface Bucket<C extends Counts = Record<string, number>> {
  start: string;
  counts: C;
}

const MINUTE = 60_000;
const HOUR = 3_600_000;
const DAY = 86_400_000;

/** The UTC start of the bucket holding `ms`; weeks start on Monday (ISO 8601). */
export function floorTo(ms: number, interval: Interval): number {
  const at = new Date(ms);
  switch (interval) {
    case 'minute':
      return ms - (((ms % MINUTE) + MINUTE) % MINUTE);
    case 'hour':
      return ms - (((ms % HOUR) + HOUR) % HOUR);
    case 'day':
      return ms - (((ms % DAY) + DAY) % DAY);
    case 'week': {
      const day = ms - (((ms % DAY) + DAY) % DAY);
      return day - ((at.getUTCDay() + 6) % 7) * DAY;
    }
    case 'month':
      return monthStart(at.getUTCFullYear(), at.getUTCMonth());
  }
}

/** Date.UTC reads years 0–99 as 1900–1999; setUTCFullYear does not. */
function monthStart(year: number, month: number): number {
  const at = new Date(0);
  at.setUTCFullYear(year, month, 1);
  return at.getTime();
}

const FIXED_STEP = { minute: MINUTE, hour: HOUR, day: DAY, week: 7 * DAY } as const;
const COARSER: Record<Interval, string> = { minute: 'hour', hour: 'day', day: 'week', week: 'month', month: 'month' };

/** How many buckets [first, end) spans. */
function bucketCount(first: number, end: number, interval: Interval): number {
  if (interval !== 'month') return Math.ceil((end - first) / FIXED_STEP[interval]);
  const a = new Date(first);
  const b = new Date(end - 1);
  return (b.getUTCFullYear() - a.getUTCFullYear()) * 12 + b.getUTCMonth() - a.getUTCMonth() + 1;
}

/** The start of the bucket after the one starting at `start`. */
function next(start: number, interval: Interval): number {
  if (interval === 'month') {
    const at = new Date(start);
    return monthStart(at.getUTCFullYear(), at.getUTCMonth() + 1);
  }
  return start + FIXED_STEP[interval];
}

/**
 * Every bucket from `from` (floored to the bucket) up to `to` (exclusive), each with every key at
 * zero unless counted, so a chart has no holes. Without `from`/`to` the range runs from the first to
 * the last bucket that has events. More buckets than the limit is the client's error, not a slow answer.
 */
export function zeroFilledBuckets<C extends Counts = Record<string, number>>(
  result: { buckets?: readonly { start: string; counts: C }[] | undefined; totals?: StatsResult['totals'] | undefined },
  options: { interval: Interval; from?: string | undefined; to?: string | undefined; keys: readonly string[] } & {
    /** The zero-filled counts of one bucket; by default every key at 0. */
    zero?: (() => C) | undefined;
    /** Lays a bucket's counted values over its zeros; by default a shallow merge. */
    merge?: ((zero: C, counted: C) => C) | undefined;
  },
): Bucket<C>[] {
  const counted = new Map((result.buckets ?? []).map((bucket) => [bucket.start, bucket.counts as C]));
  const starts = [...counted.keys()].sort();
  const first = floorTo(options.from !== undefined ? Date.parse(options.from) : Date.parse(starts[0] ?? ''), options.interval);
  const end = options.to !== undefined ? Date.parse(options.to) : next(Date.parse(starts.at(-1) ?? ''), options.interval);
  if (Number.isNaN(first) || Number.isNaN(end) || end <= first) return [];
  const zero = options.zero ?? (() => Object.fromEntries(options.keys.map((key) => [key, 0])) as C);
  const merge = options.merge ?? ((base: C, over: C) => ({ ...base, ...over }) as C);
  const count = bucketCount(first, end, options.interval);
  if (count > LIMITS.statsBuckets) {
    const coarser = options.interval === 'month' ? '' : ` or use interval=${COARSER[options.interval]}`;
    throw new ValidationFailed([
      {
        loc: ['query', 'interval'],
        msg: `from/to span ${count} ${options.interval} buckets; at most ${LIMITS.statsBuckets}: narrow from/to${coarser}`,
        type: 'value_error',
      },
    ]);
  }
  const buckets: Bucket<C>[] = [];
  for (let at = first; at < end; at = next(at, options.interval)) {
    const start = new Date(at).toISOString();
    const hit = counted.get(start);
    buckets.push({ start, counts: hit === undefined ? zero() : merge(zero(), hit) });
  }
  return buckets;
}
