import type { Tenant } from '../schemas/tenant.js';

export interface TenantStore {
  /** Creates a tenant; throws TenantExists (409) when the key is taken. */
  create(tenant: { key: string; name: string }): Promise<Tenant>;
  /** All tenants, oldest first. */
  list(): Promise<Tenant[]>;
  get(key: string): Promise<Tenant | null>;
  ping(): Promise<void>;
  close(): Promise<void>;
}
