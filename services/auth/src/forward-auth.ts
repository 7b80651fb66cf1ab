import type { Identity } from '@logserver/shared/auth/identity';
import { findRule, isAllowed } from '@logserver/shared/auth/rbac';
import { tokenFrom } from '@logserver/shared/auth/request-auth';
import { rejectionReason } from '@logserver/shared/auth/token-errors';

/** What ingress-nginx tells the auth service about the request it is deciding on. */
export interface OriginalRequest {
  method: string;
  path: string;
  query: URLSearchParams;
  authorization: string | undefined;
}

export type Decision = { status: 200; identity: Identity } | { status: 401; reason: string } | { status: 403; reason: string };

/**
 * Reads the original method and URL from the headers ingress-nginx sends with its subrequest:
 * X-Original-Method and X-Original-URL (a full URL), or X-Auth-Request-Redirect (a path).
 */
export function originalRequest(headers: Record<string, string | string[] | undefined>, fallbackMethod: string): OriginalRequest {
  const first = (name: string) => {
    const value = headers[name];
    return Array.isArray(value) ? value[0] : value;
  };
  const raw = first('x-original-url') ?? first('x-auth-request-redirect') ?? '/';
  let url: URL;
  try {
    url = new URL(raw, 'http://gateway');
  } catch {
    url = new URL('http://gateway/');
  }
  return {
    method: (first('x-original-method') ?? fallbackMethod).toUpperCase(),
    path: url.pathname,
    query: url.searchParams,
    authorization: first('authorization'),
  };
}

export const MISSING_TOKEN = 'missing bearer token';

/** The forward-auth decision as a plain function: which token, whose identity, and whether the role may. */
export async function decide(
  request: OriginalRequest,
  verify: (token: string) => Promise<Identity>,
  adminTenant: string,
): Promise<Decision> {
  const token = tokenFrom(request.authorization, request.path, request.query);
  if (!token) return { status: 401, reason: MISSING_TOKEN };
  let identity: Identity;
  try {
    identity = await verify(token);
  } catch (error) {
    return { status: 401, reason: rejectionReason(error) };
  }
  const rule = findRule(request.method, request.path);
  // A path no route serves is refused here, so the gateway never forwards traffic nobody authorized.
  if (!rule) return { status: 403, reason: `no route ${request.method} ${request.path}` };
  if (!isAllowed(rule.who, identity, adminTenant))
    return { status: 403, reason: `role ${identity.role} may not ${request.method} ${rule.path}` };
  return { status: 200, identity };
}
