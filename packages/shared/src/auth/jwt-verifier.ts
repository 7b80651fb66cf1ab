import crypto from 'node:crypto';
// jose's parts one by one: its index also loads JWE, JWK import/export and key generation.
import { decodeProtectedHeader } from 'jose/decode/protected_header';
import { createRemoteJWKSet } from 'jose/jwks/remote';
import { decodeJwt } from 'jose/jwt/decode';
import { SignJWT } from 'jose/jwt/sign';
import { jwtVerify } from 'jose/jwt/verify';
import { LRUCache } from 'lru-cache';
import { type Identity, IdentityClaims, type Role } from './identity.js';
import { type ClaimMapping, identityFromClaims } from './oidc-claims.js';
import { deriveTenantKey, type KeyScheme } from './tenant-key.js';
import { rejected, rejectionReason } from './token-errors.js';

/** An external identity provider (README "OIDC / JWKS"): its keys, its iss/aud, and how its claims map. */
export interface OidcSettings extends ClaimMapping {
  jwksUrl: string;
  issuer: string;
  audience: string;
  /** After a key lookup missed, the JWKS is fetched again at most this often (jose cooldownDuration). */
  cooldownMs: number;
  /** A fetched JWKS is used this long before it is fetched again (jose cacheMaxAge). */
  cacheMaxAgeMs: number;
  timeoutMs: number;
}

export interface JwtSettings {
  secret: string;
  scheme: KeyScheme;
  audience: string;
  issuer: string;
  requireExp: boolean;
  /** Tokens of an external IdP, beside the tenants' HS256 tokens; absent when AUTH_JWKS_URL is unset. */
  oidc?: OidcSettings | undefined;
}

export interface JwtVerifier {
  /** Resolves the token's identity; rejects with a 401 catalogue error for any problem, never anything else. */
  verify(token: string): Promise<Identity>;
}

/** The tenants' own tokens: a shared-secret HMAC, only ever checked against the derived tenant key. */
const TENANT_ALGORITHMS = ['HS256'];
/**
 * An IdP's tokens: public-key signatures only, checked only against the IdP's JWKS. Which path a
 * token takes is decided by its alg before any key is chosen, so an HS256 token "signed" with an
 * IdP's public key meets the tenant key and fails (the key-confusion attack), and `none` is refused.
 */
export const OIDC_ALGORITHMS = ['RS256', 'ES256', 'EdDSA', 'Ed25519'];
/** Tokens without exp (AUTH_REQUIRE_EXP=false) are re-verified at least this often. */
const NO_EXP_CACHE_MS = 60_000;

/**
 * Longest token accepted, in characters. Ours are about 300; an OIDC provider's with many claims a
 * few KiB. Without a bound, 10 000 distinct valid 15.5 KB tokens held 177 MB in the cache.
 */
export const MAX_TOKEN_LENGTH = 4096;

/**
 * The verified-token cache holds at most this many bytes (keys are SHA-256 digests, so a
 * token's length never counts), and at most 50 000 entries, shared by every tenant: a tenant that
 * fills it only makes other tokens verify again, it cannot grow the process.
 */
export const VERIFIED_CACHE_BYTES = 8 * 1024 * 1024;

/** Bytes one cache entry costs, roughly: the 43-character key, the identity's strings, and the map's own overhead. */
const entryBytes = (identity: Identity): number => 2 * (43 + identity.sub.length + identity.tenant.length + identity.role.length) + 200;

// crypto.hash (Node 20.12+) digests in one call, a few µs less per request than a Hash object.
const cacheKey: (token: string) => string =
  typeof crypto.hash === 'function'
    ? (token) => crypto.hash('sha256', token, 'base64url')
    : (token) => crypto.createHash('sha256').update(token).digest('base64url');

/**
 * Verifies HS256 tokens against the tenant's derived key. Verified tokens are cached until
 * their exp (bounded in count), because verification costs more than the rest of a request.
 * `clock` is when "now" is (tests move it instead of sleeping).
 */
