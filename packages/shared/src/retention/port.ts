import type { Severity } from '../schemas/log-event.js';
import type { TenantId } from '../store/tenant-id.js';

/** A tenant's retention policy (docs/retention.md): how long its events are kept, and whether a legal hold stops deletion. */
export interface RetentionPolicy {
  /** Days an event is kept, for every severity without its own entry; null keeps them forever. */
  retention_days: number | null;
  /** Days per severity, overriding retention_days for that severity. */
  severity_days: Partial<Record<Severity, number>>;
  /** While true, the job deletes nothing of the tenant's, whatever the days say. */
  legal_hold: boolean;
  updated_at: string;
  /** `sub` of whoever set it, and whether as platform or tenant admin. */
  updated_by: string;
}

/** What the job's last visit to a tenant did: shown by GET so a tenant can see its policy at work. */
export interface RetentionRun {
  at: string;
  deleted_count: number;
  /** True when the per-tenant cap stopped the visit: more is due, and the next run continues. */
  backlog: boolean;
}

export interface StoredPolicy {
  tenant: TenantId;
  policy: RetentionPolicy;
}

/**
 * Retention policies and the job's lease, beside the events (SQLite file or MongoDB database).
 * Tenant keys here come from the path of a platform-admin route or from the caller's identity.
 */
export interface RetentionStore {
  get(tenant: string): Promise<{ policy: RetentionPolicy; last_run: RetentionRun | null } | null>;
  /** Replaces the tenant's policy (the last run stays). */
  put(tenant: string, policy: RetentionPolicy): Promise<void>;
  /** Up to `limit` tenants with a policy, by key, after `after` (null: from the first). */
  list(after: string | null, limit: number): Promise<StoredPolicy[]>;
  recordRun(tenant: string, run: RetentionRun): Promise<void>;
  /**
   * Takes the job's one lease for `holder` until nowMs + ttlMs, or renews it if holder has it.
   * Atomic across processes on the store: of any number of callers, one holds an unexpired lease.
   */
  acquireLease(holder: string, nowMs: number, ttlMs: number): Promise<boolean>;
  /** Gives the lease up if holder has it, so another replica need not wait for it to expire. */
  releaseLease(holder: string): Promise<void>;
  close(): Promise<void>;
}
