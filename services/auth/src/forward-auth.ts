import type { Identity } from '@logserver/shared/auth/identity';
import { findRule, isAllowed } from '@logserver/shared/auth/rbac';
import { tokenFrom } from '@logserver/shared/auth/request-auth';
import { rejectionReason } from '@logserver/shared/auth/token-errors';

/** What ingress-nginx tells the auth service about the request it is deciding on. */
export interface OriginalRequest {
  method: string;
  path: string;
  /** The raw query string, without `?`. */
  query: string;
  authorization: string | undefined;
  /** Why the original URL cannot be decided on (a separator hidden in an escape, a backslash): refused. */
  malformed?: string | undefined;
}

/**
 * The path as nginx routes it ($uri): escapes decoded, `.` and `..` resolved, slashes merged. The
 * decision must be on the path nginx sends the request to, or `/api/v1/logs/%65xport` is judged
 * as `/logs/:id` and served as the export. Undefined when a segment is not valid percent-encoding.
 */
export function normalisedPath(rawPath: string): string | undefined {
  let decoded: string;
  try {
    decoded = decodeURIComponent(rawPath);
  } catch {
    return undefined;
  }
  const segments: string[] = [];
  for (const segment of decoded.split('/')) {
    if (segment === '' || segment === '.') continue;
    if (segment === '..') segments.pop();
    else segments.push(segment);
  }
  return `/${segments.join('/')}${decoded.endsWith('/') && segments.length > 0 ? '/' : ''}`;
}

/** Separators that routing and deciding may read differently: refused rather than guessed. */
const AMBIGUOUS = /\\|%2f|%5c|%00/i;

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
  const method = (first('x-original-method') ?? fallbackMethod).toUpperCase();
  const authorization = first('authorization');
  // Only the path and query are read, never the authority: with `Host: h\api\v1\logs\stream?`
  // a URL parser took the client's Host header for the path and accepted a query token elsewhere.
  const parts = /^(?:[a-z][a-z0-9+.-]*:\/\/[^/?#\\]*)?(\/[^?#]*)(?:\?([^#]*))?(?:#.*)?$/i.exec(raw);
  const refuse = (malformed: string): OriginalRequest => ({ method, path: '/', query: '', authorization, malformed });
  if (!parts) return refuse('the original URL is not a path');
  const rawPath = parts[1] ?? '/';
  if (AMBIGUOUS.test(rawPath)) return refuse('the path holds a backslash or an encoded separator');
  // The compose gateway sends nginx's own $uri; ingress-nginx only the raw URL, normalised here the same way.
  const given = first('x-original-path');
  const path = given ?? normalisedPath(rawPath);
  if (path === undefined || path.includes('\\')) return refuse('the path is not valid percent-encoding');
  return { method, path, query: parts[2] ?? '', authorization };
}

export const MISSING_TOKEN = 'missing bearer token';

/** The forward-auth decision as a plain function: which token, whose identity, and whether the role may. */
export async function decide(
  request: OriginalRequest,
  verify: (token: string) => Promise<Identity>,
  adminTenant: string,
): Promise<Decision> {
  if (request.malformed) return { status: 403, reason: request.malformed };
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
