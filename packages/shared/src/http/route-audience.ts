import type { FastifyInstance } from 'fastify';
import { isApiPath, type RouteRule } from '../auth/rbac.js';

declare module 'fastify' {
  interface FastifyInstance {
    /** Every /api/ route this app registered, with the audience it declared: the role table's source. */
    routeRules: RouteRule[];
  }
}

/** Thrown while an app registers an /api/ route that does not say who may call it; the app does not start. */
export class MissingAudience extends Error {
  constructor(method: string, url: string) {
    super(
      `${method} ${url} declares no audience: add config: { audience: READERS | WRITERS | ... } to its route options (docs/architecture.md "Routes")`,
    );
    this.name = 'MissingAudience';
  }
}

/**
 * On the root instance, before any service registers: refuses every /api/ route without
 * `config.audience`, so a new route can never be public by accident, and records the rest.
 */
export function requireRouteAudiences(app: FastifyInstance): void {
  const rules: RouteRule[] = [];
  app.decorate('routeRules', rules);
  app.addHook('onRoute', (route) => {
    if (!isApiPath(route.url)) return;
    const methods = [route.method].flat();
    const who = route.config?.audience;
    if (who === undefined) throw new MissingAudience(methods.join(','), route.url);
    // HEAD is Fastify's automatic twin of a GET, and the role table reads HEAD as GET.
    for (const method of methods) if (method !== 'HEAD') rules.push({ method, path: route.url, who });
  });
}
