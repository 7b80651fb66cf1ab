import rateLimit from '@fastify/rate-limit';
import { RateLimited } from '@logserver/shared/errors/catalogue';
import type { FastifyInstance } from 'fastify';

export interface TenantRateLimit {
  /** Requests one tenant may make per window; 0 turns the limit off. */
  perTenant: number;
  windowSeconds: number;
}

/** 10 000 requests a second sustained, bursts up to 100 000: see the README's "Rate limiting". */
export const DEFAULT_RATE_LIMIT: TenantRateLimit = { perTenant: 100_000, windowSeconds: 10 };

/**
 * Limits requests per tenant, counted across every role and token of that tenant. The key is the
 * verified identity, never a header or an unverified claim: the limiter runs in `preParsing`,
 * which Fastify runs after every `onRequest` hook, the auth hook included, and before the body
 * is read. A request that fails auth is refused before it is counted, so a stranger cannot use
 * up a tenant's allowance.
 */
export async function registerTenantRateLimit(app: FastifyInstance, limit: TenantRateLimit): Promise<void> {
  if (limit.perTenant === 0) return;
  await app.register(rateLimit, {
    max: limit.perTenant,
    timeWindow: limit.windowSeconds * 1000,
    hook: 'preParsing',
    keyGenerator: (request) => (request.identity ? `tenant:${request.identity.tenant}` : `ip:${request.ip}`),
    errorResponseBuilder: (_request, context) => new RateLimited(Math.max(1, Math.ceil(context.ttl / 1000))),
  });
}
