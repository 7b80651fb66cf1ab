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
 * Verifies HS256 tokens against the tenant's derived key. Verified tokens are cached until
 * their exp (bounded in count), because verification costs more than the rest of a request.
 * `clock` is when "now" is (tests move it instead of sleeping).
 */
export function createJwtVerifier(settings: JwtSettings, clock: { now: () => number } = { now: Date.now }): JwtVerifier {
  const keys = new LRUCache<string, Uint8Array>({ max: 10_000 });
  const verified = new LRUCache<string, Identity>({ max: 50_000, ttlAutopurge: false });
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
      const cached = verified.get(token);
      if (cached) {
        if (cached.exp === undefined || cached.exp * 1000 > clock.now()) return cached;
        verified.delete(token);
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
          currentDate: new Date(clock.now()),
        });
        const claims = IdentityClaims.safeParse(payload);
        if (!claims.success) throw new Unauthorized();
        const identity: Identity = { ...claims.data, exp: payload.exp };
        const ttl = identity.exp === undefined ? NO_EXP_CACHE_MS : Math.min(identity.exp * 1000 - clock.now(), 3_600_000);
        if (ttl > 0) verified.set(token, identity, { ttl });
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
