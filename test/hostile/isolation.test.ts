import { randomBytes } from 'node:crypto';
import type { Role } from '@logserver/shared/auth/identity';
import { deriveTenantKey } from '@logserver/shared/auth/tenant-key';
import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, type RunningServer, startAllInOne } from '../support/all-in-one.js';
import { expectNoneOf, headerText, openStream, upgradeStatus } from './hostile-support.js';

const SECRET = randomBytes(24).toString('hex');
const A = 'victim-a';
const B = 'intruder-b';
const ROLES: Role[] = ['admin', 'auditor', 'viewer', 'writer'];

let server: RunningServer;
/** Everything of tenant A that must never reach B: its key, ids, texts, subject and cursors. */
const markers: string[] = [A];
const aIds: string[] = [];
let aCursor = '';
let aTotal = 0;
const today = new Date().toISOString().slice(0, 10);

const aEvent = (n: number) => ({
  action: `a-secret-action-${n}`,
  resource_type: 'a-secret-type',
  resource_id: `a-secret-res-${n}`,
  ip_address: '10.99.88.77',
  user_agent: 'a-secret-agent/1.0',
  severity: 'CRITICAL',
  metadata: { a_marker: 'a-secret-meta' },
  before: { a_before: 'a-secret-before' },
});

/** Query strings that would match A's events if the tenant scope were missing. */
const FILTERS_MATCHING_A = [
  '',
  'action=a-secret-action-1',
  'resource_type=a-secret-type',
  'resource_id=a-secret-res-1',
  `user_id=writer-of-${A}`,
  'ip_address=10.99.88.77',
  'user_agent=a-secret-agent',
  'severity=CRITICAL',
  'search=a-secret',
  'search=victim-a',
  `timestamp=${today}`,
  'from=2000-01-01&to=2999-01-01',
];

beforeAll(async () => {
  server = await startAllInOne({ AUTH_SECRET: SECRET });
  const writerA = await server.token(A, 'writer');
  markers.push(`writer-of-${A}`, 'a-secret', '10.99.88.77');
  const one = await call(`${server.url}/api/v1/logs`, { token: writerA, body: aEvent(1) });
  expect(one.status).toBe(200);
  aIds.push(one.body.data.id);
  const bulk = await call(`${server.url}/api/v1/logs/bulk`, { token: writerA, body: [aEvent(2), aEvent(3), aEvent(4)] });
  expect(bulk.status).toBe(200);
  aIds.push(...bulk.body.data.map((event: { id: string }) => event.id));
  markers.push(...aIds);
  // A cursor that A's own viewer was issued: B replays it below.
  const page = await call(`${server.url}/api/v1/logs?size=1`, { token: await server.token(A, 'viewer') });
  aCursor = page.body.meta.next_cursor;
  aTotal = page.body.meta.total;
  expect(aCursor).toEqual(expect.any(String));
  markers.push(aCursor);
  // B has events of its own, so an empty answer is not mistaken for isolation.
  const writerB = await server.token(B, 'writer');
  expect((await call(`${server.url}/api/v1/logs`, { token: writerB, body: { action: 'b-own', resource_type: 'b-type' } })).status).toBe(
    200,
  );
});
afterAll(() => server.close());

let intruders = 0;
/**
 * A fresh tenant of B's kind holding one event of its own. Export and cleanup record themselves as
 * audit events in the caller's tenant, with the caller's parameters: after B searched for A's text,
 * B's own trail rightly holds that text. A fresh tenant per query keeps such echoes of B's own
 * input apart from a real leak.
 */
async function freshIntruder(role: Role): Promise<{ tenant: string; token: string }> {
  intruders += 1;
  const tenant = `intruder-${intruders}`;
  const writer = await server.token(tenant, 'writer');
  expect((await call(`${server.url}/api/v1/logs`, { token: writer, body: { action: 'b-own', resource_type: 'b-type' } })).status).toBe(200);
  return { tenant, token: await server.token(tenant, role) };
}

