import { execFileSync } from 'node:child_process';
import { createJwtVerifier } from '@logserver/shared/auth/jwt-verifier';
import { describe, expect, it } from 'vitest';
import { parseTtl } from './mint-token.js';

describe('mint-token', () => {
  it('reads lifetimes', () => {
    expect(parseTtl('90')).toBe(90);
    expect(parseTtl('30m')).toBe(1800);
    expect(parseTtl('2h')).toBe(7200);
    expect(parseTtl('none')).toBeUndefined();
    expect(() => parseTtl('soon')).toThrow(/--ttl/);
  });

  it('prints a token the verifier accepts', async () => {
    const secret = 'mint-token-test-secret-0123456789';
    const token = execFileSync(
      process.execPath,
      ['--conditions=development', '--import', 'tsx', 'scripts/mint-token.ts', '--tenant', 'acme', '--role', 'auditor', '--sub', 'bob'],
      {
        env: { ...process.env, AUTH_SECRET: secret },
        encoding: 'utf8',
      },
    ).trim();
    const identity = await createJwtVerifier({
      secret,
      scheme: 'hmac-sha256',
      audience: 'logserver',
      issuer: 'issuer',
      requireExp: true,
    }).verify(token);
    expect(identity).toMatchObject({ sub: 'bob', tenant: 'acme', role: 'auditor' });
  });
});
