import { mkdtempSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { mintToken } from '@logserver/shared/auth/jwt-verifier';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openChdbDriver } from '../../packages/chdb/src/chdb-driver.js';
import { type CubeQuery, compileCubeQuery, loadModel } from '../../scripts/cube-sql.js';
import { REPO_ROOT } from '../gateway/topology.js';
import { call, type RunningServer, startAllInOne } from '../support/all-in-one.js';
import { postBulk } from '../support/log-seed.js';

// deploy/cube/cube.js as Cube loads it (CommonJS), tested as plain code: Cube itself cannot run here.
const require = createRequire(import.meta.url);
const cube = require('../../deploy/cube/cube.js') as {
  checkAuth(req: { securityContext?: unknown }, authorization: string | undefined): void;
  queryRewrite(query: CubeQuery, context: { securityContext: unknown }): CubeQuery;
  verifyToken(authorization: string | undefined, env: Record<string, string | undefined>): { tenant: string; role: string; sub: string };
};
const DASHBOARD = require('../../deploy/cube/dashboard-query.json') as CubeQuery;

const SECRET = 'cube-test-secret-0123456789abcdef0123456789';
const ENV = { AUTH_SECRET: SECRET };
const jwt = { secret: SECRET, scheme: 'hmac-sha256' as const, audience: 'logserver', issuer: 'issuer', requireExp: true };
const token = (tenant: string, role: 'admin' | 'auditor' | 'viewer' | 'writer', extra: Partial<Parameters<typeof mintToken>[0]> = {}) =>
  mintToken({ ...jwt, tenant, role, sub: `${role}-of-${tenant}`, ttlSeconds: 600, ...extra });

describe('deploy/cube/cube.js checkAuth', () => {
  const accepts = async (authorization: string, env: Record<string, string> = ENV) => cube.verifyToken(authorization, env);
  const refuses = async (authorization: string | undefined, status: number, env: Record<string, string> = ENV) =>
    expect(() => cube.verifyToken(authorization, env)).toThrow(expect.objectContaining({ status }));

  it('accepts the tokens logserver accepts for stats: viewer, auditor, admin, with Bearer or bare', async () => {
    for (const role of ['viewer', 'auditor', 'admin'] as const) {
      expect(await accepts(`Bearer ${await token('abc', role)}`)).toEqual({ tenant: 'abc', role, sub: `${role}-of-abc` });
    }
    expect((await accepts(await token('xyz', 'viewer'))).tenant).toBe('xyz');
  });

  it('sets the verified identity as the security context', async () => {
    const req: { securityContext?: unknown } = {};
    process.env.AUTH_SECRET = SECRET;
    cube.checkAuth(req, `Bearer ${await token('abc', 'viewer')}`);
    expect(req.securityContext).toEqual({ tenant: 'abc', role: 'viewer', sub: 'viewer-of-abc' });
  });

  it('refuses a writer with 403, and every token logserver would refuse with 401', async () => {
    await refuses(`Bearer ${await token('abc', 'writer')}`, 403);
    await refuses(undefined, 401);
    await refuses('Bearer ', 401);
    await refuses('Bearer not.a.jwt', 401);
    await refuses(`Bearer ${await token('abc', 'viewer', { secret: 'another-secret' })}`, 401);
    await refuses(`Bearer ${await token('abc', 'viewer', { audience: 'someone-else' })}`, 401);
    await refuses(`Bearer ${await token('abc', 'viewer', { issuer: 'someone-else' })}`, 401);
    await refuses(`Bearer ${await token('abc', 'viewer', { ttlSeconds: -60 })}`, 401);
    await refuses(`Bearer ${await token('abc', 'viewer', { ttlSeconds: undefined })}`, 401);
    // A token minted for xyz whose payload is then relabelled abc: the signature no longer matches abc's key.
    const [header, payload, signature] = (await token('xyz', 'admin')).split('.');
    const claims = JSON.parse(Buffer.from(payload as string, 'base64url').toString());
    const relabelled = Buffer.from(JSON.stringify({ ...claims, tenant: 'abc' })).toString('base64url');
    await refuses(`Bearer ${header}.${relabelled}.${signature}`, 401);
    // alg none, and a tenant claim that is not a tenant key.
    const none = `${Buffer.from('{"alg":"none","typ":"JWT"}').toString('base64url')}.${payload}.`;
    await refuses(`Bearer ${none}`, 401);
    await refuses(`Bearer ${await token('../etc', 'viewer')}`, 401);
  });

  it('follows AUTH_REQUIRE_EXP=false and AUTH_KEY_SCHEME=md5-legacy as logserver does', async () => {
    expect((await accepts(await token('abc', 'viewer', { ttlSeconds: undefined }), { ...ENV, AUTH_REQUIRE_EXP: 'false' })).tenant).toBe(
      'abc',
    );
    const legacy = await token('abc', 'viewer', { scheme: 'md5-legacy' });
    await refuses(legacy, 401);
    expect((await accepts(legacy, { ...ENV, AUTH_KEY_SCHEME: 'md5-legacy' })).tenant).toBe('abc');
    expect(() => cube.verifyToken(legacy, {})).toThrow('AUTH_SECRET is required');
  });
});

