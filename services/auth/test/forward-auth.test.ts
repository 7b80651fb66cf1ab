import { randomBytes } from 'node:crypto';
import { createJwtVerifier, mintToken } from '@logserver/shared/auth/jwt-verifier';
import { createServer } from '@logserver/shared/http/server';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildAuthApp } from '../src/app.js';

const settings = {
  secret: randomBytes(24).toString('hex'),
  scheme: 'hmac-sha256',
  audience: 'logserver',
  issuer: 'issuer',
  requireExp: true,
} as const;
let app: FastifyInstance;
let url: string;

beforeAll(async () => {
  app = createServer({ logLevel: 'silent' });
  await app.register(buildAuthApp({ verifier: createJwtVerifier(settings) }, { adminTenant: 'system' }));
  url = await app.listen({ port: 0, host: '127.0.0.1' });
});
afterAll(() => app.close());

const token = (tenant: string, role: 'admin' | 'auditor' | 'viewer' | 'writer', sub = 'alice') =>
  mintToken({ ...settings, tenant, role, sub, ttlSeconds: 600 });

/** Calls the auth endpoint the way ingress-nginx does for an original request. */
function ask(method: string, originalUrl: string, headers: Record<string, string> = {}) {
  return fetch(`${url}/auth/check`, {
    headers: { 'x-original-method': method, 'x-original-url': `http://gateway.local${originalUrl}`, ...headers },
  });
}

describe('forward-auth for ingress-nginx, over real HTTP', () => {
  it('answers 200 with the three x-auth headers for an allowed request', async () => {
    const response = await ask('POST', '/api/v1/logs', { authorization: `Bearer ${await token('acme', 'writer')}` });
    expect(response.status).toBe(200);
    expect(response.headers.get('x-auth-sub')).toBe('alice');
    expect(response.headers.get('x-auth-tenant')).toBe('acme');
    expect(response.headers.get('x-auth-role')).toBe('writer');
  });

  it('answers 403 when the role may not, and names no tenant data', async () => {
    const response = await ask('DELETE', '/api/v1/logs/cleanup?all=true', { authorization: `Bearer ${await token('acme', 'viewer')}` });
    expect(response.status).toBe(403);
    expect(response.headers.get('x-auth-tenant')).toBeNull();
    expect(await response.json()).toEqual({ code: 403, msg: 'Forbidden', data: null });
  });

  it('answers 403 for tenant management by an admin of an ordinary tenant, 200 for the platform admin', async () => {
    expect((await ask('POST', '/api/v1/tenants', { authorization: `Bearer ${await token('acme', 'admin')}` })).status).toBe(403);
    expect((await ask('POST', '/api/v1/tenants', { authorization: `Bearer ${await token('system', 'admin')}` })).status).toBe(200);
  });

  it('answers 401 for a missing or bad token', async () => {
    const missing = await ask('GET', '/api/v1/logs');
    expect(missing.status).toBe(401);
    expect(missing.headers.get('www-authenticate')).toBe('Bearer realm="logserver"');
    const bad = await ask('GET', '/api/v1/logs', { authorization: 'Bearer nope' });
    expect(bad.status).toBe(401);
    expect(await bad.json()).toEqual({ code: 401, msg: 'Unauthorized: malformed token', data: null });
    expect(bad.headers.get('www-authenticate')).toBe(
      'Bearer realm="logserver", error="invalid_token", error_description="malformed token"',
    );
  });

  it('takes the token from the original URL’s query for the stream only', async () => {
    const viewer = await token('acme', 'viewer');
    const stream = await ask('GET', `/api/v1/logs/stream?token=${viewer}&severity=ERROR`);
    expect(stream.status).toBe(200);
    expect(stream.headers.get('x-auth-tenant')).toBe('acme');
    expect((await ask('GET', `/api/v1/logs?token=${viewer}`)).status).toBe(401);
  });

  it('reads the path from X-Auth-Request-Redirect when X-Original-URL is absent', async () => {
    const response = await fetch(`${url}/auth/`, {
      headers: {
        'x-original-method': 'GET',
        'x-auth-request-redirect': '/api/v1/logs/stats',
        authorization: `Bearer ${await token('acme', 'viewer')}`,
      },
    });
    expect(response.status).toBe(200);
  });

  it('refuses paths no route serves, so the gateway forwards nothing unauthorized', async () => {
    expect((await ask('GET', '/api/v1/secrets', { authorization: `Bearer ${await token('acme', 'admin')}` })).status).toBe(403);
  });

  it('keeps the Python system’s JSON 401 on GET /', async () => {
    const response = await fetch(`${url}/`);
    expect(response.status).toBe(401);
    expect(await response.json()).toEqual({ code: 401, msg: 'Unauthorized' });
  });
});
