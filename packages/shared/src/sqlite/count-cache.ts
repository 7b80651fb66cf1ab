import type Database from 'better-sqlite3';
import { LRUCache } from 'lru-cache';
import type { TenantId } from '../store/tenant-id.js';

/**
 * How many counts the cache keeps (section 9: per tenant, and in all). A tenant's own filters push
 * out only its own counts; only the 257th tenant to count pushes out another's (the longest unused).
 * A key longer than `keyChars` is counted each time, not kept: 256 × 16 × 1024 UTF-16 characters is
 * at most 8 MiB of keys.
 */
export const COUNT_CACHE_LIMITS = { tenants: 256, perTenant: 16, keyChars: 1024 } as const;

/**
 * The exact totals of the list's page/size pages (meta.total), kept while the file is unchanged
 * (#15: the total was a quarter of a first page's CPU). Unchanged means: no other connection has
 * committed since (`PRAGMA data_version`) and this one has changed no row (`total_changes()`).
 * Every count is checked against both before it is served, and the version is read before a count
 * is made, so a count is never served after a commit it did not see: a commit between the two reads
 * changes the version, and the next request counts again. Under a stream of appends every request
 * counts, as before; a tenant's dashboard polling between writes counts once.
 */
export class CountCache {
  private readonly version: Database.Statement;
  private seen: string | null = null;
  private readonly tenants = new LRUCache<TenantId, LRUCache<string, number>>({ max: COUNT_CACHE_LIMITS.tenants });

  constructor(db: Database.Database) {
    this.version = db.prepare("SELECT data_version || ':' || total_changes() AS version FROM pragma_data_version()").pluck();
  }

  /** The count for `key` (the statement and its parameters) in `tenant`, made by `count` unless a current one is kept. */
  get(tenant: TenantId, key: string, count: () => number): number {
    const version = this.version.get() as string;
    if (version !== this.seen) {
      this.tenants.clear();
      this.seen = version;
    }
    const counts = this.tenants.get(tenant);
    const kept = counts?.get(key);
    if (kept !== undefined) return kept;
    const total = count();
    if (key.length > COUNT_CACHE_LIMITS.keyChars) return total;
    if (counts) counts.set(key, total);
    else this.tenants.set(tenant, new LRUCache<string, number>({ max: COUNT_CACHE_LIMITS.perTenant }).set(key, total));
    return total;
  }

  /** Counts kept now, per tenant (for the tests of the bounds). */
  sizes(): Map<TenantId, number> {
    return new Map([...this.tenants.entries()].map(([tenant, counts]) => [tenant, counts.size]));
  }
}
