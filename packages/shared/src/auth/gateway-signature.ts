import { createHmac, timingSafeEqual } from 'node:crypto';
import { AUTH_HEADERS } from './identity.js';

/**
 * GATEWAY_SECRET: the auth service signs the identity headers it answers with, nginx copies the
 * signature onto the upstream request with the identity, and the log and tenant services accept
 * x-auth-* only with a valid signature. Without it, anyone who reached a service directly (a pod
 * beside it, a mistaken port) could send `x-auth-tenant: system` and `x-auth-role: admin`.
 *
 * The signature covers the four header values exactly as sent (the subject percent-encoded), so
 * changing any of them, or dropping exp, breaks it. It does not cover the request: a signature is
 * as good as the token it was made from, for as long as that token's exp.
 */
const CONTEXT = 'logserver-gateway-identity-v1';

type Headers = Record<string, string | string[] | undefined>;

const headerText = (value: string | string[] | undefined): string | undefined => (typeof value === 'string' ? value : undefined);

function signatureOver(secret: string, headers: { sub: string; tenant: string; role: string; exp: string }): Buffer {
  return createHmac('sha256', secret).update([CONTEXT, headers.sub, headers.tenant, headers.role, headers.exp].join('\n')).digest();
}

/** The x-auth-signature value for identity headers as the auth service sends them (exp '' when the token has none). */
export function signIdentityHeaders(secret: string, headers: { sub: string; tenant: string; role: string; exp: string }): string {
  return signatureOver(secret, headers).toString('base64url');
}

/** Said once at start by a service running without GATEWAY_SECRET. */
export function warnUnsignedGateway(log: { warn: (message: string) => void }, consequence: string): void {
  log.warn(
    `GATEWAY_SECRET is not set: ${consequence}, so only the network (NetworkPolicy) keeps clients from reaching this service with forged x-auth-* headers`,
  );
}

/** Whether the request's x-auth-* headers carry a valid signature made with `secret`. */
export function hasValidIdentitySignature(secret: string, headers: Headers): boolean {
  const sub = headerText(headers[AUTH_HEADERS.sub]);
  const tenant = headerText(headers[AUTH_HEADERS.tenant]);
  const role = headerText(headers[AUTH_HEADERS.role]);
  const signature = headerText(headers[AUTH_HEADERS.signature]);
  if (sub === undefined || tenant === undefined || role === undefined || signature === undefined) return false;
  const expected = signatureOver(secret, { sub, tenant, role, exp: headerText(headers[AUTH_HEADERS.exp]) ?? '' });
  const given = Buffer.from(signature, 'base64url');
  return given.length === expected.length && timingSafeEqual(given, expected);
}
