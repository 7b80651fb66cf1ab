import { randomBytes } from 'node:crypto';
import { deriveTenantKey } from '@logserver/shared/auth/tenant-key';
import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, type RunningServer, startAllInOne } from '../support/all-in-one.js';
import { expectEnvelope, upgradeStatus } from './hostile-support.js';

const SECRET = randomBytes(24).toString('hex');
const LIMIT = 5;
const WINDOW_SECONDS = 60;

let server: RunningServer;
beforeAll(async () => {
  server = await startAllInOne({ AUTH_SECRET: SECRET, RATE_LIMIT_PER_TENANT: String(LIMIT), RATE_LIMIT_WINDOW: String(WINDOW_SECONDS) });
});
afterAll(() => server.close());

const list = (token: string, headers: Record<string, string> = {}) => call(`${server.url}/api/v1/logs`, { token, headers });

describe('per-tenant rate limit (RATE_LIMIT_PER_TENANT per RATE_LIMIT_WINDOW)', () => {
  it('answers 429 in the envelope with Retry-After once a tenant is over, counting every role and token of it', async () => {
    const viewer = await server.token('flood-a', 'viewer');
    const writer = await server.token('flood-a', 'writer', { sub: 'another-subject' });
    for (let n = 0; n < LIMIT - 1; n++) expect((await list(viewer)).status).toBe(200);
    const write = await call(`${server.url}/api/v1/logs`, { token: writer, body: { action: 'a', resource_type: 'r' } });
    expect(write.status).toBe(200);

    for (const response of [
      await list(viewer),
      await call(`${server.url}/api/v1/logs`, { token: writer, body: { action: 'a', resource_type: 'r' } }),
    ]) {
      expectEnvelope(response, 429);
      expect(response.body.msg).toMatch(/Too many requests/);
      const retryAfter = Number(response.headers.get('retry-after'));
      expect(retryAfter).toBeGreaterThan(0);
      expect(retryAfter).toBeLessThanOrEqual(WINDOW_SECONDS);
    }
    const admin = await server.token('flood-a', 'admin');
    expect((await call(`${server.url}/api/v1/logs/stats`, { token: admin })).status).toBe(429);
    expect((await upgradeStatus(server.url, `token=${viewer}`)).status).toBe(429);
  });

  it('leaves other tenants unaffected, and their counters show only their own requests', async () => {
    const flooder = await server.token('flood-b', 'viewer');
    for (let n = 0; n < LIMIT + 3; n++) await list(flooder);
    expect((await list(flooder)).status).toBe(429);

    const bystander = await server.token('calm-b', 'viewer');
    const first = await list(bystander);
    expect(first.status).toBe(200);
    expect(first.headers.get('x-ratelimit-remaining')).toBe(String(LIMIT - 1));
  });

  it('keys on the verified tenant: x-auth-* headers neither move nor escape the count', async () => {
    const flooded = await server.token('flood-c', 'viewer');
    for (let n = 0; n < LIMIT; n++) await list(flooded);
    const disguised = await list(flooded, {
      'x-auth-tenant': 'calm-c',
      'x-auth-sub': 'x',
      'x-auth-role': 'admin',
      'x-forwarded-for': '10.1.2.3',
    });
    expect(disguised.status).toBe(429);

    const calm = await server.token('calm-c', 'viewer');
    const response = await list(calm, { 'x-auth-tenant': 'flood-c' });
    expect(response.status).toBe(200);
    expect(response.headers.get('x-ratelimit-remaining')).toBe(String(LIMIT - 1));
  });

  it('does not count requests whose token fails verification, so a stranger cannot exhaust a tenant', async () => {
    const forged = await new SignJWT({ tenant: 'target-d', role: 'viewer', sub: 'mallory' })
      .setProtectedHeader({ alg: 'HS256' })
      .setAudience('logserver')
      .setIssuer('issuer')
      .setExpirationTime('1h')
      .sign(new TextEncoder().encode(deriveTenantKey('hmac-sha256', SECRET, 'mallory-d')));
    for (let n = 0; n < LIMIT * 3; n++) expect((await list(forged)).status).toBe(401);
    const genuine = await server.token('target-d', 'viewer');
    for (let n = 0; n < LIMIT; n++) expect((await list(genuine)).status).toBe(200);
  });
});

describe('RATE_LIMIT_PER_TENANT=0', () => {
  let unlimited: RunningServer;
  beforeAll(async () => {
    unlimited = await startAllInOne({ RATE_LIMIT_PER_TENANT: '0' });
  });
  afterAll(() => unlimited.close());

  it('turns the limit off', async () => {
    const viewer = await unlimited.token('any', 'viewer');
    for (let n = 0; n < 20; n++) {
      const response = await call(`${unlimited.url}/api/v1/logs`, { token: viewer });
      expect(response.status).toBe(200);
      expect(response.headers.get('x-ratelimit-limit')).toBeNull();
    }
  });
});
