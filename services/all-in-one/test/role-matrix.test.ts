import { ROLES, type Role } from '@logserver/shared/auth/identity';
import { EVENTS_PATH, ROUTE_RULES, STREAM_PATH } from '@logserver/shared/auth/rbac';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { call, type RunningServer, startAllInOne } from '../../../test/support/all-in-one.js';

let server: RunningServer;
beforeAll(async () => {
  server = await startAllInOne({ AUTH_ADMIN_TENANT: 'system' });
});
afterAll(() => server.close());

type Caller = { label: string; tenant: string; role: Role };
const callers: Caller[] = [
  ...ROLES.map((role) => ({ label: `${role} of acme`, tenant: 'acme', role })),
  { label: 'admin of system (platform admin)', tenant: 'system', role: 'admin' },
];

function allowed(rule: (typeof ROUTE_RULES)[number], caller: Caller): boolean {
  if (rule.who === 'platform-admin') return caller.role === 'admin' && caller.tenant === 'system';
  return rule.who.includes(caller.role);
}

const sampleBody: Record<string, unknown> = {
  'POST /api/v1/logs': { action: 'update', resource_type: 'user' },
  'POST /api/v1/logs/bulk': [{ action: 'update', resource_type: 'user' }],
  'POST /api/v1/tenants': { key: `t${Date.now()}`, name: 'T' },
};

function openStream(url: string, token: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(`${url.replace('http', 'ws')}${STREAM_PATH}`, { headers: { authorization: `Bearer ${token}` } });
    socket.on('open', () => {
      socket.close();
      resolve(101);
    });
    socket.on('unexpected-response', (_request, response) => resolve(response.statusCode ?? 0));
    socket.on('error', reject);
  });
}

/** The status of an SSE request; the stream itself is left at once (it would never end). */
async function eventStreamStatus(url: string, token: string): Promise<number> {
  const controller = new AbortController();
  const response = await fetch(`${url}${EVENTS_PATH}`, { headers: { authorization: `Bearer ${token}` }, signal: controller.signal });
  controller.abort();
  return response.status;
}

describe('every role against every route (README role matrix), over real HTTP', () => {
  for (const rule of ROUTE_RULES) {
    for (const caller of callers) {
      const expectation = allowed(rule, caller) ? 'is let through' : 'gets 403';
      it(`${rule.method} ${rule.path}: ${caller.label} ${expectation}`, async () => {
        const route = rule.path.replace(':id', '01a21862-d31e-74fe-97b4-55f1a3f08c05');
        expect(server.app.hasRoute({ method: rule.method as 'GET', url: rule.path }), 'every matrix route is served').toBe(true);
        const token = await server.token(caller.tenant, caller.role);
        const status =
          rule.path === STREAM_PATH
            ? await openStream(server.url, token)
            : rule.path === EVENTS_PATH
              ? await eventStreamStatus(server.url, token)
              : (
                  await call(`${server.url}${route}${rule.method === 'DELETE' ? '?older_than_days=36500' : ''}`, {
                    method: rule.method,
                    token,
                    body: sampleBody[`${rule.method} ${rule.path}`],
                  })
                ).status;
        if (allowed(rule, caller)) {
          expect([401, 403]).not.toContain(status);
          expect(status).toBeLessThan(500);
        } else {
          expect(status).toBe(403);
        }
      });
    }
  }

  it('refuses every matrix route without a token with 401', async () => {
    for (const rule of ROUTE_RULES.filter((r) => r.path !== STREAM_PATH)) {
      const response = await call(`${server.url}${rule.path.replace(':id', 'x')}`, { method: rule.method });
      expect(response.status, `${rule.method} ${rule.path}`).toBe(401);
      expect(response.body).toEqual({ code: 401, msg: 'Unauthorized: no bearer token: send Authorization: Bearer <token>', data: null });
      expect(response.headers.get('www-authenticate')).toBe('Bearer realm="logserver"');
    }
  });
});
