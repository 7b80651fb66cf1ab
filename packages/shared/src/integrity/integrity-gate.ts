import { IntegrityBusy } from '../errors/catalogue.js';

/**
 * DESIGN §9 for tamper evidence: a verify reads a tenant's whole log, a proof or consistency proof
 * reads O(log n) subtrees and up to size/256 tiles, an export manifest holds the exported ids.
 * Each such request holds a slot; a tenant may hold `perTenant` at once and the process `perProcess`,
 * so one tenant's auditors cannot take the event loop or memory from the others. A request over
 * either bound is refused at once with 429, never queued.
 */
export interface IntegrityLimits {
  perTenant: number;
  perProcess: number;
  retryAfterSeconds: number;
}

export const DEFAULT_INTEGRITY_LIMITS: IntegrityLimits = { perTenant: 2, perProcess: 8, retryAfterSeconds: 1 };

export class IntegrityGate {
  private readonly byTenant = new Map<string, number>();
  private total = 0;

  constructor(readonly limits: IntegrityLimits = DEFAULT_INTEGRITY_LIMITS) {}

  /** Runs `work` in a slot of this tenant's; throws IntegrityBusy (429) when there is none. */
  async run<T>(tenant: string, work: () => Promise<T>): Promise<T> {
    const release = this.acquire(tenant);
    try {
      return await work();
    } finally {
      release();
    }
  }

  /**
   * Takes a slot for work that outlives one call (an export with a manifest streams, then builds it);
   * returns the release, which frees the slot once however often it is called. Throws IntegrityBusy.
   */
  acquire(tenant: string): () => void {
    const held = this.byTenant.get(tenant) ?? 0;
    if (held >= this.limits.perTenant) throw new IntegrityBusy('for this tenant', this.limits.retryAfterSeconds);
    if (this.total >= this.limits.perProcess) throw new IntegrityBusy('on this server', this.limits.retryAfterSeconds);
    this.byTenant.set(tenant, held + 1);
    this.total++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.total--;
      const left = (this.byTenant.get(tenant) ?? 1) - 1;
      if (left === 0) this.byTenant.delete(tenant);
      else this.byTenant.set(tenant, left);
    };
  }

  /** Slots in use, for tests and /metrics. */
  inUse(tenant?: string): number {
    return tenant === undefined ? this.total : (this.byTenant.get(tenant) ?? 0);
  }
}
