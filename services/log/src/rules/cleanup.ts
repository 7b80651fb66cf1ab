import type { CleanupQuery } from '@logserver/shared/schemas/log-query';

const DAY_MS = 86_400_000;

/**
 * The cut-off a cleanup deletes before (exclusive: an event exactly at it is kept), or null for
 * all=true. older_than_days counts whole 24-hour days back from now.
 */
export function cleanupCutoff(query: Omit<CleanupQuery, 'dry_run'>, now: Date): string | null {
  if (query.before !== undefined) return query.before;
  if (query.older_than_days !== undefined) return new Date(now.getTime() - query.older_than_days * DAY_MS).toISOString();
  return null;
}
