import type { LogEvent } from '../schemas/log-event.js';
import { matchesFilter } from '../store/filter.js';
import type { LogFilter } from '../store/port.js';
import type { AnalyticsCount, AnalyticsInterval, AnalyticsStatsRequest, GroupableField } from './port.js';

/** The UTC start of the bucket an ISO timestamp falls in, as ISO text (weeks start on Monday). */
export function bucketStart(timestamp: string, interval: AnalyticsInterval): string {
  const at = new Date(timestamp);
  switch (interval) {
    case 'minute':
      return `${timestamp.slice(0, 16)}:00.000Z`;
    case 'hour':
      return `${timestamp.slice(0, 13)}:00:00.000Z`;
    case 'day':
      return `${timestamp.slice(0, 10)}T00:00:00.000Z`;
    case 'week': {
      const day = Date.UTC(at.getUTCFullYear(), at.getUTCMonth(), at.getUTCDate());
      const sinceMonday = (at.getUTCDay() + 6) % 7;
      return new Date(day - sinceMonday * 86_400_000).toISOString();
    }
    case 'month':
      return `${timestamp.slice(0, 7)}-01T00:00:00.000Z`;
  }
}

export const groupValue = (event: LogEvent, field: GroupableField): string => event[field] ?? '';

/**
 * The independent answer: a plain count over the events in memory, never the store under test.
 * Sorted as the store sorts (bucket, then keys); top=N keeps the N first-field values with most events.
 */
export function expectedCounts(
  events: readonly LogEvent[],
  filter: LogFilter,
  request: Pick<AnalyticsStatsRequest, 'groupBy' | 'interval' | 'top'>,
): { counts: AnalyticsCount[]; others: number } {
  const matching = events.filter((event) => matchesFilter(event, filter));
  let kept = matching;
  if (request.top !== undefined) {
    const perFirst = new Map<string, number>();
    for (const event of matching)
      perFirst.set(groupValue(event, request.groupBy[0]), (perFirst.get(groupValue(event, request.groupBy[0])) ?? 0) + 1);
    const chosen = new Set(
      [...perFirst.entries()]
        .sort(([a, n], [b, m]) => m - n || (a < b ? -1 : a > b ? 1 : 0))
        .slice(0, request.top)
        .map(([value]) => value),
    );
    kept = matching.filter((event) => chosen.has(groupValue(event, request.groupBy[0])));
  }
  const counts = new Map<string, AnalyticsCount>();
  for (const event of kept) {
    const keys = request.groupBy.map((field) => groupValue(event, field));
    const bucket = request.interval === undefined ? null : bucketStart(event.timestamp, request.interval);
    const id = JSON.stringify([bucket, ...keys]);
    const entry = counts.get(id);
    if (entry) entry.n++;
    else counts.set(id, { keys, bucket, n: 1 });
  }
  const compare = (a: AnalyticsCount, b: AnalyticsCount): number => {
    const left = [a.bucket ?? '', ...a.keys];
    const right = [b.bucket ?? '', ...b.keys];
    for (let i = 0; i < left.length; i++) {
      if (left[i] !== right[i]) return (left[i] as string) < (right[i] as string) ? -1 : 1;
    }
    return 0;
  };
  return { counts: [...counts.values()].sort(compare), others: matching.length - kept.length };
}
