import { z } from 'zod';
import { type LogEvent, SEVERITIES, type Severity } from '../schemas/log-event.js';
import type { RetentionPolicy } from './port.js';

const DAY_MS = 86_400_000;

/** RETENTION_MIN_DAYS / RETENTION_MAX_DAYS: the platform's bounds on every days value of a policy. */
export interface RetentionBounds {
  minDays: number;
  maxDays: number;
}

const days = (bounds: RetentionBounds) =>
  z
    .number()
    .int()
    .min(bounds.minDays, `must be at least RETENTION_MIN_DAYS (${bounds.minDays})`)
    .max(bounds.maxDays, `must be at most RETENTION_MAX_DAYS (${bounds.maxDays})`);

/**
 * The body of PUT /api/v1/retention (tenant admin): days within the platform's bounds, per severity
 * optionally. Built from the bounds, so an out-of-range value is a 422 that names the bound.
 */
export function tenantPolicyBody(bounds: RetentionBounds) {
  return z.strictObject({
    retention_days: days(bounds).nullable().describe('days every event is kept; null keeps them forever'),
    severity_days: z
      .partialRecord(z.enum(SEVERITIES), days(bounds))
      .default({})
      .describe('days per severity, overriding retention_days for that severity (e.g. {"INFO":30,"CRITICAL":365})'),
  });
}

/** The body of PUT /api/v1/tenants/{key}/retention (platform admin): the same days, and the legal hold. */
export function platformPolicyBody(bounds: RetentionBounds) {
  return tenantPolicyBody(bounds).extend({
    legal_hold: z.boolean().optional().describe('true stops every deletion by the policy; omitted keeps the current hold'),
  });
}

/** One cleanup a policy asks for: the severities that share a cut-off, and the cut-off. */
export interface PolicyCut {
  days: number;
  /** Events strictly older than this go (ISO). */
  before: string;
  severities: Severity[];
}

/**
 * The cleanups a policy asks for now, one per distinct number of days (severities sharing it go
 * together), longest-kept first; none under a legal hold or for severities kept forever.
 */
export function policyCuts(policy: Pick<RetentionPolicy, 'retention_days' | 'severity_days' | 'legal_hold'>, now: Date): PolicyCut[] {
  if (policy.legal_hold) return [];
  const byDays = new Map<number, Severity[]>();
  for (const severity of SEVERITIES) {
    const kept = policy.severity_days[severity] ?? policy.retention_days;
    if (kept === null) continue;
    byDays.set(kept, [...(byDays.get(kept) ?? []), severity]);
  }
  return [...byDays.entries()]
    .sort(([a], [b]) => b - a)
    .map(([kept, severities]) => ({ days: kept, before: new Date(now.getTime() - kept * DAY_MS).toISOString(), severities }));
}

/**
 * Whether the cuts delete this event, as the store's cleanup with the same scope does: older than
 * its severity's cut-off, and not of the kept action. Copies of events kept beside the store (the
 * log streams' dead letters) are pruned by it.
 */
export function expiredBy(
  cuts: readonly PolicyCut[],
  keepAction: string,
): (event: Pick<LogEvent, 'timestamp' | 'severity' | 'action'>) => boolean {
  const before = new Map<Severity, number>();
  for (const cut of cuts) for (const severity of cut.severities) before.set(severity, Date.parse(cut.before));
  return (event) => event.action !== keepAction && Date.parse(event.timestamp) < (before.get(event.severity) ?? Number.NEGATIVE_INFINITY);
}
