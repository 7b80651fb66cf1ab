import { describe, expect, it } from 'vitest';
import { createJwtVerifier, mintToken } from '../../src/auth/jwt-verifier.js';
import { deriveTenantKey } from '../../src/auth/tenant-key.js';

const settings = {
  secret: 'unit-secret-0123456789abcdef0123',
  scheme: 'hmac-sha256',
  audience: 'logserver',
  issuer: 'issuer',
  requireExp: true,
} as const;

describe('JWT verifier', () => {
  it('derives tenant keys as the design says (vectors computed with Python hmac/hashlib)', () => {
    expect(deriveTenantKey('hmac-sha256', 'secret', 'abc')).toBe('9946dad4e00e913fc8be8e5d3f7e110a4a9e832f83fb09c345285d78638d8a0e');
    // The Python system's md5(tenant + secret): the README's token for tenant abc was signed with it.
    expect(deriveTenantKey('md5-legacy', 'secret', 'abc')).toBe('33e7cb694fb6fb2f848af6774d9ff138');
  });

  it('stops accepting a cached token once it expires', async () => {
    let now = Date.now();
    const verifier = createJwtVerifier(settings, { now: () => now });
    const token = await mintToken({ ...settings, tenant: 'acme', sub: 'a', role: 'viewer', ttlSeconds: 1 });
    await expect(verifier.verify(token)).resolves.toMatchObject({ tenant: 'acme' });
    await expect(verifier.verify(token)).resolves.toMatchObject({ tenant: 'acme' });
    now += 2100;
    await expect(verifier.verify(token)).rejects.toMatchObject({ statusCode: 401 });
  });

  it('does not accept one tenant’s token under another scheme', async () => {
    const token = await mintToken({ ...settings, scheme: 'md5-legacy', tenant: 'acme', sub: 'a', role: 'viewer', ttlSeconds: 60 });
    await expect(createJwtVerifier(settings).verify(token)).rejects.toMatchObject({ statusCode: 401 });
    await expect(createJwtVerifier({ ...settings, scheme: 'md5-legacy' }).verify(token)).resolves.toMatchObject({ sub: 'a' });
  });
});
