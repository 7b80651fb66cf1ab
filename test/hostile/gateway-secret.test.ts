import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { composeAuth } from '@logserver/auth/compose';
import { AuthConfig } from '@logserver/auth/config';
import { composeLog } from '@logserver/log/compose';
import { LogConfig } from '@logserver/log/config';
import { AUTH_HEADERS } from '@logserver/shared/auth/identity';
import { mintToken } from '@logserver/shared/auth/jwt-verifier';
import { loadConfig } from '@logserver/shared/config/load-config';
import { composeTenant } from '@logserver/tenant/compose';
import { TenantConfig } from '@logserver/tenant/config';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// Issue 13, Also: anyone who reached the log or tenant service directly could send
// `x-auth-tenant: system`, `x-auth-role: admin` and be the platform admin. With GATEWAY_SECRET the
// auth service signs its x-auth-* answer, nginx copies the signature with it, and the services
// take x-auth-* only so signed. (The gateway end-to-end test runs it through nginx.)

const SECRET = 'gateway-secret-test-auth-0123456789abcdef';
const GATEWAY_SECRET = 'gateway-secret-test-gateway-0123456789abcdef';
const JWT = { secret: SECRET, scheme: 'hmac-sha256', audience: 'logserver', issuer: 'issuer', requireExp: true } as const;

let dataDir: string;
let auth: FastifyInstance;
let log: FastifyInstance;
let tenant: FastifyInstance;
let unsignedLog: FastifyInstance;
beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'logserver-gateway-secret-'));
  const env = {
    AUTH_SECRET: SECRET,
    GATEWAY_SECRET,
    LOG_LEVEL: 'silent',
    STORE: 'sqlite',
    SQLITE_PATH: join(dataDir, 'logserver.db'),
    DATA_DIR: dataDir,
    QUEUE: 'memory',
    // The tenants here are not created first: this test is about the headers, not about registration.
    AUTH_REQUIRE_REGISTERED_TENANT: 'false',
  };
  auth = (await composeAuth(loadConfig(AuthConfig, env))).app;
  tenant = (await composeTenant(loadConfig(TenantConfig, env))).app;
  log = (await composeLog(loadConfig(LogConfig, env))).app;
  unsignedLog = (await composeLog(loadConfig(LogConfig, { ...env, GATEWAY_SECRET: '' }))).app;
});
afterAll(async () => {
  for (const app of [auth, log, tenant, unsignedLog]) await app?.close();
  rmSync(dataDir, { recursive: true, force: true });
});

/** The x-auth-* headers the auth service answers a token with, as nginx copies them onto the upstream request. */
async function gatewayHeaders(tenantKey: string, role: 'admin' | 'viewer', sub: string): Promise<Record<string, string>> {
  const token = await mintToken({ ...JWT, tenant: tenantKey, role, sub, ttlSeconds: 600 });
  const answer = await auth.inject({
    method: 'GET',
    url: '/auth',
    headers: { authorization: `Bearer ${token}`, 'x-original-method': 'GET', 'x-original-url': 'http://gateway/api/v1/logs' },
  });
  expect(answer.statusCode, answer.body).toBe(200);
  const headers: Record<string, string> = {};
  for (const header of Object.values(AUTH_HEADERS)) {
    const value = answer.headers[header];
    if (typeof value === 'string') headers[header] = value;
  }
  return headers;
}

const forgedPlatformAdmin = { 'x-auth-sub': 'root', 'x-auth-tenant': 'system', 'x-auth-role': 'admin' };

describe('GATEWAY_SECRET: the services take x-auth-* only as the auth service signed them', () => {
  it('the auth service signs its answer: x-auth-signature beside the identity', async () => {
    const headers = await gatewayHeaders('acme', 'viewer', 'José Müller');
    expect(headers).toMatchObject({ 'x-auth-tenant': 'acme', 'x-auth-role': 'viewer', 'x-auth-sub': 'Jos%C3%A9%20M%C3%BCller' });
    expect(headers[AUTH_HEADERS.signature]).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(headers[AUTH_HEADERS.exp]).toMatch(/^\d+$/);
  });

  it('refuses forged platform-admin headers sent straight to the log and tenant services with 401', async () => {
    for (const [app, url] of [
      [log, '/api/v1/logs'],
      [log, '/api/v1/logs/stats'],
      [tenant, '/api/v1/tenants'],
    ] as const) {
      const forged = await app.inject({ method: 'GET', url, headers: forgedPlatformAdmin });
      expect(forged.statusCode, `${url}: ${forged.body}`).toBe(401);
      expect(forged.json()).toMatchObject({
        code: 401,
        msg: 'Unauthorized: identity headers not signed by the gateway (x-auth-signature)',
      });
    }
    const wrongKey = await log.inject({
      method: 'GET',
      url: '/api/v1/logs',
      headers: { ...forgedPlatformAdmin, 'x-auth-signature': 'A'.repeat(43) },
    });
    expect(wrongKey.statusCode).toBe(401);
  });

  it('accepts the auth service’s signed answer, and refuses it with any header changed or dropped', async () => {
    const signed = await gatewayHeaders('acme', 'viewer', 'alice');
    const listed = await log.inject({ method: 'GET', url: '/api/v1/logs', headers: signed });
    expect(listed.statusCode, listed.body).toBe(200);
    const { [AUTH_HEADERS.exp]: _exp, ...withoutExp } = signed;
    for (const [what, headers] of [
      ['another tenant', { ...signed, 'x-auth-tenant': 'globex' }],
      ['another role', { ...signed, 'x-auth-role': 'admin' }],
      ['another subject', { ...signed, 'x-auth-sub': 'mallory' }],
      ['a later exp', { ...signed, 'x-auth-exp': String(Number(signed[AUTH_HEADERS.exp]) + 86_400) }],
      ['no exp', withoutExp],
    ] as const) {
      const changed = await log.inject({ method: 'GET', url: '/api/v1/logs', headers });
      expect(changed.statusCode, what).toBe(401);
    }
    const platform = await gatewayHeaders('system', 'admin', 'ops');
    expect((await tenant.inject({ method: 'GET', url: '/api/v1/tenants', headers: platform })).statusCode).toBe(200);
  });

  it('without GATEWAY_SECRET a service trusts the headers as before (the network must keep others out)', async () => {
    const unsigned = await unsignedLog.inject({
      method: 'GET',
      url: '/api/v1/logs',
      headers: { ...forgedPlatformAdmin, 'x-auth-tenant': 'acme' },
    });
    expect(unsigned.statusCode, unsigned.body).toBe(200);
  });
});
