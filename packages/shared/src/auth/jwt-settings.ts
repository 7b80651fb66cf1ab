import type { z } from 'zod';
import type { authConfig } from '../config/schemas.js';
import type { Role } from './identity.js';
import type { JwtSettings } from './jwt-verifier.js';

type AuthConfig = z.infer<z.ZodObject<typeof authConfig>>;

/** The verifier's settings from the environment: one mapping, so the auth service and the all-in-one accept the same tokens. */
export function jwtSettingsFrom(config: AuthConfig, secret: string): JwtSettings {
  return {
    secret,
    scheme: config.AUTH_KEY_SCHEME,
    audience: config.AUTH_AUDIENCE,
    issuer: config.AUTH_ISSUER,
    requireExp: config.AUTH_REQUIRE_EXP,
    oidc: config.AUTH_JWKS_URL
      ? {
          jwksUrl: config.AUTH_JWKS_URL,
          issuer: config.AUTH_JWKS_ISSUER ?? config.AUTH_ISSUER,
          audience: config.AUTH_JWKS_AUDIENCE ?? config.AUTH_AUDIENCE,
          tenantClaim: config.AUTH_TENANT_CLAIM,
          roleClaim: config.AUTH_ROLE_CLAIM,
          tenantMap: config.AUTH_TENANT_MAP,
          roleMap: config.AUTH_ROLE_MAP as Record<string, Role>,
          cooldownMs: config.AUTH_JWKS_COOLDOWN * 1000,
          cacheMaxAgeMs: config.AUTH_JWKS_CACHE_MAX_AGE * 1000,
          timeoutMs: 5_000,
        }
      : undefined,
  };
}
