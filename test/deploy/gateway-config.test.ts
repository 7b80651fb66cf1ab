import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AUTH_HEADERS } from '@logserver/shared/auth/identity';
import { ROUTE_RULES } from '@logserver/shared/auth/rbac';
import { describe, expect, it } from 'vitest';
import { COMPOSE_GATEWAY, gatewayLocations, PUBLIC_PREFIXES, renderGatewayConf } from '../../scripts/deploy/gateway-routes.js';
import { kustomize } from '../../scripts/deploy/kustomize.js';
import { GATEWAY_CONF_PATH } from '../../scripts/render-gateway.js';
import { nginxTest, REPO_ROOT } from '../gateway/topology.js';

const committed = readFileSync(GATEWAY_CONF_PATH, 'utf8');
type IngressPath = { path: string; pathType: 'Prefix' | 'Exact'; service: string; authenticated: boolean };
const ingressPaths: IngressPath[] = kustomize(`${REPO_ROOT}k8s/base`)
  .filter((object) => object.kind === 'Ingress')
  .flatMap((ingress) =>
    ingress.spec.rules[0].http.paths.map(
      (entry: { path: string; pathType: 'Prefix' | 'Exact'; backend: { service: { name: string } } }) => ({
        path: entry.path,
        pathType: entry.pathType,
        service: entry.backend.service.name,
        authenticated: Boolean(ingress.metadata.annotations?.['nginx.ingress.kubernetes.io/auth-url']),
      }),
    ),
  );

/** The Service ingress-nginx picks for a request path: the longest matching Exact or Prefix (by whole segments). */
function ingressServiceFor(path: string): string | undefined {
  const matching = ingressPaths.filter(({ path: rule, pathType, authenticated }) =>
    authenticated && pathType === 'Exact' ? path === rule : path === rule || path.startsWith(`${rule.replace(/\/$/, '')}/`),
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
    // nginx resolves upstream servers when it reads its config, and the compose names (auth, log,
    // tenant) resolve only on compose's network: the check runs on the same file with them on loopback.
    const names = Object.values(COMPOSE_GATEWAY.upstreams).map((url) => new URL(url).host);
    let onLoopback = committed;
    for (const host of names) onLoopback = onLoopback.replace(`server ${host};`, `server 127.0.0.1:${new URL(`http://${host}`).port};`);
    expect(onLoopback).not.toBe(committed);
    const folder = mkdtempSync(join(tmpdir(), 'logserver-gateway-conf-'));
    try {
      writeFileSync(join(folder, 'gateway.conf'), onLoopback);
      expect(await nginxTest(join(folder, 'gateway.conf'))).toMatch(/test is successful/);
    } finally {
      rmSync(folder, { recursive: true, force: true });
    }
  });

  it('keeps upstream connections alive for every proxied request and every auth subrequest (#15)', () => {
    const upstreams = [...committed.matchAll(/upstream (\w+) \{([^}]*)\}/g)];
    expect(upstreams.map(([, name]) => name).sort()).toEqual(['auth_service', 'log_service', 'tenant_service']);
    for (const [, , body] of upstreams) expect(body).toMatch(/keepalive [1-9]\d*;/);
    // A plain request sends no Connection header upstream (the map gives ''), a WebSocket upgrade sends `upgrade`.
    expect(committed).toMatch(/map \$http_upgrade \$connection_upgrade \{\s*default upgrade;\s*'' '';\s*\}/);
    const locations = [...committed.matchAll(/location (?:= |~ )(\S+) \{([^}]*)\}/g)].filter(([, , body]) => body?.includes('proxy_pass'));
    expect(locations.length).toBe(gatewayLocations().length + PUBLIC_PREFIXES.length + 1);
    for (const [, path, body] of locations) {
      expect(body, path).toMatch(/proxy_pass http:\/\/(auth|log|tenant)_service[/;]/);
      expect(body, path).toContain('proxy_http_version 1.1;');
      expect(body, path).toMatch(/proxy_set_header Connection (""|\$connection_upgrade);/);
    }
    const auth = /location = \/_auth \{([^}]*)\}/.exec(committed)?.[1] ?? '';
    expect(auth).toContain('proxy_set_header Connection "";');
    expect(auth).toContain('proxy_method HEAD;');
  });

  it('sends every route of the matrix to the service the Ingress sends it to', () => {
    for (const rule of ROUTE_RULES) {
      const path = sample(rule.path);
      expect(gatewayServiceFor(path), `${rule.method} ${rule.path} at the gateway`).toBeDefined();
      expect(gatewayServiceFor(path), `${rule.method} ${rule.path}`).toBe(ingressServiceFor(path));
    }
  });

  it('covers every authenticated Ingress path with a gateway location for the same service', () => {
    const authenticated = ingressPaths.filter((entry) => entry.authenticated);
    expect(authenticated.length).toBeGreaterThan(0);
    for (const { path, pathType, service } of authenticated) {
      // A Prefix path is covered when the gateway sends the matrix routes under it to the same service.
      const routes = ROUTE_RULES.map((rule) => sample(rule.path)).filter((route) =>
        pathType === 'Exact' ? route === path : route === path || route.startsWith(`${path}/`),
      );
      expect(routes.length, path).toBeGreaterThan(0);
      for (const route of routes) expect(gatewayServiceFor(route), route).toBe(service);
    }
  });

  it('serves the same public paths as the Ingress without auth-url, and nothing else without auth', () => {
    const open = ingressPaths.filter((entry) => !entry.authenticated);
    expect(open.map(({ path, service }) => ({ prefix: path, service }))).toEqual([...PUBLIC_PREFIXES]);
    for (const { prefix } of PUBLIC_PREFIXES) {
      const block = new RegExp(`location ~ \\^${prefix}\\(/\\|\\$\\) \\{[^}]*\\}`).exec(committed)?.[0] ?? '';
      expect(block).not.toContain('auth_request');
      for (const header of Object.values(AUTH_HEADERS)) expect(block).toContain(`proxy_set_header ${header} "";`);
    }
    const withoutAuth = [...committed.matchAll(/location (?:= |~ )?(\S+) \{([^}]*)\}/g)].filter(
      ([, path, body]) => !body?.includes('auth_request') && !body?.includes('return ') && path !== '/_auth',
    );
    expect(withoutAuth).toHaveLength(PUBLIC_PREFIXES.length);
  });

  it('asks the auth service on every API location and overwrites each x-auth-* header from its answer', () => {
    const locations = [...committed.matchAll(/location (?:= |~ )(\S+) \{[^}]*\}/g)]
      .filter(([, path]) => path !== '/_auth' && !PUBLIC_PREFIXES.some(({ prefix }) => path?.startsWith(`^${prefix}`)))
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
