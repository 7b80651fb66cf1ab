import type { Identity, Role } from './identity.js';
import { ROUTE_RULES } from './route-rules.js';

/** Who may call a route: tenant roles, or the platform admin (role admin in AUTH_ADMIN_TENANT). */
export type Audience = readonly Role[] | 'platform-admin';

declare module 'fastify' {
  interface FastifyContextConfig {
    /**
     * Who may call this route (docs/auth.md). Every /api/ route must say it: createServer refuses
     * to start an app with an /api/ route that does not. Routes without one are public.
     */
    audience?: Audience;
  }
}

export const READERS: Audience = ['viewer', 'auditor', 'admin'];
export const WRITERS: Audience = ['writer', 'admin'];
export const AUDITORS: Audience = ['auditor', 'admin'];
export const ADMINS: Audience = ['admin'];
export const EVERY_ROLE: Audience = ['writer', 'viewer', 'auditor', 'admin'];
export const PLATFORM_ADMIN: Audience = 'platform-admin';

export const STREAM_PATH = '/api/v1/logs/stream';
/** The same stream as Server-Sent Events (STREAM_PATH also serves it to `Accept: text/event-stream`). */
export const EVENTS_PATH = '/api/v1/logs/events';
/** Paths that take `?token=`: browsers can set no header on a WebSocket or an EventSource. */
export const QUERY_TOKEN_PATHS: readonly string[] = [STREAM_PATH, EVENTS_PATH];

export interface RouteRule {
  method: string;
  /** Path pattern with `:param` segments, as Fastify writes it. */
  path: string;
  who: Audience;
}

export { ROUTE_RULES };

/** Paths that must declare an audience: the API. Everything else is public and listed in docs/auth.md. */
export function isApiPath(path: string): boolean {
  return path === '/api' || path.startsWith('/api/');
}

function matches(pattern: string, path: string): boolean {
  const want = pattern.split('/');
  const have = path.split('/');
  if (want.length !== have.length) return false;
  return want.every((segment, index) => (segment.startsWith(':') ? (have[index] ?? '') !== '' : segment === have[index]));
}

/**
 * The rule for a request, or undefined when no route of ours has that method and path. The table
 * lists literal paths before `:id` ones, so that `/logs/stats` never matches `/logs/:id`.
 */
export function findRule(method: string, path: string, rules: readonly RouteRule[] = ROUTE_RULES): RouteRule | undefined {
  const verb = method === 'HEAD' ? 'GET' : method.toUpperCase();
  const clean = path.split('?')[0]?.replace(/\/+$/, '') || '/';
  return rules.find((rule) => rule.method === verb && matches(rule.path, clean));
}

export function isAllowed(who: Audience, identity: Identity, adminTenant: string): boolean {
  if (who === 'platform-admin') return identity.role === 'admin' && identity.tenant === adminTenant;
  return who.includes(identity.role);
}

const paramCount = (path: string) => path.split('/').filter((segment) => segment.startsWith(':')).length;

/** The role table in the order findRule needs: fewer `:param` segments first, then by path and method. */
export function sortRules(rules: readonly RouteRule[]): RouteRule[] {
  return [...rules].sort(
    (a, b) => paramCount(a.path) - paramCount(b.path) || a.path.localeCompare(b.path) || a.method.localeCompare(b.method),
  );
}