describe('deploy/cube/cube.js queryRewrite', () => {
  it('adds the token’s tenant to every query, beside whatever filters it had', () => {
    const rewritten = cube.queryRewrite(DASHBOARD, { securityContext: { tenant: 'abc' } });
    expect(rewritten.filters).toEqual([{ member: 'logs.tenant_id', operator: 'equals', values: ['abc'] }]);
    const sneaky = cube.queryRewrite(
      { ...DASHBOARD, filters: [{ member: 'logs.tenant_id', operator: 'equals', values: ['xyz'] }] },
      { securityContext: { tenant: 'abc' } },
    );
    expect(sneaky.filters).toContainEqual({ member: 'logs.tenant_id', operator: 'equals', values: ['abc'] });
    expect(sneaky.filters).toHaveLength(2);
  });

  it('refuses a query without a verified tenant', () => {
    expect(() => cube.queryRewrite(DASHBOARD, { securityContext: undefined })).toThrow();
    expect(() => cube.queryRewrite(DASHBOARD, { securityContext: { tenant: "abc' OR 1=1" } })).toThrow();
  });
});

describe('the model’s SQL for the seed’s dashboard query, on the real engine', () => {
  let server: RunningServer;
  const chdbPath = join(mkdtempSync(join(tmpdir(), 'logserver-cube-')), 'analytics');
  const now = new Date();
  const day = (daysAgo: number, hour: number) =>
    new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate() - daysAgo, hour)).toISOString();

  beforeAll(async () => {
    server = await startAllInOne({ ANALYTICS: 'chdb', CHDB_PATH: chdbPath, SEAL_INTERVAL: '0' });
    const severities = ['INFO', 'WARNING', 'ERROR', 'CRITICAL'];
    // 40 days back to today, so the range's both ends (30 days ago, and today left out) are exercised.
    for (const tenant of ['abc', 'xyz']) {
      const bodies = Array.from({ length: 600 }, (_, index) => ({
        action: 'login',
        resource_type: 'user',
        severity: severities[(index * (tenant === 'abc' ? 7 : 3)) % 4],
        timestamp: day(index % 41, index % 24),
      }));
      await postBulk(server.url, await server.token(tenant, 'writer'), bodies);
    }
    await server.syncAnalytics();
  }, 60_000);
  afterAll(() => server?.close());

  it('returns the same counts per severity and day as GET /api/v1/logs/stats', async () => {
    const model = loadModel(`${REPO_ROOT}deploy/cube/model/logs.yml`);
    const driver = openChdbDriver(chdbPath);
    try {
      for (const tenant of ['abc', 'xyz']) {
        const query = cube.queryRewrite(DASHBOARD, { securityContext: { tenant } });
        const { sql, params } = compileCubeQuery(model, query, now);
        const rows = await driver.query<{ logs__severity: string; logs__timestamp_day: string; logs__count: string | number }>(sql, params);
        const fromCube: Record<string, Record<string, number>> = {};
        for (const row of rows) {
          const start = `${row.logs__timestamp_day.slice(0, 10)}T00:00:00.000Z`;
          fromCube[start] = { ...fromCube[start], [row.logs__severity]: Number(row.logs__count) };
        }
        const from = day(30, 0);
        const to = day(0, 0);
        const response = await call(`${server.url}/api/v1/logs/stats?interval=day&from=${from}&to=${to}`, {
          token: await server.token(tenant, 'viewer'),
        });
        expect(response.body.meta.source).toBe('analytics');
        const fromApi: Record<string, Record<string, number>> = {};
        for (const bucket of response.body.data.buckets as { start: string; counts: Record<string, number> }[]) {
          const counted = Object.fromEntries(Object.entries(bucket.counts).filter(([, n]) => n > 0));
          if (Object.keys(counted).length > 0) fromApi[bucket.start] = counted;
        }
        expect(Object.keys(fromApi)).toHaveLength(30);
        expect(fromCube).toEqual(fromApi);
      }
      // A dashboard query that names the other tenant still reads only its own: the filters are ANDed.
      const sneaky = cube.queryRewrite(
        { ...DASHBOARD, filters: [{ member: 'logs.tenant_id', operator: 'equals', values: ['xyz'] }] },
        { securityContext: { tenant: 'abc' } },
      );
      const { sql, params } = compileCubeQuery(model, sneaky, now);
      expect(await driver.query(sql, params)).toEqual([]);
    } finally {
      await driver.close();
    }
  });
});
