import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Role } from '@logserver/shared/auth/identity';
import { mintToken } from '@logserver/shared/auth/jwt-verifier';
import { deriveTenantKey } from '@logserver/shared/auth/tenant-key';
import { generateSigningKeyPem, signingKeyFromPem } from '@logserver/shared/integrity/signing-key';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { call } from '../support/all-in-one.js';
import { readCollection, runCollection } from '../support/newman.js';
import { type FauxqsProcess, type ServiceProcess, startFauxqsProcess, startService } from '../support/processes.js';
import { type Gateway, REPO_ROOT, startGateway } from './topology.js';

const curl = promisify(execFile);

// The Python system's README token (tenant abc, role admin, no exp, md5-legacy key with
// AUTH_SECRET=secret) and its example body, from the fixture copied from that README.
const fixture = JSON.parse(readFileSync(`${REPO_ROOT}test/fixtures/python-readme-example.json`, 'utf8'));
const readmeToken = fixture.token as string;
const readmeBody = JSON.stringify(fixture.body, null, 2);

const AUTH = { AUTH_SECRET: 'secret', AUTH_KEY_SCHEME: 'md5-legacy', AUTH_REQUIRE_EXP: 'false', AUTH_ADMIN_TENANT: 'system' };
// auth signs its x-auth-* answer with it; log and tenant take x-auth-* only so signed.
const GATEWAY = { GATEWAY_SECRET: 'gateway-e2e-secret-0123456789abcdef-0123' };
const JWT = { secret: 'secret', scheme: 'md5-legacy', audience: 'logserver', issuer: 'issuer', requireExp: false } as const;
const token = (tenant: string, role: Role, sub = `${role}-of-${tenant}`) => mintToken({ ...JWT, tenant, role, sub, ttlSeconds: 600 });

let dataDir: string;
let fauxqs: FauxqsProcess | undefined;
const services: ServiceProcess[] = [];
let gateway: Gateway | undefined;
const gatewayUrl = () => (gateway as Gateway).url;
/** The log and tenant services' own addresses, which only the gateway should use. */
const direct: { auth?: string; log?: string; tenant?: string } = {};

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'logserver-e2e-'));
  fauxqs = await startFauxqsProcess();
  const store = { STORE: 'sqlite', SQLITE_PATH: join(dataDir, 'logserver.db'), DATA_DIR: dataDir };
  // The Kubernetes shape: log publishes to SQS (fauxqs), log-worker stores into the shared SQLite
  // file, and log streams what was stored from that file. Short polls keep the test quick.
  const queue = { QUEUE: 'sqs', SQS_URL: fauxqs.endpoint, SQS_WAIT_TIME_SECONDS: '1', SQS_VISIBILITY_TIMEOUT: '5' };
  // Log streams as k8s/base configures them: log serves /api/v1/streams, log-worker delivers (docs/streams.md).
  const streams = { STREAM_SECRET_KEY: '0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef' };
  const start = async (name: Parameters<typeof startService>[0], env: Record<string, string>) => {
    const service = await startService(name, env);
    services.push(service);
    return service;
  };
  const auth = await start('auth', { ...AUTH, ...GATEWAY });
  // tenant before log and log-worker: it creates the SQLite schema that they then open.
  const tenant = await start('tenant', { ...AUTH, ...GATEWAY, ...store });
  // Tamper evidence as k8s/base configures it: the worker seals with the private key, log serves
  // the public key, digests, proofs and verify.
  const signingPem = generateSigningKeyPem();
  const log = await start('log', {
    ...AUTH,
    ...GATEWAY,
    ...store,
    ...queue,
    ...streams,
    INTEGRITY_PUBLIC_KEY: signingKeyFromPem(signingPem).publicKeyPem,
    SEAL_INTERVAL: '1',
    // nginx on loopback is the proxy the log service believes about the client's address.
    TRUST_PROXY: '127.0.0.1',
  });
  direct.auth = auth.url;
  direct.log = log.url;
  direct.tenant = tenant.url;
  await start('log-worker', { ...store, ...queue, ...streams, INTEGRITY_SIGNING_KEY: signingPem, SEAL_INTERVAL: '1' });
  gateway = await startGateway({ auth: auth.url, log: log.url, tenant: tenant.url });
  // AUTH_REQUIRE_REGISTERED_TENANT is on: the tenants the tests write to exist first, made by the platform admin.
  const platform = await token('system', 'admin');
  for (const key of ['abc', 'acme', 'globex', 'hooli', 'piedpiper', 'postman', 'hardened', 'forwarded']) {
    const created = await call(`${gatewayUrl()}/api/v1/tenants`, { token: platform, body: { key, name: key } });
    if (created.status !== 200) throw new Error(`creating tenant ${key}: ${created.text}`);
  }
  // Five services under tsx, nginx and fauxqs: starting them takes a minute on a loaded 2-core machine.
}, 180_000);

