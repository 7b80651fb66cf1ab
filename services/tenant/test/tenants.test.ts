import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gatewayIdentity } from '@logserver/shared/auth/request-auth';
import { deriveTenantKey } from '@logserver/shared/auth/tenant-key';
import { createServer } from '@logserver/shared/http/server';
import { SqliteTenantStore } from '@logserver/shared/sqlite/tenant-store';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildTenantApp } from '../src/app.js';

let app: FastifyInstance;
let url: string;
const SECRET = 'tenant-test-secret-0123456789abcdef';

beforeAll(async () => {
  const tenants = SqliteTenantStore.open(join(mkdtempSync(join(tmpdir(), 'tenant-test-')), 'db.sqlite'));
  app = createServer({ logLevel: 'silent' });
  await app.register(
    buildTenantApp(
      { tenants, identity: gatewayIdentity(), hasEvents: async () => false },
      { adminTenant: 'system', authSecret: SECRET, keyScheme: 'hmac-sha256' },
    ),
  );
  app.addHook('onClose', () => tenants.close());
  url = await app.listen({ port: 0, host: '127.0.0.1' });
});
afterAll(() => app.close());

// Behind the gateway the tenant service reads the identity ingress-nginx set from the auth answer.
const as = (tenant: string, role: string) => ({ 'x-auth-sub': 'ops', 'x-auth-tenant': tenant, 'x-auth-role': role });
const post = (body: unknown, headers = as('system', 'admin')) =>
  fetch(`${url}/api/v1/tenants`, {
    method: 'POST',
    headers: { ...headers, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });

describe('tenant service behind the gateway, over real HTTP', () => {
  it('creates a tenant and shows its derived signing key once', async () => {
    const response = await post({ key: 'acme', name: 'Acme Inc.' });
    expect(response.status).toBe(200);
    const body = (await response.json()) as { data: Record<string, unknown> };
    expect(body.data).toMatchObject({ key: 'acme', name: 'Acme Inc.', secret: deriveTenantKey('hmac-sha256', SECRET, 'acme') });
    expect(Object.keys(body.data).sort()).toEqual(['created_at', 'key', 'name', 'secret']);
  });

  it('lists tenants without secrets', async () => {
    const body = (await (await fetch(`${url}/api/v1/tenants`, { headers: as('system', 'admin') })).json()) as { data: { key: string }[] };
    expect(body.data.map((tenant: { key: string }) => tenant.key)).toContain('acme');
    expect(JSON.stringify(body)).not.toContain(deriveTenantKey('hmac-sha256', SECRET, 'acme'));
    for (const tenant of body.data) expect(tenant).not.toHaveProperty('secret');
  });

  it('answers 409 in the envelope when the key exists', async () => {
    const response = await post({ key: 'acme', name: 'Again' });
    expect(response.status).toBe(409);
    expect(await response.json()).toEqual({ code: 409, msg: 'Tenant acme already exists', data: null });
  });

  it('validates the key and refuses unknown fields with 422', async () => {
    for (const body of [{ key: 'Bad Key', name: 'x' }, { key: 'ok', name: '' }, { key: 'ok2', name: 'x', secret: 'mine' }, {}]) {
      const response = await post(body);
      expect(response.status).toBe(422);
      expect(((await response.json()) as { msg: string }).msg).toBe('Validation error');
    }
  });

  it('refuses an admin of an ordinary tenant with 403 and a request without identity with 401', async () => {
    expect((await post({ key: 'x1', name: 'x' }, as('acme', 'admin'))).status).toBe(403);
    expect((await fetch(`${url}/api/v1/tenants`)).status).toBe(401);
  });
});
