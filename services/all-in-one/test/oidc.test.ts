import { createHmac } from 'node:crypto';
import { composeAuth } from '@logserver/auth/compose';
import { AuthConfig } from '@logserver/auth/config';
import { loadConfig } from '@logserver/shared/config/load-config';
import type { FastifyInstance } from 'fastify';
import { SignJWT, UnsecuredJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, type RunningServer, startAllInOne } from '../../../test/support/all-in-one.js';
import { type LoopbackIdp, startLoopbackIdp } from '../../../test/support/jwks-server.js';

const SECRET = 'oidc-test-secret-0123456789abcdef';

/** The IdP's claims as an enterprise IdP shapes them: an org id and a list of groups. */
const claims = (over: Record<string, unknown> = {}) => ({
  sub: 'alice@example.com',
  aud: 'logserver-api',
  org: 'org_4711',
  groups: ['everyone', 'audit-readers'],
  ...over,
});

describe('OIDC / JWKS: tokens of an external identity provider, in the all-in-one and in forward-auth', () => {
  let idp: LoopbackIdp;
  let server: RunningServer;
  let auth: FastifyInstance;
  let env: Record<string, string>;
  beforeAll(async () => {
    idp = await startLoopbackIdp();
    env = {
      AUTH_SECRET: SECRET,
      AUTH_JWKS_URL: idp.jwksUrl,
      AUTH_JWKS_ISSUER: idp.issuer,
      AUTH_JWKS_AUDIENCE: 'logserver-api',
      AUTH_TENANT_CLAIM: 'org',
      AUTH_ROLE_CLAIM: 'groups',
      AUTH_TENANT_MAP: 'org_4711=acme',
      AUTH_ROLE_MAP: 'log-admins=admin,audit-readers=auditor,log-writers=writer',
      AUTH_JWKS_COOLDOWN: '0',
    };
    server = await startAllInOne(env);
    // The tenant the IdP's org maps to exists, as a platform admin creates it (AUTH_REQUIRE_REGISTERED_TENANT).
    const created = await call(`${server.url}/api/v1/tenants`, {
      token: await server.token('system', 'admin'),
      body: { key: 'acme', name: 'Acme' },
    });
    expect(created.status, created.text).toBe(200);
    // The forward-auth service, composed from the same environment as its main.ts does.
    auth = (await composeAuth(loadConfig(AuthConfig, { ...env, LOG_LEVEL: 'silent' }))).app;
    await auth.ready();
  });
  afterAll(async () => {
    await server?.close();
    await auth?.close();
    await idp?.close();
  });

  /** The all-in-one's and forward-auth's answers to one token on GET /api/v1/logs. */
  async function both(token: string) {
    const direct = await call(`${server.url}/api/v1/logs`, { token });
    const forward = await auth.inject({
      method: 'GET',
      url: '/auth',
      headers: { authorization: `Bearer ${token}`, 'x-original-method': 'GET', 'x-original-url': 'http://gateway/api/v1/logs' },
    });
    return {
      direct: { status: direct.status, msg: direct.body.msg as string, challenge: direct.headers.get('www-authenticate') },
      forward: {
        status: forward.statusCode,
        msg: forward.json().msg as string,
        challenge: forward.headers['www-authenticate'] ?? null,
        tenant: forward.headers['x-auth-tenant'],
        role: forward.headers['x-auth-role'],
        sub: forward.headers['x-auth-sub'],
      },
    };
  }

  it('accepts RS256, ES256 and EdDSA tokens, mapping org to the tenant and groups to the role', async () => {
    for (const alg of ['RS256', 'ES256', 'EdDSA'] as const) {
      const answer = await both(await idp.sign(claims(), { alg }));
      expect(answer.direct.status, alg).toBe(200);
      expect(answer.forward).toMatchObject({ status: 200, tenant: 'acme', role: 'auditor', sub: 'alice@example.com' });
    }
    // An auditor may export, and sees tenant acme's events.
    const exported = await call(`${server.url}/api/v1/logs/export`, { token: await idp.sign(claims()) });
    expect(exported.status).toBe(200);
  });

  it('the role map follows its own order: a member of log-writers and audit-readers is an auditor; of log-writers only, a writer', async () => {
    const writerOnly = await idp.sign(claims({ groups: ['log-writers'] }));
    const posted = await call(`${server.url}/api/v1/logs`, { token: writerOnly, body: { action: 'sso.login', resource_type: 'session' } });
    expect(posted.status).toBe(200);
    expect(posted.body.data).toMatchObject({ tenant_id: 'acme', user_id: 'alice@example.com' });
    expect((await both(await idp.sign(claims({ groups: ['log-writers', 'audit-readers'] })))).forward.role).toBe('auditor');
  });

  it('keeps accepting the tenants’ own HS256 tokens beside the IdP’s', async () => {
    const token = await server.token('acme', 'viewer');
    expect((await both(token)).direct.status).toBe(200);
    expect((await both(token)).forward).toMatchObject({ status: 200, tenant: 'acme', role: 'viewer' });
  });

  it('passes before and after the IdP rotates its keys, fetching the new JWKS when an unknown kid arrives', async () => {
    const before = await idp.sign(claims(), { alg: 'ES256' });
    expect((await both(before)).direct.status).toBe(200);
    const fetchesBefore = idp.fetches;
    await idp.rotate();
    const after = await idp.sign(claims(), { alg: 'ES256' });
    const answer = await both(after);
    expect(answer.direct.status).toBe(200);
    expect(answer.forward.status).toBe(200);
    expect(idp.fetches).toBeGreaterThan(fetchesBefore);
    // A token with a key the IdP no longer publishes, never seen before, is refused.
    const other = await startLoopbackIdp();
    try {
      const stranger = await other.sign(claims(), { issuer: idp.issuer });
      const refused = await both(stranger);
      expect(refused.direct).toMatchObject({ status: 401, msg: 'Unauthorized: no key of the identity provider matches the token (kid)' });
    } finally {
      await other.close();
    }
  });

  const refusals: [label: string, make: () => Promise<string>, reason: string][] = [
    ['expired', async () => idp.sign(claims(), { expiresIn: Math.floor(Date.now() / 1000) - 120 }), 'token expired'],
    ['wrong issuer', async () => idp.sign(claims(), { issuer: 'https://evil.example.com/' }), 'wrong issuer'],
    ['wrong audience', async () => idp.sign(claims({ aud: 'some-other-api' })), 'wrong audience'],
    [
      'alg none',
      async () => new UnsecuredJWT(claims()).setIssuer(idp.issuer).setIssuedAt().setExpirationTime('10m').encode(),
      'signing algorithm none not accepted',
    ],
    [
      'HS256 signed with the IdP’s public key (key confusion)',
      async () =>
        new SignJWT(claims({ tenant: 'acme', role: 'admin' }))
          .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
          .setIssuer(idp.issuer)
          .setExpirationTime('10m')
          .sign(new TextEncoder().encode(idp.publicPem())),
      'invalid signature',
    ],
    [
      'HS256 tenant token with the IdP’s claims and the tenant key, but the wrong issuer',
      async () =>
        new SignJWT({ sub: 'x', tenant: 'acme', role: 'admin' })
          .setProtectedHeader({ alg: 'HS256' })
          .setIssuer(idp.issuer)
          .setAudience('logserver')
          .setExpirationTime('10m')
          .sign(new TextEncoder().encode(createHmac('sha256', SECRET).update('acme').digest('hex'))),
      'wrong issuer',
    ],
    [
      'a group the role map does not know',
      async () => idp.sign(claims({ groups: ['everyone'] })),
      'token has no usable role claim (groups)',
    ],
    ['no org claim', async () => idp.sign(claims({ org: undefined })), 'token has no usable tenant claim (org)'],
  ];
  for (const [label, make, reason] of refusals) {
    it(`refuses ${label}: 401 with the reason, the same in forward-auth`, async () => {
      const answer = await both(await make());
      expect(answer.direct).toEqual({
        status: 401,
        msg: `Unauthorized: ${reason}`,
        challenge: `Bearer realm="logserver", error="invalid_token", error_description="${reason}"`,
      });
      expect(answer.forward).toMatchObject(answer.direct);
    });
  }

  it('refuses an IdP token when no AUTH_JWKS_URL is set, saying so', async () => {
    const plain = await startAllInOne({ AUTH_SECRET: SECRET });
    try {
      const response = await call(`${plain.url}/api/v1/logs`, { token: await idp.sign(claims()) });
      expect(response.status).toBe(401);
      expect(response.body.msg).toBe(
        'Unauthorized: signing algorithm RS256 not accepted: no identity provider is configured (AUTH_JWKS_URL)',
      );
    } finally {
      await plain.close();
    }
  });

  it('lists every bad OIDC setting at once at start', () => {
    let message = '';
    try {
      loadConfig(AuthConfig, { AUTH_SECRET: SECRET, AUTH_JWKS_URL: 'ftp://idp', AUTH_ROLE_MAP: 'admins=root', AUTH_TENANT_MAP: 'x' });
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toContain('AUTH_JWKS_URL');
    expect(message).toContain('entry "admins=root" must be <IdP value>=<admin|auditor|viewer|writer>');
    expect(message).toContain('entry "x" must be <IdP value>=<tenant key>');
  });
});
