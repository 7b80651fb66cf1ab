import { randomUUID } from 'node:crypto';
import { signCleanup } from '../integrity/cleanup-signature.js';
import { selfAuditEvent } from '../integrity/self-audit.js';
import type { SigningKey } from '../integrity/signing-key.js';
import type { LogEvent } from '../schemas/log-event.js';
import type { LogStore } from '../store/port.js';
import type { TenantId } from '../store/tenant-id.js';
import { expiredBy, type PolicyCut, policyCuts } from './policy.js';
import type { RetentionPolicy, RetentionStore } from './port.js';

/** The audit action of every cleanup; the job keeps these records (docs/retention.md "What is never deleted"). */
export const CLEANUP_ACTION = 'logs.cleanup';
/** The user_id of the job's audit events: no person asked, the tenant's policy did. */
export const RETENTION_ACTOR = 'retention-policy';
const POLICY_PAGE = 100;

/** Copies of events kept beside the store (the log streams' dead letters, docs/streams.md): pruned with the events. */
export interface EventCopies {
  pruneDeadLetters(tenant: TenantId, expired: (event: LogEvent) => boolean): Promise<number>;
}

export interface RetentionJobOptions {
  retention: RetentionStore;
  logs: Pick<LogStore, 'deleteOlderThan'>;
  /** Where copies of the tenant's events wait (dead letters): the same cut-offs prune them after the store's cleanup. */
  copies?: EventCopies | undefined;
  /** Stores the job's own `logs.cleanup` audit events (the queue in the all-in-one, the store in a worker). */
  record: (events: LogEvent[]) => Promise<unknown>;
  /** Most events one tenant loses per run: a big backlog is spread over runs, so every tenant gets its turn. */
  tenantLimit: number;
  /** How long a replica holds the job before another may take over (a crashed holder's lease runs out). */
  leaseMs?: number;
  /** Most events one store cleanup deletes; the lease is renewed between them, so a long backlog never outlives it. */
  chunk?: number;
  /** Names this job in the lease; unique per instance. */
  holder?: string;
  newId: () => string;
  /** The log's signing key where this process holds it: each cleanup's audit event is signed (cleanup-signature.ts). */
  signer?: (() => SigningKey) | undefined;
  now?: () => Date;
  onError?: (error: unknown) => void;
}

export interface TenantOutcome {
  tenant: string;
  deleted: number;
  /** The per-tenant limit stopped this tenant's share: the rest is deleted at the next run. */
  backlog: boolean;
  held: boolean;
  /** Copies of deleted events dropped from the tenant's dead letters. */
  deadLetterCopies: number;
}

export interface RetentionRound {
  /** Another replica holds the lease: this one did nothing. */
  skipped: boolean;
  deleted: number;
  tenants: TenantOutcome[];
}

/**
 * Applies every tenant's retention policy through the store's cleanup (in slices, each recorded for
 * verify as a policy cleanup, then audited as `logs.cleanup` with by=policy). One replica at a time:
 * a run starts only with the lease, renews it before each tenant and stops if it lost it.
 */
export class RetentionJob {
  private readonly leaseMs: number;
  private readonly chunk: number;
  private readonly holder: string;
  private readonly now: () => Date;
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<RetentionRound> | null = null;

  constructor(private readonly options: RetentionJobOptions) {
    this.leaseMs = options.leaseMs ?? 120_000;
    this.chunk = options.chunk ?? 10_000;
    this.holder = options.holder ?? randomUUID();
    this.now = options.now ?? (() => new Date());
  }

  /** One run over every tenant with a policy. Concurrent calls in this process share one run. */
  runOnce(): Promise<RetentionRound> {
    this.running ??= this.round().finally(() => {
      this.running = null;
    });
    return this.running;
  }

  start(intervalMs: number): void {
    this.stop();
    const tick = () => {
      this.runOnce()
        .catch((error) => this.options.onError?.(error))
        .finally(() => {
          if (this.timer !== null) this.timer = setTimeout(tick, intervalMs).unref();
        });
    };
    this.timer = setTimeout(tick, intervalMs).unref();
  }

