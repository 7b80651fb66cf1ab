import { RateLimited } from '../errors/catalogue.js';

/**
 * How many analytics queries run at once (DESIGN §9): at most `perProcess` in this process and
 * `perTenant` for one tenant, so one tenant's heavy dashboards cannot take the tier from the others.
 * A query past either bound is refused at once with a 429, never queued.
 */
export class AnalyticsSlots {
  private running = 0;
  private readonly byTenant = new Map<string, number>();

  constructor(
    readonly perProcess: number,
    readonly perTenant: number,
  ) {}

  async run<T>(tenant: string, query: () => Promise<T>): Promise<T> {
    const mine = this.byTenant.get(tenant) ?? 0;
    if (this.running >= this.perProcess || mine >= this.perTenant) throw new RateLimited(1);
    this.running++;
    this.byTenant.set(tenant, mine + 1);
    try {
      return await query();
    } finally {
      this.running--;
      const left = (this.byTenant.get(tenant) ?? 1) - 1;
      if (left === 0) this.byTenant.delete(tenant);
      else this.byTenant.set(tenant, left);
    }
  }

  /** Queries running now, in all and for one tenant (tests). */
  inFlight(tenant?: string): number {
    return tenant === undefined ? this.running : (this.byTenant.get(tenant) ?? 0);
  }
}
