import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { mintToken } from '@logserver/shared/auth/jwt-verifier';
import { redactUrl } from '@logserver/shared/http/logger';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call } from '../support/all-in-one.js';
import { type ServiceProcess, startAllInOneProcess } from '../support/processes.js';
import { upgradeStatus } from './hostile-support.js';

// Issue 13, item 10: `?%74oken=<jwt>` connected to the stream (every parser decodes the name), and
// at debug/trace the whole token was logged, since redaction matched the literal name `token` only.

const SECRET = randomBytes(24).toString('hex');
const JWT = { secret: SECRET, scheme: 'hmac-sha256', audience: 'logserver', issuer: 'issuer', requireExp: true } as const;
let server: ServiceProcess;
let dataDir: string;
let viewer: string;

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'logserver-query-token-'));
  server = await startAllInOneProcess({ DATA_DIR: dataDir, AUTH_SECRET: SECRET, LOG_LEVEL: 'trace' });
  const platform = await mintToken({ ...JWT, tenant: 'system', role: 'admin', sub: 'ops', ttlSeconds: 600 });
  expect((await call(`${server.url}/api/v1/tenants`, { token: platform, body: { key: 'qt', name: 'qt' } })).status).toBe(200);
  viewer = await mintToken({ ...JWT, tenant: 'qt', role: 'viewer', sub: 'v', ttlSeconds: 600 });
}, 60_000);
afterAll(async () => {
  await server?.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

describe('?token= on the stream is one parameter spelled token', () => {
  it('connects with ?token= as before', async () => {
    expect((await upgradeStatus(server.url, `token=${viewer}`)).status).toBe(101);
  });

  it.each([
    ['an encoded name', () => `%74oken=${viewer}`],
    ['an encoded name in upper case', () => `%54OKEN=${viewer}`],
    ['the name twice', () => `token=${viewer}&token=${viewer}`],
    ['token and an encoded token', () => `token=${viewer}&%74oken=x`],
  ])('refuses %s with 401', async (_name, query) => {
    expect((await upgradeStatus(server.url, query())).status).toBe(401);
  });

  it('never logs the token, whatever the spelling of its name, at trace', async () => {
    await call(`${server.url}/api/v1/logs?%74oken=${viewer}&size=1`);
    await call(`${server.url}/api/v1/logs?TOKEN=${viewer}&size=1`);
    await upgradeStatus(server.url, `%74oken=${viewer}&action=x`);
    // Give the logger a moment to flush the last lines.
    await new Promise((resolve) => setTimeout(resolve, 500));
    const output = server.output.join('\n');
    expect(output).toContain('%74oken=[redacted]');
    expect(output).not.toContain(viewer);
    expect(output).not.toContain(viewer.split('.')[2]);
  });
});

describe('redactUrl', () => {
  it.each([
    ['/s?token=abc', '/s?token=[redacted]'],
    ['/s?%74oken=abc&x=1', '/s?%74oken=[redacted]&x=1'],
    ['/s?a=1&ACCESS_%54OKEN=abc#frag', '/s?a=1&ACCESS_%54OKEN=[redacted]#frag'],
    ['/s?tok%zzen=abc&flag', '/s?tok%zzen=abc&flag'],
    ['/plain', '/plain'],
  ])('%s -> %s', (url, expected) => {
    expect(redactUrl(url)).toBe(expected);
  });
});
