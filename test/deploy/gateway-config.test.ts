import { readFileSync } from 'node:fs';
import { AUTH_HEADERS } from '@logserver/shared/auth/identity';
import { ROUTE_RULES } from '@logserver/shared/auth/rbac';
import { describe, expect, it } from 'vitest';
import { COMPOSE_GATEWAY, gatewayLocations, renderGatewayConf } from '../../scripts/deploy/gateway-routes.js';
import { kustomize } from '../../scripts/deploy/kustomize.js';
import { GATEWAY_CONF_PATH } from '../../scripts/render-gateway.js';
import { nginxTest, REPO_ROOT } from '../gateway/topology.js';

const committed = readFileSync(GATEWAY_CONF_PATH, 'utf8');
const ingress = kustomize(`${REPO_ROOT}k8s/base`).find((object) => object.kind === 'Ingress');
const ingressPaths: { path: string; pathType: 'Prefix' | 'Exact'; service: string }[] = ingress?.spec.rules[0].http.paths.map(
  (entry: { path: string; pathType: 'Prefix' | 'Exact'; backend: { service: { name: string } } }) => ({
    path: entry.path,
    pathType: entry.pathType,
    service: entry.backend.service.name,
  }),
);

/** The Service ingress-nginx picks for a request path: the longest matching Exact or Prefix (by whole segments). */
function ingressServiceFor(path: string): string | undefined {
  const matching = ingressPaths.filter(({ path: rule, pathType }) =>
    pathType === 'Exact' ? path === rule : path === rule || path.startsWith(`${rule.replace(/\/$/, '')}/`),
  );
  return matching.sort((a, b) => b.path.length - a.path.length)[0]?.service;
}

/** A concrete request path for a matrix pattern (`/api/v1/logs/:id` -> `/api/v1/logs/some-id`). */
const sample = (pattern: string) => pattern.replace(/:[^/]+/g, 'some-id');

/** The location of the rendered nginx conf that serves a path, the way nginx chooses: exact first, then regexes in order. */
function gatewayServiceFor(path: string): string | undefined {
  const locations = gatewayLocations();
  const exact = locations.find((location) => location.match === `= ${path}`);
  if (exact) return exact.service;
  return locations.find((location) => location.match.startsWith('~ ') && new RegExp(location.match.slice(2)).test(path))?.service;
}

describe('the gateway config (deploy/nginx/gateway.conf)', () => {
  it('is exactly what `pnpm render:gateway` renders from the role matrix', () => {
    expect(committed).toBe(renderGatewayConf(COMPOSE_GATEWAY));
  });

  it('is accepted by `nginx -t`', async () => {
    expect(await nginxTest(GATEWAY_CONF_PATH)).toMatch(/test is successful/);
  });

  it('sends every route of the matrix to the service the Ingress sends it to', () => {
    for (const rule of ROUTE_RULES) {
      const path = sample(rule.path);
      expect(gatewayServiceFor(path), `${rule.method} ${rule.path} at the gateway`).toBeDefined();
      expect(gatewayServiceFor(path), `${rule.method} ${rule.path}`).toBe(ingressServiceFor(path));
    }
  });

  it('covers every Ingress path with a gateway location for the same service', () => {
    expect(ingressPaths.length).toBeGreaterThan(0);
    for (const { path, service } of ingressPaths) expect(gatewayServiceFor(path), path).toBe(service);
  });

  it('asks the auth service on every API location and overwrites each x-auth-* header from its answer', () => {
    const locations = [...committed.matchAll(/location (?:= |~ )(\S+) \{[^}]*\}/g)]
      .filter(([, path]) => path !== '/_auth')
      .map(([block]) => block);
    expect(locations).toHaveLength(gatewayLocations().length);
    for (const block of locations) {
      expect(block).toContain('auth_request /_auth;');
      for (const header of Object.values(AUTH_HEADERS)) {
        const variable = header.replace(/^x-/, '').replace(/-/g, '_');
        expect(block).toContain(`auth_request_set $${variable} $upstream_http_${header.replace(/-/g, '_')};`);
        expect(block).toContain(`proxy_set_header ${header} $${variable};`);
      }
    }
    expect(committed).toMatch(
      /location = \/api\/v1\/logs\/stream \{[^}]*proxy_set_header Connection \$connection_upgrade;[^}]*proxy_read_timeout/,
    );
  });
});
