import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { composeLog } from '@logserver/log/compose';
import { LogConfig } from '@logserver/log/config';
import { ROUTE_RULES, type RouteRule, sortRules } from '@logserver/shared/auth/rbac';
import { loadConfig } from '@logserver/shared/config/load-config';
import { generateSigningKeyPem, signingKeyFromPem } from '@logserver/shared/integrity/signing-key';
import { composeTenant } from '@logserver/tenant/compose';
import { TenantConfig } from '@logserver/tenant/config';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ROLE_MATRIX_DOC_PATH,
  ROUTE_RULES_PATH,
  registeredRouteRules,
  renderRoleMatrix,
  renderRouteRules,
  withRoleMatrix,
} from '../../scripts/deploy/route-table.js';

const key = (rule: RouteRule) => `${rule.method} ${rule.path}`;

let registered: RouteRule[];
beforeAll(async () => {
  registered = await registeredRouteRules();
});

describe('the role table (packages/shared/src/auth/route-rules.ts) and the routes the all-in-one server registers', () => {
  it('has a rule, with the same audience, for every registered /api/ route', () => {
    expect(registered.length).toBeGreaterThan(0);
    for (const route of registered) {
      expect(ROUTE_RULES.find((rule) => key(rule) === key(route))?.who, `${key(route)} in the role table`).toEqual(route.who);
    }
  });

  it('has a registered route for every rule', () => {
    for (const rule of ROUTE_RULES) {
      expect(registered.find((route) => key(route) === key(rule))?.who, `${key(rule)} is registered`).toEqual(rule.who);
    }
    expect(ROUTE_RULES.length).toBe(registered.length);
  });

  it('is exactly what `pnpm render:routes` writes, and so is the role matrix in docs/auth.md', () => {
    expect(readFileSync(ROUTE_RULES_PATH, 'utf8')).toBe(renderRouteRules(registered));
    const document = readFileSync(ROLE_MATRIX_DOC_PATH, 'utf8');
    expect(document).toBe(withRoleMatrix(document, renderRoleMatrix(registered)));
    for (const rule of ROUTE_RULES) expect(document).toContain(`\`${key(rule)}\``);
  });
});

describe('the separate log and tenant services', () => {
  const apps: FastifyInstance[] = [];
  const dirs: string[] = [];
  afterAll(async () => {
    for (const app of apps) await app.close();
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });

  it('together register exactly the role table, each route with the same audience', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'logserver-route-table-'));
    dirs.push(dataDir);
    const env = { DATA_DIR: dataDir, LOG_LEVEL: 'silent', AUTH_SECRET: 'route-table' };
    const publicKey = signingKeyFromPem(generateSigningKeyPem()).publicKeyPem;
    const log = await composeLog(loadConfig(LogConfig, { ...env, INTEGRITY_PUBLIC_KEY: publicKey }));
    const tenant = await composeTenant(loadConfig(TenantConfig, env));
    apps.push(log.app, tenant.app);
    await log.app.ready();
    await tenant.app.ready();
    expect(sortRules([...log.app.routeRules, ...tenant.app.routeRules])).toEqual([...ROUTE_RULES]);
  });
});
