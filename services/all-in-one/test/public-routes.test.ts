import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, type RunningServer, startAllInOne } from '../../../test/support/all-in-one.js';

let server: RunningServer;
beforeAll(async () => {
  server = await startAllInOne({ AUTH_ADMIN_TENANT: 'system' });
});
afterAll(() => server.close());

describe('the non-API routes of the all-in-one server (docs/auth.md "Public routes")', () => {
  it('serves health, readiness and the API documents to anyone', async () => {
    for (const path of ['/healthz', '/readyz', '/docs/json']) {
      expect((await call(`${server.url}${path}`)).status, path).toBe(200);
    }
  });

  it('keeps the counts across tenants, /stats and /metrics, to the platform admin', async () => {
    for (const path of ['/stats', '/metrics']) {
      const anonymous = await call(`${server.url}${path}`);
      expect(anonymous.status, `${path} without a token`).toBe(401);
      expect(anonymous.body).toEqual({ code: 401, msg: 'Unauthorized: no bearer token: send Authorization: Bearer <token>', data: null });
      const tenantAdmin = await call(`${server.url}${path}`, { token: await server.token('acme', 'admin') });
      expect(tenantAdmin.status, `${path} as a tenant's admin`).toBe(403);
      const platformAdmin = await call(`${server.url}${path}`, { token: await server.token('system', 'admin') });
      expect(platformAdmin.status, `${path} as the platform admin`).toBe(200);
    }
    const stats = await call(`${server.url}/stats`, { token: await server.token('system', 'admin') });
    expect(stats.body).toMatchObject({ events_stored: expect.any(Number), messages_received: expect.any(Number) });
    const metrics = await call(`${server.url}/metrics`, { token: await server.token('system', 'admin') });
    expect(metrics.text).toMatch(/^# HELP http_requests_total /m);
  });
});