async function aStillHasEverything(): Promise<void> {
  const list = await call(`${server.url}/api/v1/logs?size=100`, { token: await server.token(A, 'admin') });
  expect(list.body.meta.total).toBe(aTotal);
  expect(list.body.data.map((event: { id: string }) => event.id).sort()).toEqual([...aIds].sort());
}

describe.each(ROLES)("tenant B's %s token never reaches tenant A", (role) => {
  it('by id: every id taken from A’s responses, in several spellings', async () => {
    const token = await server.token(B, role);
    for (const id of aIds) {
      for (const spelling of [id, id.toUpperCase(), `${id}/`, encodeURIComponent(id), `${id}%20`, `${id}%00`, `..%2F${A}%2F${id}`]) {
        const response = await call(`${server.url}/api/v1/logs/${spelling}`, { token });
        expect(response.status, spelling).toBeLessThan(500);
        expect([403, 404, 422]).toContain(response.status);
        expectNoneOf(markers, response.text, headerText(response.headers));
      }
    }
  });

  it('in the list, with every filter that matches A and with A’s cursor', async () => {
    const token = await server.token(B, role);
    for (const query of [...FILTERS_MATCHING_A, `cursor=${aCursor}`, `cursor=${aCursor}&sort=desc&size=100`]) {
      const response = await call(`${server.url}/api/v1/logs?${query}`, { token });
      if (role === 'writer') expect(response.status).toBe(403);
      else {
        expect(response.status, query).toBe(200);
        for (const event of response.body.data) expect(event.tenant_id).toBe(B);
      }
      expectNoneOf(markers, response.text, headerText(response.headers));
    }
  });

  it('in the tenant parameters a client might try', async () => {
    const token = await server.token(B, role);
    for (const query of [`tenant_id=${A}`, `tenant=${A}`, `tenant_id[$ne]=${B}`]) {
      const response = await call(`${server.url}/api/v1/logs?${query}`, { token });
      expect([403, 422]).toContain(response.status);
      expectNoneOf(markers, response.text);
    }
  });

  it('in stats, for every grouping and filter', async () => {
    const token = await server.token(B, role);
    for (const query of [...FILTERS_MATCHING_A, 'group_by=action', 'group_by=user_id', 'group_by=resource_type', 'interval=day']) {
      const response = await call(`${server.url}/api/v1/logs/stats?${query}`, { token });
      if (role === 'writer') expect(response.status).toBe(403);
      else expect(response.status, `${query}: ${response.text}`).toBe(200);
      expectNoneOf(markers, response.text, headerText(response.headers));
    }
    if (role !== 'writer') {
      // B's count is B's own: the same as B's list says, never A's events added in.
      const severity = await call(`${server.url}/api/v1/logs/stats?severity=CRITICAL`, { token });
      const own = await call(`${server.url}/api/v1/logs?severity=CRITICAL&size=100`, { token });
      expect(severity.body.data.CRITICAL).toBe(own.body.meta.total);
      expect(own.body.data.every((event: { tenant_id: string }) => event.tenant_id === B)).toBe(true);
    }
  });

  it('in export, in every format, with every filter that matches A', async () => {
    for (const format of ['ndjson', 'csv', 'json']) {
      for (const query of FILTERS_MATCHING_A) {
        const intruder = await freshIntruder(role);
        const response = await call(`${server.url}/api/v1/logs/export?format=${format}&${query}`, { token: intruder.token });
        expect(response.status, response.text).toBe(role === 'auditor' || role === 'admin' ? 200 : 403);
        expectNoneOf(markers, response.text, headerText(response.headers));
        if (response.status === 200 && format === 'ndjson') {
          for (const line of response.text.split('\n').filter(Boolean)) expect(JSON.parse(line).tenant_id).toBe(intruder.tenant);
        }
        if (response.status === 200 && format === 'json') {
          for (const event of JSON.parse(response.text)) expect(event.tenant_id).toBe(intruder.tenant);
        }
      }
    }
    await aStillHasEverything();
  });

  it('through cleanup: nothing of A is deleted, and the count is B’s own', async () => {
    for (const query of [
      'all=true',
      'before=2999-01-01T00:00:00Z',
      'older_than_days=1',
      `all=true&tenant_id=${A}`,
      `before=2999-01-01T00:00:00Z&user_id=writer-of-${A}`,
    ]) {
      const intruder = await freshIntruder(role);
      const response = await call(`${server.url}/api/v1/logs/cleanup?${query}`, { token: intruder.token, method: 'DELETE' });
      expect(response.status).toBeLessThan(500);
      if (role !== 'admin') expect(response.status).toBe(403);
      else if (query.includes('tenant_id') || query.includes('user_id')) expect(response.status).toBe(422);
      else {
        expect(response.status, response.text).toBe(200);
        // B held one event of its own, or none older than a day.
        expect(response.body.data.deleted_count).toBe(query === 'older_than_days=1' ? 0 : 1);
      }
      expectNoneOf(markers, response.text, headerText(response.headers));
    }
    await aStillHasEverything();
  });

  it('on the stream: no frame of A, with filters that match A, while A writes', async () => {
    const token = await server.token(B, role);
    if (role === 'writer') {
      expect((await upgradeStatus(server.url, `token=${token}`)).status).toBe(403);
      return;
    }
    const streams = await Promise.all(
      ['', 'action=a-secret-action-9', 'search=a-secret', 'severity=CRITICAL'].map((query) =>
        openStream(server.url, `token=${token}${query ? `&${query}` : ''}`),
      ),
    );
    const writerA = await server.token(A, 'writer');
    const fromA = await call(`${server.url}/api/v1/logs`, { token: writerA, body: aEvent(9) });
    expect(fromA.status).toBe(200);
    aIds.push(fromA.body.data.id);
    markers.push(fromA.body.data.id);
    aTotal += 1;
    // B's own CRITICAL event with a-secret-free text: once it arrives on the unfiltered stream, A's (sent
    // before it, on the same in-order feed) would have arrived too.
    const writerB = await server.token(B, 'writer');
    const own = await call(`${server.url}/api/v1/logs`, {
      token: writerB,
      body: { action: 'b-marker', resource_type: 'b-type', severity: 'CRITICAL' },
    });
    const ownId: string = own.body.data.id;
    await streams[0]?.waitFor((frame) => frame.includes(ownId));
    await streams[3]?.waitFor((frame) => frame.includes(ownId));
    for (const stream of streams) {
      expectNoneOf(markers, ...stream.frames);
      await stream.close();
    }
  });
});

