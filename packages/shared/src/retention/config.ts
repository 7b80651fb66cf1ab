import { z } from 'zod';
import type { RetentionBounds } from './policy.js';

/** RETENTION_MIN_DAYS / RETENTION_MAX_DAYS: every service that accepts a policy (tenant, all-in-one) checks them. */
export const retentionBoundsConfig = {
  RETENTION_MIN_DAYS: z.coerce.number().int().min(1).max(36_500).default(1),
  RETENTION_MAX_DAYS: z.coerce.number().int().min(1).max(36_500).default(3650),
};

/** The job's settings, where it runs (log-worker, all-in-one): how often, and how much one tenant may take of a run. */
export const retentionJobConfig = {
  /** Seconds between runs; 0 turns the job off in this process. */
  RETENTION_INTERVAL: z.coerce.number().int().min(0).max(604_800).default(3600),
  /** At most this many of one tenant's events are deleted per run; a bigger backlog continues at the next run. */
  RETENTION_TENANT_LIMIT: z.coerce.number().int().min(1).max(10_000_000).default(100_000),
};

/** The bounds as the policy rules take them. */
export function retentionBounds(config: { RETENTION_MIN_DAYS: number; RETENTION_MAX_DAYS: number }): RetentionBounds {
  return { minDays: config.RETENTION_MIN_DAYS, maxDays: config.RETENTION_MAX_DAYS };
}

/** RETENTION_MIN_DAYS above RETENTION_MAX_DAYS would refuse every policy: refused at start instead. */
export function requireRetentionBounds<T extends z.ZodType<{ RETENTION_MIN_DAYS: number; RETENTION_MAX_DAYS: number }>>(schema: T) {
  return schema.refine((config) => config.RETENTION_MIN_DAYS <= config.RETENTION_MAX_DAYS, {
    message: 'RETENTION_MIN_DAYS must not be above RETENTION_MAX_DAYS',
    path: ['RETENTION_MIN_DAYS'],
  });
}