export function createJwtVerifier(settings: JwtSettings, clock: { now: () => number } = { now: Date.now }): JwtVerifier {
  const keys = new LRUCache<string, Uint8Array>({ max: 10_000 });
  const verified = new LRUCache<string, Identity>({
    max: 50_000,
    maxSize: VERIFIED_CACHE_BYTES,
    sizeCalculation: entryBytes,
    ttlAutopurge: false,
  });
  const keyFor = (tenant: string): Uint8Array => {
    let key = keys.get(tenant);
    if (!key) {
      key = new TextEncoder().encode(deriveTenantKey(settings.scheme, settings.secret, tenant));
      keys.set(tenant, key);
    }
    return key;
  };
  const oidc = settings.oidc;
  // jose keeps one copy of the IdP's keys per process, refetching on expiry and, at most once per
  // cooldown, when a token names a kid it does not know (the IdP rotated its keys).
  const jwks = oidc
    ? createRemoteJWKSet(new URL(oidc.jwksUrl), {
        cooldownDuration: oidc.cooldownMs,
        cacheMaxAge: oidc.cacheMaxAgeMs,
        timeoutDuration: oidc.timeoutMs,
      })
    : null;
  const requiredClaims = settings.requireExp ? ['exp'] : [];

  async function verifyTenantToken(token: string): Promise<Identity> {
    // The tenant claim picks the key, so it is read before the signature is checked;
    // nothing else from the unverified payload is used.
    const tenant = IdentityClaims.shape.tenant.safeParse(decodeJwt(token).tenant);
    if (!tenant.success) throw rejected('token has no valid tenant claim');
    const { payload } = await jwtVerify(token, keyFor(tenant.data), {
      algorithms: TENANT_ALGORITHMS,
      audience: settings.audience,
      issuer: settings.issuer,
      requiredClaims,
      currentDate: new Date(clock.now()),
    });
    const claims = IdentityClaims.safeParse(payload);
    if (!claims.success) throw rejected(`token has no valid ${String(claims.error.issues[0]?.path[0] ?? 'sub')} claim`);
    return { ...claims.data, exp: payload.exp };
  }

  async function verifyIdpToken(token: string, options: OidcSettings, keySet: NonNullable<typeof jwks>): Promise<Identity> {
    const { payload } = await jwtVerify(token, keySet, {
      algorithms: OIDC_ALGORITHMS,
      audience: options.audience,
      issuer: options.issuer,
      requiredClaims,
      currentDate: new Date(clock.now()),
    });
    return identityFromClaims(payload, options);
  }

  return {
    async verify(token) {
      if (token.length > MAX_TOKEN_LENGTH) throw rejected(`token longer than ${MAX_TOKEN_LENGTH} characters`);
      const key = cacheKey(token);
      const cached = verified.get(key);
      if (cached) {
        if (cached.exp === undefined || cached.exp * 1000 > clock.now()) return cached;
        verified.delete(key);
      }
      try {
        const { alg } = headerOf(token);
        let identity: Identity;
        if (alg !== undefined && TENANT_ALGORITHMS.includes(alg)) identity = await verifyTenantToken(token);
        else if (alg !== undefined && OIDC_ALGORITHMS.includes(alg)) {
          if (!oidc || !jwks) throw rejected(`signing algorithm ${alg} not accepted: no identity provider is configured (AUTH_JWKS_URL)`);
          identity = await verifyIdpToken(token, oidc, jwks);
        } else throw rejected(`signing algorithm ${String(alg ?? 'missing')} not accepted`);
        const ttl = identity.exp === undefined ? NO_EXP_CACHE_MS : Math.min(identity.exp * 1000 - clock.now(), 3_600_000);
        if (ttl > 0) verified.set(key, identity, { ttl });
        return identity;
      } catch (error) {
        // Malformed, forged, expired or mis-addressed: the caller learns which check failed, nothing more.
        throw rejected(rejectionReason(error));
      }
    },
  };
}

function headerOf(token: string): { alg?: string | undefined } {
  try {
    return decodeProtectedHeader(token);
  } catch {
    throw rejected('malformed token');
  }
}

export interface MintOptions extends JwtSettings {
  tenant: string;
  sub: string;
  role: Role;
  /** Lifetime in seconds; undefined mints a token without exp (only for AUTH_REQUIRE_EXP=false). */
  ttlSeconds?: number | undefined;
}

/** Mints a token the verifier accepts: for the all-in-one banner, the mint-token script and tests. */
export async function mintToken(options: MintOptions): Promise<string> {
  const key = new TextEncoder().encode(deriveTenantKey(options.scheme, options.secret, options.tenant));
  let jwt = new SignJWT({ tenant: options.tenant, role: options.role })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setSubject(options.sub)
    .setAudience(options.audience)
    .setIssuer(options.issuer)
    .setIssuedAt();
  if (options.ttlSeconds !== undefined) jwt = jwt.setExpirationTime(Math.floor(Date.now() / 1000) + options.ttlSeconds);
  return jwt.sign(key);
}