describe('tokens that claim tenant A without its key', () => {
  const claimsOfA = { tenant: A, role: 'admin', sub: 'mallory' };
  const sign = (key: string) =>
    new SignJWT(claimsOfA)
      .setProtectedHeader({ alg: 'HS256' })
      .setAudience('logserver')
      .setIssuer('issuer')
      .setExpirationTime('1h')
      .sign(new TextEncoder().encode(key));

  it('signed with B’s key, with an empty key or unsigned: 401 and nothing of A', async () => {
    const header = Buffer.from(JSON.stringify({ alg: 'none', typ: 'JWT' })).toString('base64url');
    const payload = Buffer.from(JSON.stringify({ ...claimsOfA, aud: 'logserver', iss: 'issuer', exp: 9_999_999_999 })).toString(
      'base64url',
    );
    const forged = [await sign(deriveTenantKey('hmac-sha256', SECRET, B)), await sign(SECRET), `${header}.${payload}.`];
    for (const token of forged) {
      for (const path of ['/api/v1/logs', `/api/v1/logs/${aIds[0]}`, '/api/v1/logs/stats']) {
        const response = await call(`${server.url}${path}`, { token });
        expect(response.status).toBe(401);
        expectNoneOf(markers.slice(1), response.text);
      }
      expect((await upgradeStatus(server.url, `token=${token}`)).status).toBe(401);
    }
  });
});
