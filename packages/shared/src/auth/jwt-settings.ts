import type { FastifyBaseLogger } from 'fastify';
import type { JwtSettings } from './jwt-verifier.js';
import type { KeyScheme } from './tenant-key.js';

export interface AuthEnv {
  AUTH_AUDIENCE: string;
  AUTH_ISSUER: string;
  AUTH_KEY_SCHEME: KeyScheme;
  AUTH_REQUIRE_EXP: boolean;
}

/**
 * The JWT settings from the auth config fragment, built once for every service that verifies
 * tokens or hands out tenant keys; warns when the keys are the Python system's md5 ones.
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
  };
}
