/**
 * Counts open streams per tenant so that one tenant cannot take every socket of a replica.
 * The count is per process: behind a load balancer each replica enforces the limit on its own.
 */
export class TenantConnections {
  private readonly open = new Map<string, number>();

  constructor(private readonly maxPerTenant: number) {}

  /** Takes a slot for the tenant, or returns undefined when it has none left. The release is idempotent. */
  acquire(tenant: string): (() => void) | undefined {
    const count = this.open.get(tenant) ?? 0;
    if (count >= this.maxPerTenant) return undefined;
    this.open.set(tenant, count + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const left = (this.open.get(tenant) ?? 1) - 1;
      if (left === 0) this.open.delete(tenant);
      else this.open.set(tenant, left);
    };
  }

  count(tenant: string): number {
    return this.open.get(tenant) ?? 0;
  }

  total(): number {
    let sum = 0;
    for (const count of this.open.values()) sum += count;
    return sum;
  }
}
