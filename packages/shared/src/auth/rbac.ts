import type { Identity, Role } from './identity.js';

/** Who may call a route: tenant roles, or the platform admin (role admin in AUTH_ADMIN_TENANT). */
export type Audience = readonly Role[] | 'platform-admin';

export interface RouteRule {
  method: string;
  /** Path pattern with `:param` segments, as Fastify writes it. */
  path: string;
  who: Audience;
}

const READERS: readonly Role[] = ['viewer', 'auditor', 'admin'];
const WRITERS: readonly Role[] = ['writer', 'admin'];
const EVERY_ROLE: readonly Role[] = ['writer', 'viewer', 'auditor', 'admin'];

export const STREAM_PATH = '/api/v1/logs/stream';
/** The same stream as Server-Sent Events (STREAM_PATH also serves it to `Accept: text/event-stream`). */
export const EVENTS_PATH = '/api/v1/logs/events';
/** Paths that take `?token=`: browsers can set no header on a WebSocket or an EventSource. */
export const QUERY_TOKEN_PATHS: readonly string[] = [STREAM_PATH, EVENTS_PATH];

/**
 * The role matrix (README "Roles"). One table serves the forward-auth service, the all-in-one
 * hook and each service's own check, so the gateway and the services can never disagree.
 * Literal paths come before `:id` so that `/logs/stats` never matches `/logs/:id`.
 */
export const ROUTE_RULES: readonly RouteRule[] = [
  { method: 'POST', path: '/api/v1/logs', who: WRITERS },
  { method: 'POST', path: '/api/v1/logs/bulk', who: WRITERS },
  { method: 'GET', path: '/api/v1/logs', who: READERS },
  { method: 'GET', path: '/api/v1/logs/export', who: ['auditor', 'admin'] },
  { method: 'GET', path: '/api/v1/logs/stats', who: READERS },
  { method: 'GET', path: STREAM_PATH, who: READERS },
  { method: 'GET', path: EVENTS_PATH, who: READERS },
  { method: 'DELETE', path: '/api/v1/logs/cleanup', who: ['admin'] },
  { method: 'GET', path: '/api/v1/logs/verify', who: ['auditor', 'admin'] },
  { method: 'GET', path: '/api/v1/logs/:id', who: READERS },
  { method: 'GET', path: '/api/v1/logs/:id/proof', who: READERS },
  { method: 'GET', path: '/api/v1/integrity/public-key', who: EVERY_ROLE },
  { method: 'GET', path: '/api/v1/integrity/digests', who: READERS },
  { method: 'GET', path: '/api/v1/tenants', who: 'platform-admin' },
  { method: 'POST', path: '/api/v1/tenants', who: 'platform-admin' },
];

function matches(pattern: string, path: string): boolean {
  const want = pattern.split('/');
  const have = path.split('/');
  if (want.length !== have.length) return false;
  return want.every((segment, index) => (segment.startsWith(':') ? (have[index] ?? '') !== '' : segment === have[index]));
}

/** The rule for a request, or undefined when no route of ours has that method and path. */
export function findRule(method: string, path: string, rules: readonly RouteRule[] = ROUTE_RULES): RouteRule | undefined {
  const verb = method === 'HEAD' ? 'GET' : method.toUpperCase();
  const clean = path.split('?')[0]?.replace(/\/+$/, '') || '/';
  return rules.find((rule) => rule.method === verb && matches(rule.path, clean));
}

export function isAllowed(rule: RouteRule, identity: Identity, adminTenant: string): boolean {
  if (rule.who === 'platform-admin') return identity.role === 'admin' && identity.tenant === adminTenant;
  return rule.who.includes(identity.role);
}
