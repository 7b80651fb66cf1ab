import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Forbidden } from '../errors/catalogue.js';
import { isCredentialName, rawParameters } from '../http/query-names.js';
import { hasValidIdentitySignature } from './gateway-signature.js';
import { AUTH_HEADERS, decodeSubjectHeader, type Identity, IdentityClaims } from './identity.js';
import type { JwtVerifier } from './jwt-verifier.js';
import { isAllowed, QUERY_TOKEN_PATHS } from './rbac.js';
import { rejected } from './token-errors.js';
import { NO_TOKEN, NOT_BEARER, type TokenRefusal, unauthorized } from './token-refusal.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by the auth hook on every /api/v1 route before the handler runs. */
    identity: Identity;
  }
}

/** Resolves who a request acts as, or throws Unauthorized (token-refusal.ts says why). */
export type IdentityResolver = (request: FastifyRequest) => Promise<Identity>;

/**
 * The bearer token, or for the stream only (WebSocket and SSE), `?token=`: browsers cannot set
 * headers on a WebSocket or an EventSource, and keeping query tokens off every other route keeps
 * them out of access logs.
 */
export function tokenFrom(authorization: string | undefined, path: string, rawQuery: string): string | undefined {
  const bearer = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? '');
  if (bearer) return bearer[1];
  if (QUERY_TOKEN_PATHS.includes(path.replace(/\/+$/, ''))) return queryToken(rawQuery);
  return undefined;
}

/**
 * `?token=` only as exactly one parameter spelled `token`: a second one, or one whose name is
 * encoded (`%74oken`), is no token at all (401), so every reader of the URL sees the same credential.
 */
export function queryToken(rawQuery: string): string | undefined {
  const tokens = rawParameters(rawQuery).filter(({ name }) => isCredentialName(name));
  const [only] = tokens;
  if (tokens.length !== 1 || only?.rawName !== 'token') return undefined;
  try {
    return decodeURIComponent(only.value.replace(/\+/g, ' ')) || undefined;
  } catch {
    return undefined;
  }
}

/** No usable token: none was sent, or the Authorization header holds something other than a bearer token. */
export function missingTokenRefusal(authorization: string | undefined): TokenRefusal {
  return authorization === undefined || authorization.trim() === '' ? NO_TOKEN : NOT_BEARER;
}

/** All-in-one: verify the token in-process, on the same verifier the auth service uses. */
export function verifiedIdentity(verifier: JwtVerifier): IdentityResolver {
  return async (request) => {
    // Split by hand rather than `new URL()`: a WHATWG URL parse on every request showed in the
    // benchmark's profile, and only the path and the query string are needed.
    const at = request.url.indexOf('?');
    const path = at === -1 ? request.url : request.url.slice(0, at);
    const token = tokenFrom(request.headers.authorization, path, at === -1 ? '' : request.url.slice(at + 1));
    if (!token) throw unauthorized(missingTokenRefusal(request.headers.authorization));
    return verifier.verify(token);
  };
}

/** A request that reached a service without the gateway's verified identity (no or broken x-auth-* headers). */
const GATEWAY_WITHOUT_IDENTITY: TokenRefusal = {
  reason: 'no verified identity from the gateway: send requests through it with a bearer token',
};

/**
 * Behind the gateway: ingress-nginx answered the auth subrequest and overwrote the x-auth-*
 * headers with the auth service's answer. Only the gateway can reach the services (NetworkPolicy);
 * with `gatewaySecret` (GATEWAY_SECRET) the headers must also carry the auth service's signature,
 * so a request that did not come through the gateway is a 401 whatever headers it sends.
 */
export function gatewayIdentity(gatewaySecret?: string | undefined): IdentityResolver {
  return async (request) => {
    if (gatewaySecret !== undefined && !hasValidIdentitySignature(gatewaySecret, request.headers))
      throw rejected('identity headers not signed by the gateway (x-auth-signature)');
    const claims = IdentityClaims.safeParse({
      sub: decodeSubjectHeader(request.headers[AUTH_HEADERS.sub]),
      tenant: request.headers[AUTH_HEADERS.tenant],
      role: request.headers[AUTH_HEADERS.role],
    });
    if (!claims.success) throw unauthorized(GATEWAY_WITHOUT_IDENTITY);
    const exp = request.headers[AUTH_HEADERS.exp];
    // Absent or empty: the token had no exp. Anything else that is not a whole number is a broken gateway.
    if (exp === undefined || exp === '') return claims.data;
    if (typeof exp !== 'string' || !/^\d{1,12}$/.test(exp)) throw unauthorized(GATEWAY_WITHOUT_IDENTITY);
    return { ...claims.data, exp: Number(exp) };
  };
}

/**
 * Authenticates and authorizes every route of this plugin by the audience its options declare
 * (`config.audience`), before the body is read. Routes without one (health, docs) stay public;
 * createServer refuses an /api/ route without one.
 */
export function requireAuth(app: FastifyInstance, resolve: IdentityResolver, adminTenant: string): void {
  app.decorateRequest('identity', null as unknown as Identity);
  app.addHook('onRequest', async (request) => {
    const who = request.routeOptions.config.audience;
    if (who === undefined) return;
    const identity = await resolve(request);
    if (!isAllowed(who, identity, adminTenant)) throw new Forbidden(identity.role, request.method, request.routeOptions.url ?? request.url);
    request.identity = identity;
  });
}
