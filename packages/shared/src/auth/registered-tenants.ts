import { LRUCache } from 'lru-cache';
import type { TenantStore } from '../tenant-store/port.js';
import type { IdentityResolver } from './request-auth.js';
import { UNREGISTERED_TENANT, unauthorized } from './token-refusal.js';

/** Whether a tenant key is registered, remembered for a while so that a request costs no store read. */
export interface TenantRegistry {
  isRegistered(tenant: string): Promise<boolean>;
  /** Tells this process's cache at once that a tenant was just created (the all-in-one's tenant route). */
  remember(tenant: string): void;
}

export interface TenantRegistryOptions {
  /** How long a registered tenant is believed without asking the store again. */
  registeredTtlMs?: number;
  /** How long an unknown key stays refused before the store is asked again (a tenant made on another replica). */
  unknownTtlMs?: number;
  /** Keys remembered at most: keys are at most 64 characters, so this bounds the cache below 2 MB. */
  max?: number;
}

/**
 * AUTH_REQUIRE_REGISTERED_TENANT: a signature proves a token was made with the tenant's derived
 * key, not that the tenant exists. The platform tenant (AUTH_ADMIN_TENANT) is always registered.
 */
export function tenantRegistry(
  tenants: Pick<TenantStore, 'get'>,
  adminTenant: string,
  options: TenantRegistryOptions = {},
): TenantRegistry {
  const registeredTtl = options.registeredTtlMs ?? 300_000;
  const unknownTtl = options.unknownTtlMs ?? 5_000;
  const known = new LRUCache<string, boolean>({ max: options.max ?? 10_000 });
  // One store read per key at a time, however many requests of that key arrive together.
  const pending = new Map<string, Promise<boolean>>();
  return {
    async isRegistered(tenant) {
      if (tenant === adminTenant) return true;
      const cached = known.get(tenant);
      if (cached !== undefined) return cached;
      let lookup = pending.get(tenant);
      if (!lookup) {
        lookup = tenants
          .get(tenant)
          .then((found) => {
            known.set(tenant, found !== null, { ttl: found !== null ? registeredTtl : unknownTtl });
            return found !== null;
          })
          .finally(() => pending.delete(tenant));
        pending.set(tenant, lookup);
      }
      return lookup;
    },
    remember(tenant) {
      known.set(tenant, true, { ttl: registeredTtl });
    },
  };
}

/**
 * The identity only when its tenant is registered; a token of an unknown tenant is a 401 that says
 * so. It runs after `resolve` has verified the credential, which is what makes saying so leak nothing
 * (token-refusal.ts, the rule on tenants).
 */
export function registeredIdentity(resolve: IdentityResolver, registry: TenantRegistry): IdentityResolver {
  return async (request) => {
    const identity = await resolve(request);
    if (!(await registry.isRegistered(identity.tenant))) throw unauthorized(UNREGISTERED_TENANT);
    return identity;
  };
}
