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
  // Each refusal says which check failed (RFC 6750 error_description), never more.
  const cases: [string, () => Promise<string>, string][] = [
    [
      'alg none',
      async () => new UnsecuredJWT(good).setAudience('logserver').setIssuer('issuer').setExpirationTime('10m').encode(),
      'signing algorithm none not accepted',
    ],
    ['a wrong signature', () => sign(good, { key: keyOf('other-tenant') }), 'invalid signature'],
    ['a wrong audience', () => sign(good, { aud: 'someone-else' }), 'wrong audience'],
    ['a wrong issuer', () => sign(good, { iss: 'evil' }), 'wrong issuer'],
    ['an expired token', () => sign(good, { exp: Math.floor(Date.now() / 1000) - 60 }), 'token expired'],
    ['no exp claim', () => sign(good, { exp: null }), 'token has no exp claim'],
    ['no tenant claim', () => sign({ sub: 'u1', role: 'admin' }, { key: keyOf('acme') }), 'token has no valid tenant claim'],
    ['an unknown role', () => sign({ ...good, role: 'root' }), 'token has no valid role claim'],
    ['a tenant claim that is not a tenant key', () => sign({ ...good, tenant: '../../etc' }), 'token has no valid tenant claim'],
    ['a non-JWT string', async () => 'not-a-jwt', 'malformed token'],
    ['three dots of garbage', async () => 'a.b.c', 'malformed token'],
    [
      'HS512 with the right key',
      async () =>
        new SignJWT(good)
          .setProtectedHeader({ alg: 'HS512' })
          .setAudience('logserver')
          .setIssuer('issuer')
          .setExpirationTime('10m')
          .sign(keyOf('acme')),
      'signing algorithm HS512 not accepted',
    ],
  ];
  for (const [label, make, reason] of cases) {
    it(label, async () => {
      const token = await make();
      for (const path of ['/api/v1/logs', '/api/v1/logs/stats']) {
        const response = await call(`${server.url}${path}`, { token });
        expect(response.status).toBe(401);
        expect(response.body).toEqual({ code: 401, msg: `Unauthorized: ${reason}`, data: null });
        expect(response.headers.get('www-authenticate')).toBe(
          `Bearer realm="logserver", error="invalid_token", error_description="${reason}"`,
        );
        // Nothing about the key, the secret or another tenant.
        for (const secretish of [SECRET, 'other-tenant', createHmac('sha256', SECRET).update('acme').digest('hex')]) {
          expect(response.text).not.toContain(secretish);
          expect(response.headers.get('www-authenticate')).not.toContain(secretish);
        }
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