  /** Stops the timer and waits for a run in progress (its slices commit one by one; none is cut in half). */
  async stop(): Promise<void> {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    await this.running?.catch(() => {});
  }

  private async lease(): Promise<boolean> {
    return this.options.retention.acquireLease(this.holder, this.now().getTime(), this.leaseMs);
  }

  private async round(): Promise<RetentionRound> {
    const round: RetentionRound = { skipped: false, deleted: 0, tenants: [] };
    if (!(await this.lease())) return { ...round, skipped: true };
    try {
      for (let after: string | null = null; ; ) {
        const page = await this.options.retention.list(after, POLICY_PAGE);
        for (const { tenant } of page) {
          // Renewed per tenant: a holder that stalls past the lease lets another replica take over, and stops here.
          if (!(await this.lease())) return round;
          // Read again at the tenant's turn: a legal hold set since the page was read is honoured.
          const current = await this.options.retention.get(tenant);
          if (current === null) continue;
          const { outcome, leaseLost } = await this.applyTo(tenant, current.policy);
          round.tenants.push(outcome);
          round.deleted += outcome.deleted;
          if (leaseLost) return round;
        }
        const last = page.at(-1);
        if (page.length < POLICY_PAGE || last === undefined) return round;
        after = last.tenant;
      }
    } finally {
      await this.options.retention.releaseLease(this.holder);
    }
  }

  private async applyTo(tenant: TenantId, policy: RetentionPolicy): Promise<{ outcome: TenantOutcome; leaseLost: boolean }> {
    const now = this.now();
    let deleted = 0;
    let leaseLost = false;
    const due = policyCuts(policy, now);
    cuts: for (const cut of due) {
      for (;;) {
        const size = Math.min(this.options.tenantLimit - deleted, this.chunk);
        if (size <= 0) break cuts;
        const taken = await this.cleanup(tenant, policy, cut, size);
        deleted += taken;
        if (taken < size) break;
        // More is due: renewed before the next chunk, so a replica that stalled stops here once another has the lease.
        if (!(await this.lease())) {
          leaseLost = true;
          break cuts;
        }
      }
    }
    // The dead letters' copies go by the same cut-offs (all of them: they are bounded per destination,
    // STREAM_DLQ_MAX_BATCHES, not by the tenant's backlog), also of events a backlog still keeps in the store.
    const copies =
      due.length === 0 || leaseLost ? 0 : ((await this.options.copies?.pruneDeadLetters(tenant, expiredBy(due, CLEANUP_ACTION))) ?? 0);
    const backlog = deleted >= this.options.tenantLimit;
    await this.options.retention.recordRun(tenant, { at: now.toISOString(), deleted_count: deleted, backlog });
    return { outcome: { tenant, deleted, backlog, held: policy.legal_hold, deadLetterCopies: copies }, leaseLost };
  }

  /** One cleanup of the store's: what it deleted is recorded (tombstones, by=policy) in its slices, then audited. */
  private async cleanup(tenant: TenantId, policy: RetentionPolicy, cut: PolicyCut, limit: number): Promise<number> {
    const auditEventId = this.options.newId();
    const deleted = await this.options.logs.deleteOlderThan(
      tenant,
      cut.before,
      { auditEventId, by: 'policy' },
      { severities: cut.severities, keepAction: CLEANUP_ACTION, limit },
    );
    // A run that finds nothing due leaves no record (the store drops an empty cleanup's record too).
    if (deleted === 0) return 0;
    const now = this.now();
    const at = now.toISOString();
    const metadata: Record<string, unknown> = {
      by: 'policy',
      before: cut.before,
      deleted_count: deleted,
      severities: cut.severities,
      retention_days: cut.days,
      policy: { retention_days: policy.retention_days, severity_days: policy.severity_days },
    };
    const key = this.options.signer?.();
    if (key !== undefined)
      metadata.signature = signCleanup(key, {
        tenant,
        id: auditEventId,
        timestamp: at,
        before: cut.before,
        deleted_count: deleted,
        by: 'policy',
      });
    await this.options.record([
      selfAuditEvent(CLEANUP_ACTION, { tenant, sub: RETENTION_ACTOR, ip: null, userAgent: null }, metadata, auditEventId, now),
    ]);
    return deleted;
  }
}
