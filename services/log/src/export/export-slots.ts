/** How many exports one replica runs at once, and how long it waits for a client that stopped reading. */
export interface ExportLimits {
  /** Exports one tenant may run at once on one replica; the next is refused with 429. */
  perTenant: number;
  /** Exports all tenants together may run at once on one replica. */
  perProcess: number;
  /** An export whose client has taken no bytes for this long is cut off and recorded as incomplete. */
  idleTimeoutMs: number;
}

/**
 * Each running export holds at most one store page (EXPORT_PAGE_BYTES) and one response buffer
 * (about 64 KiB): 16 of them stay under 20 MiB of heap whatever the events weigh.
 */
export const DEFAULT_EXPORT_LIMITS: ExportLimits = { perTenant: 2, perProcess: 16, idleTimeoutMs: 30_000 };

export type SlotRefusal = 'tenant' | 'process';

/** Counts running exports per tenant and in all; a slot is given back exactly once. */
export class ExportSlots {
  private readonly byTenant = new Map<string, number>();
  private running = 0;

  constructor(private readonly limits: Pick<ExportLimits, 'perTenant' | 'perProcess'>) {}

  /** A release function when the tenant and the process are under their caps, else which cap is full. */
  acquire(tenant: string): { release: () => void } | { refused: SlotRefusal } {
    const held = this.byTenant.get(tenant) ?? 0;
    if (held >= this.limits.perTenant) return { refused: 'tenant' };
    if (this.running >= this.limits.perProcess) return { refused: 'process' };
    this.byTenant.set(tenant, held + 1);
    this.running++;
    let released = false;
    return {
      release: () => {
        if (released) return;
        released = true;
        this.running--;
        const left = (this.byTenant.get(tenant) ?? 1) - 1;
        if (left === 0) this.byTenant.delete(tenant);
        else this.byTenant.set(tenant, left);
      },
    };
  }

  get size(): number {
    return this.running;
  }
}
