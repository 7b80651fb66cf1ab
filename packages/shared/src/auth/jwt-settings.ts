import type { FastifyBaseLogger } from 'fastify';
import type { Role } from './identity.js';
import type { JwtSettings } from './jwt-verifier.js';
import type { KeyScheme } from './tenant-key.js';

export interface AuthEnv {
  AUTH_AUDIENCE: string;
  AUTH_ISSUER: string;
  AUTH_KEY_SCHEME: KeyScheme;
  AUTH_REQUIRE_EXP: boolean;
  AUTH_JWKS_URL?: string | undefined;
  AUTH_JWKS_ISSUER?: string | undefined;
  AUTH_JWKS_AUDIENCE?: string | undefined;
  AUTH_TENANT_CLAIM: string;
  AUTH_ROLE_CLAIM: string;
  AUTH_TENANT_MAP: Record<string, string>;
  AUTH_ROLE_MAP: Record<string, string>;
  AUTH_JWKS_COOLDOWN: number;
  AUTH_JWKS_CACHE_MAX_AGE: number;
}

/**
 * The JWT settings from the auth config fragment, built once for every service that verifies
 * tokens or hands out tenant keys, so the auth service and the all-in-one accept the same tokens
 * (HS256 tenant tokens, and an identity provider's when AUTH_JWKS_URL is set); warns when the
 * keys are the Python system's md5 ones.
 */
export function jwtSettings(config: AuthEnv, secret: string, log: Pick<FastifyBaseLogger, 'warn'>): JwtSettings {
  if (config.AUTH_KEY_SCHEME === 'md5-legacy') {
    log.warn('AUTH_KEY_SCHEME=md5-legacy: tenant keys are md5(tenant + secret), as the Python system made them. Migrate to hmac-sha256.');
  }
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
          // The config schema admits only role names as map values.
          roleMap: config.AUTH_ROLE_MAP as Record<string, Role>,
          cooldownMs: config.AUTH_JWKS_COOLDOWN * 1000,
          cacheMaxAgeMs: config.AUTH_JWKS_CACHE_MAX_AGE * 1000,
          timeoutMs: 5_000,
        }
      : undefined,
  };
}
