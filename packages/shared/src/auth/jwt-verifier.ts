import { createHash } from 'node:crypto';
import { decodeJwt, jwtVerify, SignJWT } from 'jose';
import { LRUCache } from 'lru-cache';
import { Unauthorized } from '../errors/catalogue.js';
import { type Identity, IdentityClaims, type Role } from './identity.js';
import { deriveTenantKey, type KeyScheme } from './tenant-key.js';

export interface JwtSettings {
  secret: string;
  scheme: KeyScheme;
  audience: string;
  issuer: string;
  requireExp: boolean;
}

export interface JwtVerifier {
  /** Resolves the token's identity; rejects with a 401 catalogue error for any problem, never anything else. */
  verify(token: string): Promise<Identity>;
}

const ALGORITHMS = ['HS256'];
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

const cacheKey = (token: string): string => createHash('sha256').update(token).digest('base64url');

/**
 * Verifies HS256 tokens against the tenant's derived key. Verified tokens are cached until
 * their exp (bounded in count), because verification costs more than the rest of a request.
 */
export function createJwtVerifier(settings: JwtSettings): JwtVerifier {
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

  return {
    async verify(token) {
      if (token.length > MAX_TOKEN_LENGTH) throw new Unauthorized();
      const key = cacheKey(token);
      const cached = verified.get(key);
      if (cached) {
        if (cached.exp === undefined || cached.exp * 1000 > Date.now()) return cached;
        verified.delete(key);
      }
      try {
        // The tenant claim picks the key, so it is read before the signature is checked;
        // nothing else from the unverified payload is used.
        const unverified = decodeJwt(token);
        const tenant = IdentityClaims.shape.tenant.safeParse(unverified.tenant);
        if (!tenant.success) throw new Unauthorized();
        const { payload } = await jwtVerify(token, keyFor(tenant.data), {
          algorithms: ALGORITHMS,
          audience: settings.audience,
          issuer: settings.issuer,
          requiredClaims: settings.requireExp ? ['exp'] : [],
        });
        const claims = IdentityClaims.safeParse(payload);
        if (!claims.success) throw new Unauthorized();
        const identity: Identity = { ...claims.data, exp: payload.exp };
        const ttl = identity.exp === undefined ? NO_EXP_CACHE_MS : Math.min(identity.exp * 1000 - Date.now(), 3_600_000);
        if (ttl > 0) verified.set(key, identity, { ttl });
        return identity;
      } catch {
        // Malformed, forged, expired or mis-addressed: the caller learns only that it is not accepted.
        throw new Unauthorized();
      }
    },
  };
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
