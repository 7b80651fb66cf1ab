import * as errors from 'jose/errors';
import { TokenRejected } from '../errors/catalogue.js';
import { ROLES } from './identity.js';

/**
 * Why a token was refused, said in the 401's `msg` and in an RFC 6750 `WWW-Authenticate` header.
 * Each reason names only what the caller sent (its own token's claims) and what this server
 * accepts (audience, issuer, algorithm: configuration, not secrets), never anything about a key.
 *
 * The rule on tenants: no reason tells whether a tenant exists to a caller who holds no valid
 * credential for that tenant. Every check before the signature answers the same for every tenant
 * key (each has a derived key, so a wrong one is refused for its signature whether or not the tenant exists).
 * Only UNREGISTERED_TENANT depends on existence, and it is reached only by a token whose signature
 * holds: made with HMAC(AUTH_SECRET, tenant), which nobody but the operator can compute for a
 * tenant that was never created (POST /api/v1/tenants hands a key out only when it creates the
 * tenant), or signed by the deployment's IdP, or behind the gateway headers it signed. Such a caller
 * learns about the one tenant its own credential names, nothing about others (docs/auth.md).
 */
export interface TokenRefusal {
  reason: string;
  /** RFC 6750 §3.1: no error code when no credentials were sent, invalid_request for a malformed header. */
  bearerError?: 'invalid_request' | 'invalid_token';
}

export const NO_TOKEN: TokenRefusal = { reason: 'no bearer token: send Authorization: Bearer <token>' };
export const NOT_BEARER: TokenRefusal = {
  reason: 'the Authorization header is not a bearer token: send Authorization: Bearer <token>',
  bearerError: 'invalid_request',
};

const invalid = (reason: string): TokenRefusal => ({ reason, bearerError: 'invalid_token' });

/** What jose's verify threw, as a reason the caller can act on; settings name what this server accepts. */
export function joseRefusal(error: unknown, accepted: { audience: string; issuer: string }): TokenRefusal {
  if (error instanceof errors.JWTExpired) {
    const exp = typeof error.payload.exp === 'number' ? ` at ${new Date(error.payload.exp * 1000).toISOString()}` : '';
    return invalid(`the token expired${exp}: mint a new one`);
  }
  if (error instanceof errors.JWTClaimValidationFailed) {
    if (error.claim === 'aud') return invalid(`wrong audience: this server accepts aud ${accepted.audience}`);
    if (error.claim === 'iss') return invalid(`wrong issuer: this server accepts iss ${accepted.issuer}`);
    if (error.claim === 'exp' && error.reason === 'missing') return invalid('the token has no exp: this server requires one');
    if (error.claim === 'nbf') return invalid('the token is not valid yet (nbf)');
    return invalid(`the token's ${error.claim} claim is not valid`);
  }
  if (error instanceof errors.JWSSignatureVerificationFailed) {
    return invalid("bad signature: the token is not signed with its tenant's key");
  }
  if (error instanceof errors.JOSEAlgNotAllowed) return invalid('algorithm not accepted: sign with HS256');
  return invalid('malformed token: not a signed JWT');
}

/** After the signature: which of the claims the identity needs is missing or unusable. */
export function claimsRefusal(payload: Record<string, unknown>): TokenRefusal {
  if (typeof payload.role !== 'string' || !(ROLES as readonly string[]).includes(payload.role)) {
    return invalid(`unknown role: use one of ${ROLES.join(', ')}`);
  }
  if (typeof payload.sub !== 'string' || payload.sub === '') return invalid('the token has no sub');
  return invalid('the token sub is not usable (at most 256 characters of text)');
}

export const NO_TENANT: TokenRefusal = invalid('the token has no valid tenant claim ([a-z0-9_-]+)');

/** AUTH_REQUIRE_REGISTERED_TENANT: a valid token of a tenant nobody created (see the rule above). */
export const UNREGISTERED_TENANT: TokenRefusal = invalid('the tenant of the token does not exist (POST /api/v1/tenants creates it)');

/** RFC 6750 §3: error_description is printable ASCII without `"` and `\`. */
function quotable(text: string): string {
  return text.replace(/[^\x20-\x7e]|["\\]/g, "'");
}

/** The `WWW-Authenticate` header value for a refusal (RFC 6750 §3). */
export function bearerChallenge(refusal: TokenRefusal): string {
  const parts = ['realm="logserver"'];
  if (refusal.bearerError) parts.push(`error="${refusal.bearerError}"`, `error_description="${quotable(refusal.reason)}"`);
  return `Bearer ${parts.join(', ')}`;
}

/** The 401 for a refusal: its reason in msg, its challenge for the error handler to send as WWW-Authenticate. */
export function unauthorized(refusal: TokenRefusal): Error & { challenge: string; refusal: TokenRefusal } {
  return Object.assign(new TokenRejected(refusal.reason), { challenge: bearerChallenge(refusal), refusal });
}

/** The refusal a verifier's error carries; anything else (it should not happen) is a plain invalid token. */
export function refusalOf(error: unknown): TokenRefusal {
  const refusal = (error as { refusal?: TokenRefusal } | null)?.refusal;
  return refusal ?? { reason: 'invalid token', bearerError: 'invalid_token' };
}
