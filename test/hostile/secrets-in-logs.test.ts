import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Role } from '@logserver/shared/auth/identity';
import { mintToken } from '@logserver/shared/auth/jwt-verifier';
import { deriveTenantKey } from '@logserver/shared/auth/tenant-key';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call } from '../support/all-in-one.js';
import { rawRequest, upgradeStatus } from './hostile-support.js';

/**
 * Runs the real all-in-one process (main.ts, as `make start` does) with LOG_LEVEL=trace, drives it with
 * bearer and `?token=` requests and a tenant create, stops it, and searches everything it wrote.
 */
const ROOT = new URL('../../', import.meta.url).pathname;
const SECRET = randomBytes(32).toString('hex');
const settings = { secret: SECRET, scheme: 'hmac-sha256' as const, audience: 'logserver', issuer: 'issuer', requireExp: true };
const token = (tenant: string, role: Role) => mintToken({ ...settings, tenant, role, sub: `${role}-sub`, ttlSeconds: 600 });

let child: ChildProcess;
let dataDir: string;
let output = '';
let url = '';
const used: string[] = [];
let tenantSecret = '';

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'logserver-logs-'));
  child = spawn(process.execPath, ['--conditions=development', '--import', 'tsx', 'services/all-in-one/src/main.ts'], {
    cwd: ROOT,
    env: { ...process.env, DATA_DIR: dataDir, PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'trace', AUTH_SECRET: SECRET },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout?.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  url = await new Promise<string>((resolve, reject) => {
    const timer = setInterval(() => {
      const match = /Server listening at (http:\/\/127\.0\.0\.1:\d+)/.exec(output);
      if (match?.[1]) {
        clearInterval(timer);
        resolve(match[1]);
      }
    }, 50);
    child.once('exit', (code) => {
      clearInterval(timer);
      reject(new Error(`the server exited (${code}) before listening:\n${output}`));
    });
  });

  const writer = await token('logs-a', 'writer');
  const viewer = await token('logs-a', 'viewer');
  const platform = await token('system', 'admin');
  const forged = `${(await token('logs-a', 'admin')).slice(0, -4)}AAAA`;
  used.push(writer, viewer, platform, forged);
  const registered = await call(`${url}/api/v1/tenants`, { token: platform, body: { key: 'logs-a', name: 'Logs A' } });
  // Its signing key, in this answer, is checked below like logs-new's (deriveTenantKey).
  expect(registered.status).toBe(200);

  const created = await call(`${url}/api/v1/logs`, { token: writer, body: { action: 'login', resource_type: 'session' } });
  expect(created.status).toBe(200);
  expect((await call(`${url}/api/v1/logs/bulk`, { token: writer, body: [{ action: 'a', resource_type: 'r' }] })).status).toBe(200);
  expect((await call(`${url}/api/v1/logs?size=5`, { token: viewer })).status).toBe(200);
  expect((await call(`${url}/api/v1/logs/${created.body.data.id}`, { token: viewer })).status).toBe(200);
  expect((await call(`${url}/api/v1/logs/stats`, { token: viewer })).status).toBe(200);
  expect((await call(`${url}/api/v1/logs`, { token: forged })).status).toBe(401);
  expect((await call(`${url}/api/v1/logs`, { token: writer })).status).toBe(403);
  expect((await call(`${url}/api/v1/logs?size=1&token=${viewer}`)).status).toBe(401);
  expect((await upgradeStatus(url, `token=${viewer}`)).status).toBe(101);
  expect((await upgradeStatus(url, `severity=INFO&token=${viewer}&action=x`)).status).toBe(101);
  expect((await upgradeStatus(url, `token=${forged}`)).status).toBe(401);
  expect((await upgradeStatus(url, '', { authorization: `Bearer ${viewer}` })).status).toBe(101);

  // Refused by Node's HTTP parser before Fastify: the error carries the raw request, token included.
  expect((await call(`${url}/api/v1/logs`, { token: viewer, headers: { 'x-padding': 'p'.repeat(20_000) } })).status).toBe(431);
  const raw = await rawRequest(url, `GET /api/v1/logs HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${writer}\r\nBad Header\r\n\r\n`);
  expect(raw).toMatch(/^HTTP\/1\.1 400/);

  const tenant = await call(`${url}/api/v1/tenants`, { token: platform, body: { key: 'logs-new', name: 'New' } });
  expect(tenant.status).toBe(200);
  tenantSecret = tenant.body.data.secret;
  expect(tenantSecret).toBe(deriveTenantKey('hmac-sha256', SECRET, 'logs-new'));
  expect((await call(`${url}/api/v1/tenants`, { token: platform, body: { key: 'logs-new', name: 'Again' } })).status).toBe(409);

  await new Promise<void>((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
  });
}, 60_000);
afterAll(() => {
  if (child.exitCode === null) child.kill('SIGKILL');
  rmSync(dataDir, { recursive: true, force: true });
});

/** pino's lines: JSON objects, one a line. The start-up banner (printed for a person, not logged) is not one. */
const logLines = () =>
  output
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as Record<string, unknown>);

describe('tokens and secrets never appear in the logs', () => {
  it('the capture is real: every request was logged, with its URL', () => {
    const lines = logLines();
    expect(lines.filter((line) => line.msg === 'incoming request').length).toBeGreaterThanOrEqual(14);
    expect(output).toContain('token=[redacted]');
  });

  it('no bearer or ?token= token, whole or its signature, valid or forged', () => {
    for (const jwt of used) {
      expect(output).not.toContain(jwt);
      expect(output).not.toContain(jwt.split('.')[2]);
    }
    for (const line of logLines()) expect(JSON.stringify(line)).not.toMatch(/eyJ[\w-]+\.eyJ[\w-]+/);
    // Node's parser errors carry the request's bytes; logged, they would hold the token as numbers.
    expect(output).not.toContain('rawPacket');
    expect(output).toContain('"msg":"client error"');
  });

  it('neither AUTH_SECRET nor a tenant secret from the create response', () => {
    expect(output).not.toContain(SECRET);
    expect(output).not.toContain(tenantSecret);
    expect(output).not.toContain(deriveTenantKey('hmac-sha256', SECRET, 'logs-a'));
  });
});
