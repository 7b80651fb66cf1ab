import { ValidationFailed } from '@logserver/shared/errors/catalogue';
import { LIMITS } from '@logserver/shared/schemas/limits';
import type { StatsResult } from '@logserver/shared/store/port';

const STEP_MS = { hour: 3_600_000, day: 86_400_000 } as const;
export type Interval = keyof typeof STEP_MS;

export interface Bucket {
  start: string;
  counts: Record<string, number>;
}

const floorTo = (ms: number, interval: Interval) => ms - (((ms % STEP_MS[interval]) + STEP_MS[interval]) % STEP_MS[interval]);

/**
 * Every bucket from `from` (floored to the bucket) up to `to` (exclusive), each with every key at
 * zero unless counted, so a chart has no holes. Without `from`/`to` the range runs from the first to
 * the last bucket that has events. More buckets than the limit is the client's error, not a slow answer.
 */
export function zeroFilledBuckets(
  result: StatsResult,
  options: { interval: Interval; from?: string | undefined; to?: string | undefined; keys: readonly string[] },
): Bucket[] {
  const step = STEP_MS[options.interval];
  const counted = new Map((result.buckets ?? []).map((bucket) => [bucket.start, bucket.counts]));
  const starts = [...counted.keys()].sort();
  const first = options.from !== undefined ? floorTo(Date.parse(options.from), options.interval) : Date.parse(starts[0] ?? '');
  const end = options.to !== undefined ? Date.parse(options.to) : Date.parse(starts.at(-1) ?? '') + step;
  if (Number.isNaN(first) || Number.isNaN(end) || end <= first) return [];
  const count = Math.ceil((end - first) / step);
  if (count > LIMITS.statsBuckets) {
    throw new ValidationFailed([
      {
        loc: ['query', 'interval'],
        msg: `from/to span ${count} ${options.interval} buckets; at most ${LIMITS.statsBuckets}: narrow from/to${options.interval === 'hour' ? ' or use interval=day' : ''}`,
        type: 'value_error',
      },
    ]);
  }
  const buckets: Bucket[] = [];
  for (let at = first; at < end; at += step) {
    const start = new Date(at).toISOString();
    const counts = Object.fromEntries(options.keys.map((key) => [key, 0]));
    buckets.push({ start, counts: { ...counts, ...counted.get(start) } });
  }
  return buckets;
}
