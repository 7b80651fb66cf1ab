import { createHash, createHmac } from 'node:crypto';

export type KeyScheme = 'hmac-sha256' | 'md5-legacy';

/**
 * A tenant's HS256 signing key, derived and never stored (DESIGN §5). The hex string itself is
 * the key, as the Python system used its md5 hex string; md5-legacy reproduces that system's
 * `md5(tenant + secret)` so its tokens keep working during a migration.
 */
export function deriveTenantKey(scheme: KeyScheme, secret: string, tenant: string): string {
  if (scheme === 'md5-legacy')
    return createHash('md5')
      .update(tenant + secret)
      .digest('hex');
  return createHmac('sha256', secret).update(tenant).digest('hex');
}
