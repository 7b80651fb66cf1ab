import type { Caller } from '@logserver/shared/integrity/self-audit';
import type { FastifyRequest } from 'fastify';

/** Who made the request, for the audit record: the token's tenant and subject, the peer and its agent. */
export function callerOf(request: FastifyRequest): Caller {
  return {
    tenant: request.identity.tenant,
    sub: request.identity.sub,
    ip: request.ip ?? null,
    userAgent: request.headers['user-agent'] ?? null,
  };
}

/** The query parameters exactly as the client sent them (after validation, so none is a token). */
export function queryAsGiven(url: string): Record<string, string> {
  return Object.fromEntries(new URL(url, 'http://local').searchParams);
}