afterAll(async () => {
  await gateway?.stop();
  await Promise.all(services.map((service) => service.stop()));
  await fauxqs?.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

describe('the Python system’s README through the gateway, with curl', () => {
  it('POSTs the example event, reads the stats, and streams it to a ?token= WebSocket', async () => {
    // The token has no exp, so the auth answer has no x-auth-exp: the gateway must drop the one the
    // client sends (already past), or the log service would close the stream at once.
    const socket = new WebSocket(`${gatewayUrl().replace('http', 'ws')}/api/v1/logs/stream?token=${readmeToken}`, {
      headers: { 'x-auth-exp': '1' },
    });
    const frames: string[] = [];
    const frame = new Promise<string>((resolve, reject) => {
      // The head frame first (docs/stream.md), then the event.
      socket.on('message', (data) => {
        frames.push(data.toString());
        if (frames.length === 2) resolve(frames[1] as string);
      });
      socket.once('error', reject);
      socket.once('close', (code, reason) => reject(new Error(`stream closed before the event: ${code} ${reason}`)));
    });
    await new Promise((resolve, reject) => socket.once('open', resolve).once('error', reject));

    const { stdout: posted } = await curl('curl', [
      '-sS',
      '--location',
      `${gatewayUrl()}/api/v1/logs`,
      '--header',
      'Content-Type: application/json',
      '--header',
      `Authorization: Bearer ${readmeToken}`,
      '--data-raw',
      readmeBody,
    ]);
    const created = JSON.parse(posted);
    expect(created).toMatchObject({ code: 200, msg: 'ok', data: { ...JSON.parse(readmeBody), tenant_id: 'abc', user_id: '01' } });

    expect(JSON.parse(await frame)).toMatchObject({ id: created.data.id, tenant_id: 'abc', action: 'update' });
    expect(JSON.parse(frames[0] as string)).toEqual({ type: 'live', cursor: expect.any(String) });
    socket.close();

    const { stdout: stats } = await curl('curl', [
      '-sS',
      '--location',
      `${gatewayUrl()}/api/v1/logs/stats`,
      '--header',
      `Authorization: Bearer ${readmeToken}`,
    ]);
    // The Python system's envelope and counts; meta (where they came from) is an addition.
    expect(JSON.parse(stats)).toMatchObject({
      code: 200,
      msg: 'ok',
      data: { INFO: 0, WARNING: 1, ERROR: 0, CRITICAL: 0 },
      meta: { source: expect.stringMatching(/^(rollups|index)$/) },
    });
  });
});

describe('identity comes from the token, never from the client’s x-auth-* headers', () => {
  it('stores the token’s tenant and subject when the client claims another', async () => {
    const writer = await token('acme', 'writer', 'alice');
    const created = await call(`${gatewayUrl()}/api/v1/logs`, {
      token: writer,
      body: { action: 'login', resource_type: 'session' },
      headers: { 'x-auth-tenant': 'globex', 'x-auth-sub': 'mallory', 'x-auth-role': 'admin' },
    });
    expect(created.status).toBe(200);
    expect(created.body.data).toMatchObject({ tenant_id: 'acme', user_id: 'alice' });

    const globex = await call(`${gatewayUrl()}/api/v1/logs`, { token: await token('globex', 'viewer') });
    expect(globex.body.data).toEqual([]);
  });

  it('keeps a viewer a viewer when it claims x-auth-role: admin', async () => {
    const viewer = await token('acme', 'viewer');
    const cleanup = await call(`${gatewayUrl()}/api/v1/logs/cleanup?all=true`, {
      method: 'DELETE',
      token: viewer,
      headers: { 'x-auth-role': 'admin' },
    });
    expect(cleanup.status).toBe(403);
    expect(cleanup.body).toEqual({ code: 403, msg: 'Forbidden', data: null });
  });

  it('refuses x-auth-* headers sent to the log and tenant services around the gateway (GATEWAY_SECRET)', async () => {
    const forged = { 'x-auth-tenant': 'system', 'x-auth-sub': 'root', 'x-auth-role': 'admin' };
    for (const url of [`${direct.log}/api/v1/logs`, `${direct.tenant}/api/v1/tenants`]) {
      const answer = await call(url, { headers: forged });
      expect(answer.status, `${url}: ${answer.text}`).toBe(401);
      expect(answer.body.msg).toBe('Unauthorized: identity headers not signed by the gateway (x-auth-signature)');
    }
    // The auth service's signed answer for an acme viewer: accepted as it is, refused for another tenant.
    const answer = await fetch(`${direct.auth}/auth`, {
      headers: {
        authorization: `Bearer ${await token('acme', 'viewer')}`,
        'x-original-method': 'GET',
        'x-original-url': 'http://gateway/api/v1/logs',
      },
    });
    expect(answer.status).toBe(200);
    const signed = Object.fromEntries(
      ['x-auth-sub', 'x-auth-tenant', 'x-auth-role', 'x-auth-exp', 'x-auth-signature'].flatMap((name) => {
        const value = answer.headers.get(name);
        return value === null ? [] : [[name, value]];
      }),
    );
    expect(Object.keys(signed)).toContain('x-auth-signature');
    expect((await call(`${direct.log}/api/v1/logs`, { headers: signed })).status).toBe(200);
    expect((await call(`${direct.log}/api/v1/logs`, { headers: { ...signed, 'x-auth-tenant': 'globex' } })).status).toBe(401);
  });

  it('records the address nginx saw in export records, never an X-Forwarded-For the client sent (TRUST_PROXY)', async () => {
    const exported = await call(`${gatewayUrl()}/api/v1/logs/export`, {
      token: await token('forwarded', 'auditor'),
      headers: { 'x-forwarded-for': '6.6.6.6', 'x-real-ip': '6.6.6.6' },
    });
    expect(exported.status, exported.text).toBe(200);
    const viewer = await token('forwarded', 'viewer');
    const records = async () =>
      (await call(`${gatewayUrl()}/api/v1/logs?action=logs.export`, { token: viewer })).body.data as { ip_address: string }[];
    await expect.poll(async () => (await records()).length, { timeout: 10_000, interval: 100 }).toBe(1);
    expect((await records())[0]?.ip_address).toBe('127.0.0.1');
  });

  it('refuses x-auth-* headers without a token', async () => {
    const forged = await call(`${gatewayUrl()}/api/v1/logs`, {
      headers: { 'x-auth-tenant': 'acme', 'x-auth-sub': 'mallory', 'x-auth-role': 'admin' },
    });
    expect(forged.status).toBe(401);
    expect(forged.body).toEqual({ code: 401, msg: 'Unauthorized', data: null });
  });
});

describe('401 and 403 at the gateway', () => {
  it('answers 401 for a missing, malformed, forged or wrongly signed token', async () => {
    const otherSecret = await mintToken({ ...JWT, secret: 'not-the-secret', tenant: 'acme', role: 'admin', sub: 'x', ttlSeconds: 600 });
    for (const bad of [undefined, 'not-a-jwt', `${readmeToken.slice(0, -4)}AAAA`, otherSecret]) {
      const response = await call(`${gatewayUrl()}/api/v1/logs/stats`, bad ? { token: bad } : {});
      expect(response.status, `token ${bad}`).toBe(401);
      expect(response.body).toEqual({ code: 401, msg: 'Unauthorized', data: null });
      // nginx's auth_request passes the auth service's RFC 6750 challenge on, with its reason.
      expect(response.headers.get('www-authenticate'), `token ${bad}`).toMatch(
        bad
          ? /^Bearer realm="logserver", error="invalid_token", error_description="(malformed token|invalid signature)/
          : /^Bearer realm="logserver"$/,
      );
    }
  });

  it('answers 403 when the role may not call the route', async () => {
    const cases: [tenant: string, role: Role, method: string, path: string][] = [
      ['acme', 'viewer', 'POST', '/api/v1/logs'],
      ['acme', 'writer', 'GET', '/api/v1/logs'],
      ['acme', 'viewer', 'GET', '/api/v1/logs/export'],
      ['acme', 'auditor', 'DELETE', '/api/v1/logs/cleanup'],
      ['acme', 'admin', 'GET', '/api/v1/tenants'],
    ];
    for (const [tenant, role, method, path] of cases) {
      const response = await call(`${gatewayUrl()}${path}`, {
        method,
        token: await token(tenant, role),
        ...(method === 'POST' ? { body: { action: 'a', resource_type: 'b' } } : {}),
      });
      expect(response.status, `${role} ${method} ${path}`).toBe(403);
    }
  });

  it('refuses a WebSocket upgrade without a token and for a writer', async () => {
    const status = (url: string) =>
      new Promise<number>((resolve, reject) => {
        const socket = new WebSocket(url);
        socket.on('open', () => {
          socket.close();
          resolve(101);
        });
        socket.on('unexpected-response', (_request, response) => resolve(response.statusCode ?? 0));
        socket.on('error', reject);
      });
    const ws = `${gatewayUrl().replace('http', 'ws')}/api/v1/logs/stream`;
    expect(await status(ws)).toBe(401);
    expect(await status(`${ws}?token=${await token('acme', 'writer')}`)).toBe(403);
  });

  it('serves the OpenAPI document to anyone, and nothing else without a token', async () => {
    const docs = await call(`${gatewayUrl()}/docs/json`);
    expect(docs.status).toBe(200);
    expect(docs.body.openapi).toMatch(/^3\./);
    expect(Object.keys(docs.body.paths)).toContain('/api/v1/logs');
  });

  it('answers 404 in the envelope for paths no service serves', async () => {
    const response = await call(`${gatewayUrl()}/internal/metrics`, { token: await token('acme', 'admin') });
    expect(response.status).toBe(404);
    expect(response.body).toEqual({ code: 404, msg: 'Not found', data: null });
  });
});

describe('the tenant service through the gateway', () => {
  it('lets the platform admin create a tenant whose returned secret signs tokens the gateway accepts', async () => {
    const platform = await token('system', 'admin');
    const created = await call(`${gatewayUrl()}/api/v1/tenants`, { token: platform, body: { key: 'initech', name: 'Initech' } });
    expect(created.status).toBe(200);
    expect(created.body.data).toMatchObject({ key: 'initech', name: 'Initech' });

    const listed = await call(`${gatewayUrl()}/api/v1/tenants`, { token: platform });
    expect(listed.body.data.map((tenant: { key: string }) => tenant.key)).toContain('initech');
    expect(JSON.stringify(listed.body)).not.toContain(created.body.data.secret);

    const duplicate = await call(`${gatewayUrl()}/api/v1/tenants`, { token: platform, body: { key: 'initech', name: 'Again' } });
    expect(duplicate.status).toBe(409);

    const writer = await token('initech', 'writer');
    const event = await call(`${gatewayUrl()}/api/v1/logs`, { token: writer, body: { action: 'hire', resource_type: 'employee' } });
    expect(event.body.data).toMatchObject({ tenant_id: 'initech' });
  });
});

describe('the WebSocket stream through the gateway', () => {
  it('delivers an event posted through the gateway to a Bearer-authenticated stream of that tenant only', async () => {
    const ws = `${gatewayUrl().replace('http', 'ws')}/api/v1/logs/stream`;
    const open = async (tenant: string) => {
      const socket = new WebSocket(ws, { headers: { authorization: `Bearer ${await token(tenant, 'viewer')}` } });
      const frames: string[] = [];
      // The first frame is the head cursor (docs/stream.md); what the test counts comes after it.
      const head = new Promise<string>((resolve) => socket.once('message', (data) => resolve(data.toString())));
      await new Promise((resolve, reject) => socket.once('open', resolve).once('error', reject));
      expect(JSON.parse(await head)).toEqual({ type: 'live', cursor: expect.any(String) });
      socket.on('message', (data) => frames.push(data.toString()));
      return { socket, frames };
    };
    const hooli = await open('hooli');
    const other = await open('piedpiper');

    const pong = new Promise((resolve) => hooli.socket.once('message', (data) => resolve(data.toString())));
    hooli.socket.send('ping');
    expect(await pong).toBe('pong');

    const next = new Promise<string>((resolve) => hooli.socket.once('message', (data) => resolve(data.toString())));
    const created = await call(`${gatewayUrl()}/api/v1/logs`, {
      token: await token('hooli', 'writer'),
      body: { action: 'deploy', resource_type: 'service', severity: 'ERROR' },
    });
    expect(JSON.parse(await next)).toMatchObject({ id: created.body.data.id, tenant_id: 'hooli', severity: 'ERROR' });
    expect(other.frames).toEqual([]);
    hooli.socket.close();
    other.socket.close();
  });
});

describe('the Postman collection (extra/) through the gateway, with newman', () => {
  it('passes every request’s tests with the cluster environment file', async () => {
    const overrides = {
      host: gatewayUrl(),
      tenant: 'postman',
      platform_secret: deriveTenantKey('md5-legacy', 'secret', 'system'),
    };
    // Behind the gateway a 200 on POST means queued, not yet stored: the worker stores a moment
    // later. The collection reads back what it wrote, so it runs in two parts, and the reads start
    // once the worker has stored every event the writes were acknowledged for.
    const requests = readCollection().item as { request: { method: string; url: { raw: string } } }[];
    const firstRead = requests.findIndex((item) => item.request.method === 'GET' && item.request.url.raw.includes('/api/v1/logs'));
    const writes = await runCollection('logserver-cluster.postman_environment.json', overrides, { items: [0, firstRead] });
    let acknowledged = 0;
    // The collection variables the writes set for the reads: the run's fresh tenant and its signing
    // key (Tenant add), and Log add's event id.
    let logId = '';
    let runTenant = '';
    let runSecret = '';
    for (const execution of writes.run.executions) {
      if (execution.response?.code !== 200) continue;
      const data = JSON.parse(execution.response.stream?.toString() ?? 'null')?.data;
      if (execution.request.url.getPath() === '/api/v1/tenants' && execution.request.method === 'POST') {
        runTenant = data.key;
        runSecret = data.secret;
      }
      if (!execution.request.url.getPath().startsWith('/api/v1/logs')) continue;
      acknowledged += Array.isArray(data) ? data.length : 1;
      if (!Array.isArray(data)) logId = data.id;
    }
    expect(acknowledged).toBeGreaterThan(1);
    expect(runTenant).toMatch(/^postman-/);
    const viewer = await token(runTenant, 'viewer');
    const stored = async () => (await call(`${gatewayUrl()}/api/v1/logs?size=1`, { token: viewer })).body?.meta?.total;
    await expect.poll(async () => (await stored()) === acknowledged, { timeout: 10_000, interval: 100 }).toBe(true);
    expect(await stored()).toBe(acknowledged);

    const reads = await runCollection('logserver-cluster.postman_environment.json', overrides, {
      items: [firstRead],
      variables: { log_id: logId, run_tenant: runTenant, run_secret: runSecret },
    });
    const failures = [...writes.run.failures, ...reads.run.failures].map((failure) => `${failure.source?.name}: ${failure.error.message}`);
    expect(failures).toEqual([]);
    const executions = [...writes.run.executions, ...reads.run.executions];
    expect(executions).toHaveLength(requests.length);
    for (const execution of executions) expect(execution.assertions?.length ?? 0, execution.item.name).toBeGreaterThanOrEqual(2);
  });
});

// Issue 13: what an outside attack on the gateway topology found (items 2, 6, 9 and 13).
describe('hardening: the gateway topology after the attack', () => {
  /** A GET through the gateway with curl, which (unlike fetch) sends any Host header it is given. */
  async function curlGet(path: string, headers: string[]): Promise<{ status: number; body: string }> {
    const { stdout } = await curl('curl', [
      '-sS',
      '-o',
      '-',
      '-w',
      '\n%{http_code}',
      '--path-as-is',
      ...headers.flatMap((h) => ['-H', h]),
      `${gatewayUrl()}${path}`,
    ]);
    const at = stdout.lastIndexOf('\n');
    return { status: Number(stdout.slice(at + 1)), body: stdout.slice(0, at) };
  }

  it('stores a subject of any text exactly as the all-in-one does (李雷, emoji, newline, NUL, José, padding)', async () => {
    const viewer = await token('hardened', 'viewer');
    for (const sub of ['李雷', 'emoji 😀', 'line\nbreak', 'nul\u0000byte', 'José', ' padded ']) {
      const created = await call(`${gatewayUrl()}/api/v1/logs`, {
        token: await token('hardened', 'writer', sub),
        body: { action: 'login', resource_type: 'session' },
      });
      expect(created.status, `${JSON.stringify(sub)}: ${created.text}`).toBe(200);
      expect(created.body.data.user_id).toBe(sub);
      await expect
        .poll(async () => (await call(`${gatewayUrl()}/api/v1/logs/${created.body.data.id}`, { token: viewer })).status, {
          timeout: 10_000,
          interval: 100,
        })
        .toBe(200);
      expect((await call(`${gatewayUrl()}/api/v1/logs/${created.body.data.id}`, { token: viewer })).body.data.user_id).toBe(sub);
    }
  });

  it('queues an event holding U+FFFF, U+FFFE and an emoji through SQS and stores it unchanged', async () => {
    const metadata = { text: 'a\uffffb\ufffec 😀' };
    const created = await call(`${gatewayUrl()}/api/v1/logs`, {
      token: await token('hardened', 'writer'),
      body: { action: 'x', resource_type: 'y', metadata },
    });
    expect(created.status, created.text).toBe(200);
    const viewer = await token('hardened', 'viewer');
    await expect
      .poll(async () => (await call(`${gatewayUrl()}/api/v1/logs/${created.body.data.id}`, { token: viewer })).status, {
        timeout: 10_000,
        interval: 100,
      })
      .toBe(200);
    expect((await call(`${gatewayUrl()}/api/v1/logs/${created.body.data.id}`, { token: viewer })).body.data.metadata).toEqual(metadata);
  });

  it('decides on the path nginx routes, never on the client’s Host header', async () => {
    const viewer = await token('hardened', 'viewer');
    const platform = await token('system', 'admin');
    const trick = 'Host: h\\api\\v1\\logs\\stream?';
    // A query token is honoured on the stream only: here it must not reach the event or the tenant list.
    const event = await curlGet(`/api/v1/logs/0198c0de-0000-7000-8000-000000000000?token=${viewer}`, [trick]);
    expect(event.status, event.body).toBe(401);
    const tenants = await curlGet(`/api/v1/tenants?token=${platform}`, [trick]);
    expect(tenants.status, tenants.body).toBe(401);
    // nginx routes %65xport to the export: the auth service decides on the export too (a viewer may not).
    const hidden = await curlGet('/api/v1/logs/%65xport', [`Authorization: Bearer ${viewer}`]);
    expect(hidden.status, hidden.body).toBe(403);
    expect(JSON.parse(hidden.body)).toEqual({ code: 403, msg: 'Forbidden', data: null });
    const auditor = await curlGet('/api/v1/logs/%65xport?action=none', [`Authorization: Bearer ${await token('hardened', 'auditor')}`]);
    expect(auditor.status, auditor.body).toBe(200);
    // Encoded separators and backslashes are refused, not guessed.
    for (const path of ['/api/v1/logs%2Fexport', '/api/v1/logs/%5Cexport', '/api/v1/logs\\export']) {
      const refused = await curlGet(path, [`Authorization: Bearer ${await token('hardened', 'auditor')}`]);
      expect([403, 404], `${path}: ${refused.body}`).toContain(refused.status);
      expect(JSON.parse(refused.body).code).toBe(refused.status);
    }
  });

  it('takes a bulk body up to the service’s 10 MiB limit, and refuses a larger one in the envelope', async () => {
    const writer = await token('hardened', 'writer');
    const big = Array.from({ length: 1000 }, (_, index) => ({
      action: 'bulk',
      resource_type: 'r',
      resource_id: `b${index}`,
      metadata: { pad: 'x'.repeat(8_000) },
    }));
    expect(JSON.stringify(big).length).toBeGreaterThan(7 * 1024 * 1024);
    const accepted = await call(`${gatewayUrl()}/api/v1/logs/bulk`, { token: writer, body: big });
    expect(accepted.status, accepted.text.slice(0, 200)).toBe(200);
    const tooBig = await call(`${gatewayUrl()}/api/v1/logs/bulk`, {
      token: writer,
      body: JSON.stringify(big).replace(/x{8000}/g, 'x'.repeat(11_000)),
    });
    expect(tooBig.status).toBe(413);
    expect(tooBig.body).toMatchObject({ code: 413, data: null });
  });
});

/** The TCP connections (local and peer address, in any state but LISTEN) on a service's port, from `ss`. */
async function connectionsTo(url: string): Promise<Set<string>> {
  const port = new URL(url).port;
  const { stdout } = await promisify(execFile)('ss', ['-Htan', `( sport = :${port} or dport = :${port} )`]);
  return new Set(
    stdout
      .split('\n')
      .map((line) => line.trim().split(/\s+/))
      .filter((fields) => fields.length >= 5 && fields[0] !== 'LISTEN')
      .map((fields) => `${fields[3]} ${fields[4]}`),
  );
}

describe('the gateway keeps its upstream connections alive (#15)', () => {
  it('sends 40 requests and their 40 auth subrequests over a few kept-alive connections, not one each', async () => {
    const viewer = await token('acme', 'viewer');
    const before = { auth: await connectionsTo(direct.auth as string), log: await connectionsTo(direct.log as string) };
    for (let request = 0; request < 40; request++) {
      const answer = await call(`${gatewayUrl()}/api/v1/logs?size=1`, { token: viewer });
      expect(answer.status, answer.text).toBe(200);
    }
    // A closed connection stays listed (TIME-WAIT) for a minute, so a connection per request would show 40 new ones.
    for (const service of ['auth', 'log'] as const) {
      const after = await connectionsTo(direct[service] as string);
      const opened = [...after].filter((connection) => !before[service].has(connection));
      // Each nginx worker (worker_processes auto: one per core) may open its own; both ends of a loopback connection are listed.
      expect(opened.length, `${service}: ${opened.join(', ')}`).toBeLessThanOrEqual(2 * 4);
    }
  });
});
