import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { createJwtVerifier, MAX_TOKEN_LENGTH, mintToken } from '@logserver/shared/auth/jwt-verifier';
import { deriveTenantKey } from '@logserver/shared/auth/tenant-key';
import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, type RunningServer, startAllInOne } from '../support/all-in-one.js';
import { expectEnvelope } from './hostile-support.js';

// Issue 13, item 4: 10 000 distinct valid 15.5 KB tokens added 177 MB; the cache was keyed by the
// token itself and bounded only in entries (50 000, about 800 MB).

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;
const heapAfterGc = () => {
  gc();
  gc();
  return process.memoryUsage().heapUsed;
};

const SETTINGS = {
  secret: 'token-cache-secret',
  scheme: 'hmac-sha256',
  audience: 'logserver',
  issuer: 'issuer',
  requireExp: true,
} as const;
/** A valid token padded with a claim to about `length` characters; `n` makes each one distinct. */
const KEY = new TextEncoder().encode(deriveTenantKey(SETTINGS.scheme, SETTINGS.secret, 'acme'));
const paddedToken = (n: number, length: number, sub = `user-${n}`) => {
  // Base64url makes 3 bytes of claims 4 characters; the rest of a token is about 300 characters.
  const padding = Math.max(0, Math.floor(((length - 300 - sub.length) * 3) / 4));
  return new SignJWT({ tenant: 'acme', role: 'viewer', pad: 'p'.repeat(padding) })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setSubject(sub)
    .setAudience(SETTINGS.audience)
    .setIssuer(SETTINGS.issuer)
    .setExpirationTime(Math.floor(Date.now() / 1000) + 600)
    .sign(KEY);
};

describe('the verified-token cache is bounded in bytes', () => {
  it('refuses a validly signed token longer than MAX_TOKEN_LENGTH with 401', async () => {
    const verifier = createJwtVerifier(SETTINGS);
    const long = await paddedToken(1, 15_500);
    expect(long.length).toBeGreaterThan(MAX_TOKEN_LENGTH);
    await expect(verifier.verify(long)).rejects.toMatchObject({ statusCode: 401 });
    const short = await paddedToken(2, MAX_TOKEN_LENGTH - 100);
    await expect(verifier.verify(short)).resolves.toMatchObject({ tenant: 'acme', sub: 'user-2' });
  });

  it('keeps 10 000 distinct valid tokens just under the limit in a few MB, not in their own size', async () => {
    const verifier = createJwtVerifier(SETTINGS);
    const tokens: string[] = [];
    // 4000 written out, not MAX_TOKEN_LENGTH - x: the size the attack used must not shrink with the limit.
    for (let n = 0; n < 10_000; n++) tokens.push(await paddedToken(n, 4_000, `user-${n}-${'s'.repeat(200)}`));
    expect(tokens[0]?.length).toBeGreaterThan(3_800);
    expect(tokens[0]?.length).toBeLessThanOrEqual(MAX_TOKEN_LENGTH);
    const before = heapAfterGc();
    for (const token of tokens) await verifier.verify(token);
    const grown = heapAfterGc() - before;
    // Keyed by the token, the cache held each one: 10 000 × ~4 KB (UTF-16 in V8: 8 KB) = 40-80 MB.
    expect(grown).toBeLessThan(16 * 1024 * 1024);
    // And the cache still works: the same token answers without a second verify.
    await expect(verifier.verify(tokens[9_999] as string)).resolves.toMatchObject({ sub: expect.stringMatching(/^user-9999-/) });
  }, 120_000);
});

describe('an oversized token at the server', () => {
  let server: RunningServer;
  beforeAll(async () => {
    server = await startAllInOne();
  });
  afterAll(() => server.close());

  it('answers 401 in the envelope, on the API and on the stream', async () => {
    await server.token('acme', 'viewer');
    const long = await mintToken({ ...server.auth, tenant: 'acme', role: 'viewer', sub: 'x'.repeat(256), ttlSeconds: 600 }).then(
      (token) => `${token}${'A'.repeat(MAX_TOKEN_LENGTH)}`,
    );
    expectEnvelope(await call(`${server.url}/api/v1/logs`, { token: long }), 401);
    const stream = await fetch(`${server.url}/api/v1/logs/stream?token=${long}`);
    expect(stream.status).toBe(401);
  });
});
