import { createHmac } from 'node:crypto';
import { SignJWT, UnsecuredJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, type RunningServer, startAllInOne } from '../../../test/support/all-in-one.js';

const SECRET = 'test-secret-for-token-cases-0123456789';
let server: RunningServer;
beforeAll(async () => {
  server = await startAllInOne({ AUTH_SECRET: SECRET });
  // The tenant the good token names exists (AUTH_REQUIRE_REGISTERED_TENANT); minting through the helper registers it.
  await server.token('acme', 'viewer');
});
afterAll(() => server.close());

const keyOf = (tenant: string) => new TextEncoder().encode(createHmac('sha256', SECRET).update(tenant).digest('hex'));

async function sign(claims: Record<string, unknown>, options: { key?: Uint8Array; exp?: number | null; aud?: string; iss?: string } = {}) {
  let jwt = new SignJWT(claims)
    .setProtectedHeader({ alg: 'HS256' })
    .setAudience(options.aud ?? 'logserver')
    .setIssuer(options.iss ?? 'issuer');
  if (options.exp !== null) jwt = jwt.setExpirationTime(options.exp ?? Math.floor(Date.now() / 1000) + 600);
  return jwt.sign(options.key ?? keyOf(String(claims.tenant ?? 'acme')));
}

const good = { sub: 'u1', tenant: 'acme', role: 'admin' };

describe('bad tokens get 401 in the envelope, never 500', () => {
  const cases: [string, () => Promise<string>][] = [
    ['alg none', async () => new UnsecuredJWT(good).setAudience('logserver').setIssuer('issuer').setExpirationTime('10m').encode()],
    ['a wrong signature', () => sign(good, { key: keyOf('other-tenant') })],
    ['a wrong audience', () => sign(good, { aud: 'someone-else' })],
    ['a wrong issuer', () => sign(good, { iss: 'evil' })],
    ['an expired token', () => sign(good, { exp: Math.floor(Date.now() / 1000) - 60 })],
    ['no exp claim', () => sign(good, { exp: null })],
    ['no tenant claim', () => sign({ sub: 'u1', role: 'admin' }, { key: keyOf('acme') })],
    ['an unknown role', () => sign({ ...good, role: 'root' })],
    ['a tenant claim that is not a tenant key', () => sign({ ...good, tenant: '../../etc' })],
    ['a non-JWT string', async () => 'not-a-jwt'],
    ['three dots of garbage', async () => 'a.b.c'],
    [
      'HS512 with the right key',
      async () =>
        new SignJWT(good)
          .setProtectedHeader({ alg: 'HS512' })
          .setAudience('logserver')
          .setIssuer('issuer')
          .setExpirationTime('10m')
          .sign(keyOf('acme')),
    ],
  ];
  for (const [label, make] of cases) {
    it(label, async () => {
      const token = await make();
      for (const path of ['/api/v1/logs', '/api/v1/logs/stats']) {
        const response = await call(`${server.url}${path}`, { token });
        expect(response.status).toBe(401);
        expect(response.body).toEqual({ code: 401, msg: 'Unauthorized', data: null });
      }
    });
  }

  it('accepts the well-formed token the cases are built from', async () => {
    expect((await call(`${server.url}/api/v1/logs`, { token: await sign(good) })).status).toBe(200);
  });

  it('refuses a token in the query string on routes other than the stream', async () => {
    const token = await sign(good);
    expect((await call(`${server.url}/api/v1/logs?token=${token}`)).status).toBe(401);
  });
});
