import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, type RunningServer, startAllInOne } from '../../../test/support/all-in-one.js';

let server: RunningServer;
beforeAll(async () => {
  server = await startAllInOne();
});
afterAll(() => server.close());

describe('a tenant never sees another tenant’s events', () => {
  it('by id, in the list and in stats', async () => {
    const writerA = await server.token('tenant-a', 'writer');
    const adminB = await server.token('tenant-b', 'admin');
    const created = await call(`${server.url}/api/v1/logs`, {
      token: writerA,
      body: { action: 'secret-a-action', resource_type: 'user', resource_id: 'a-1', severity: 'CRITICAL' },
    });
    expect(created.status).toBe(200);
    const id = created.body.data.id as string;

    const byId = await call(`${server.url}/api/v1/logs/${id}`, { token: adminB });
    expect(byId.status).toBe(404);
    expect(byId.text).not.toContain('secret-a-action');
    expect(byId.text).not.toContain('tenant-a');

    const list = await call(`${server.url}/api/v1/logs?action=secret-a-action`, { token: adminB });
    expect(list.status).toBe(200);
    expect(list.body.data).toEqual([]);
    expect(list.body.meta.total).toBe(0);

    const stats = await call(`${server.url}/api/v1/logs/stats`, { token: adminB });
    expect(stats.body.data).toEqual({ INFO: 0, WARNING: 0, ERROR: 0, CRITICAL: 0 });

    const viewerA = await server.token('tenant-a', 'viewer');
    expect((await call(`${server.url}/api/v1/logs/${id}`, { token: viewerA })).body.data.action).toBe('secret-a-action');
    expect((await call(`${server.url}/api/v1/logs/stats`, { token: viewerA })).body.data.CRITICAL).toBe(1);
  });

  it('takes tenant and user from the token, never from the body or x-auth headers', async () => {
    const writerA = await server.token('tenant-a', 'writer', { sub: 'alice' });
    const forged = await call(`${server.url}/api/v1/logs`, {
      token: writerA,
      body: { action: 'x', resource_type: 'y', tenant_id: 'tenant-b' },
    });
    expect(forged.status).toBe(422);
    const viaHeaders = await call(`${server.url}/api/v1/logs`, {
      token: writerA,
      headers: { 'x-auth-tenant': 'tenant-b', 'x-auth-sub': 'mallory', 'x-auth-role': 'admin' },
      body: { action: 'x', resource_type: 'y' },
    });
    expect(viaHeaders.status).toBe(200);
    expect(viaHeaders.body.data).toMatchObject({ tenant_id: 'tenant-a', user_id: 'alice' });
  });
});

describe('shutdown', () => {
  it('turns /readyz to 503 once shutdown starts', async () => {
    const other = await startAllInOne();
    expect((await other.app.inject({ url: '/readyz' })).statusCode).toBe(200);
    other.health.startShutdown();
    const during = await call(`${other.url}/readyz`);
    expect(during.status).toBe(503);
    expect(during.body).toMatchObject({ code: 503, msg: 'shutting down' });
    // Everything else keeps serving while the load balancer drains.
    expect((await call(`${other.url}/healthz`)).status).toBe(200);
    await other.close();
  });
});
