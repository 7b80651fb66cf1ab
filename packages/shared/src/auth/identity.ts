import { z } from 'zod';
import { isWellFormedText } from '../schemas/log-event.js';
import { TENANT_KEY_PATTERN } from '../schemas/tenant.js';

export const ROLES = ['admin', 'auditor', 'viewer', 'writer'] as const;
export const Role = z.enum(ROLES);
export type Role = z.infer<typeof Role>;

/** Who a request acts as. Built only from a verified token or from the gateway's headers. */
export interface Identity {
  sub: string;
  tenant: string;
  role: Role;
  /** Seconds since the epoch when the token stops being valid; undefined when it has no exp. */
  exp?: number | undefined;
}

export const IdentityClaims = z.object({
  // The subject becomes each event's user_id column, so it must be text the store can keep as sent.
  sub: z.string().min(1).max(256).refine(isWellFormedText),
  tenant: z.string().min(1).max(64).regex(TENANT_KEY_PATTERN),
  role: Role,
});

/**
 * The headers ingress-nginx copies from the auth response onto the upstream request
 * (`auth-response-headers`). `x-auth-exp` is the token's exp, so that the stream can close when it
 * passes; `x-auth-signature` proves the others came from the auth service (GATEWAY_SECRET, gateway-signature.ts).
 */
export const AUTH_HEADERS = {
  sub: 'x-auth-sub',
  tenant: 'x-auth-tenant',
  role: 'x-auth-role',
  exp: 'x-auth-exp',
  signature: 'x-auth-signature',
} as const;

/**
 * A subject is any text up to 256 characters (李雷, an emoji, a newline, a leading space), but a
 * header value is Latin-1 without control characters, and proxies trim it: raw, `José` arrived as
 * `JosÃ©`, `李雷` made the auth service throw, `" padded "` lost its spaces. So the auth service
 * percent-encodes x-auth-sub (UTF-8) and the services decode it: both topologies store the same subject.
 * Only what a header cannot carry as it is gets encoded (space, controls, non-ASCII) and `%` itself,
 * so `alice@example.com` stays readable in the gateway's logs.
 */
export const encodeSubjectHeader = (sub: string): string => sub.replace(/[^\x21-\x24\x26-\x7e]/gu, (char) => encodeURIComponent(char));

/** The subject from x-auth-sub, or undefined when it is not valid percent-encoded UTF-8 (a broken gateway). */
export function decodeSubjectHeader(value: unknown): string | undefined {
  if (typeof value !== 'string') return undefined;
  try {
    return decodeURIComponent(value);
  } catch {
    return undefined;
  }
}
