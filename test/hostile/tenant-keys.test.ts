import { mintToken } from '@logserver/shared/auth/jwt-verifier';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, type RunningServer, startAllInOne } from '../support/all-in-one.js';
import { expectEnvelope } from './hostile-support.js';

// Issue 13, item 5: tokens were honoured for any tenant key, so "creating" tenant `system` returned
// the platform's own signing key, and creating a tenant that already had events returned its key.

const event = { action: 'user.login', resource_type: 'user' };

describe('tenant creation never hands out a key already in use', () => {
  let server: RunningServer;
  beforeAll(async () => {
    // Off here, so that a tenant can have events before anyone registered it (a migration, or an old server).
    server = await startAllInOne({ AUTH_REQUIRE_REGISTERED_TENANT: 'false' });
  });
  afterAll(() => server.close());

  it('refuses the platform tenant’s key with 409 and no secret', async () => {
    const platform = await server.token('system', 'admin');
    const response = await call(`${server.url}/api/v1/tenants`, { token: platform, body: { key: 'system', name: 'mine now' } });
    expectEnvelope(response, 409);
    expect(response.body.msg).toMatch(/reserved/);
    expect(response.text).not.toMatch(/[0-9a-f]{64}/);
  });

  it('refuses a key that already has events with 409 and no secret', async () => {
    const writer = await mintToken({ ...server.auth, tenant: 'ghost', role: 'writer', sub: 'w', ttlSeconds: 600 });
    expect((await call(`${server.url}/api/v1/logs`, { token: writer, body: event })).status).toBe(200);
    const platform = await server.token('system', 'admin');
    const response = await call(`${server.url}/api/v1/tenants`, { token: platform, body: { key: 'ghost', name: 'Ghost' } });
    expectEnvelope(response, 409);
    expect(response.body.msg).toMatch(/in use/);
    expect(response.text).not.toMatch(/[0-9a-f]{64}/);
    const fresh = await call(`${server.url}/api/v1/tenants`, { token: platform, body: { key: 'fresh', name: 'Fresh' } });
    expect(fresh.status, fresh.text).toBe(200);
    expect(fresh.body.data.secret).toMatch(/^[0-9a-f]{64}$/);
  });
});

describe('AUTH_REQUIRE_REGISTERED_TENANT (on by default)', () => {
  let server: RunningServer;
  beforeAll(async () => {
    server = await startAllInOne();
  });
  afterAll(() => server.close());

  it('refuses a correctly signed token of a tenant nobody created with 401, and accepts it once the tenant exists', async () => {
    const writer = await mintToken({ ...server.auth, tenant: 'unborn', role: 'writer', sub: 'w', ttlSeconds: 600 });
    const viewer = await mintToken({ ...server.auth, tenant: 'unborn', role: 'viewer', sub: 'v', ttlSeconds: 600 });
    expectEnvelope(await call(`${server.url}/api/v1/logs`, { token: writer, body: event }), 401);
    const refused = await call(`${server.url}/api/v1/logs`, { token: viewer });
    expectEnvelope(refused, 401);
    expect(refused.body.msg).toBe('Unauthorized: the tenant of the token does not exist (POST /api/v1/tenants creates it)');
    expect(refused.headers.get('www-authenticate')).toBe(
      'Bearer realm="logserver", error="invalid_token", error_description="the tenant of the token does not exist (POST /api/v1/tenants creates it)"',
    );
    const platform = await mintToken({ ...server.auth, tenant: 'system', role: 'admin', sub: 'ops', ttlSeconds: 600 });
    const created = await call(`${server.url}/api/v1/tenants`, { token: platform, body: { key: 'unborn', name: 'Unborn' } });
    expect(created.status, created.text).toBe(200);
    expect((await call(`${server.url}/api/v1/logs`, { token: writer, body: event })).status).toBe(200);
    expect((await call(`${server.url}/api/v1/logs`, { token: viewer })).body.data).toHaveLength(1);
  });
  // docs/auth.md, "Tenants that exist": only a valid credential for a tenant learns whether it exists.
  it('answers a token not signed with the tenant key alike for a tenant that exists and one that does not', async () => {
    const forged = { ...server.auth, secret: 'not-the-server-secret-but-long-enough-to-pass' };
    const refusals = [];
    for (const tenant of ['system', 'never-created']) {
      const token = await mintToken({ ...forged, tenant, role: 'viewer', sub: 'probe', ttlSeconds: 600 });
      const response = await call(`${server.url}/api/v1/logs`, { token });
      expectEnvelope(response, 401);
      refusals.push({ msg: response.body.msg, challenge: response.headers.get('www-authenticate') });
    }
    expect(refusals[0]?.msg).toMatch(/signature/);
    expect(refusals[1]).toEqual(refusals[0]);
  });
});
