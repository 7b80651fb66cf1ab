import { z } from 'zod';

export const TENANT_KEY_PATTERN = /^[a-z0-9_-]+$/;

export const TenantKey = z.string().min(1).max(64).regex(TENANT_KEY_PATTERN, 'may contain only a-z, 0-9, _ and -');

export const TenantInput = z.strictObject({
  key: TenantKey,
  name: z.string().trim().min(1).max(128),
});
export type TenantInput = z.infer<typeof TenantInput>;

export const Tenant = z.object({ key: z.string(), name: z.string(), created_at: z.string() });
export type Tenant = z.infer<typeof Tenant>;

/** The create response is the only place a tenant's signing key is ever shown. */
export const TenantWithSecret = Tenant.extend({ secret: z.string() });
