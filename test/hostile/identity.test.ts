import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, type RunningServer, startAllInOne } from '../support/all-in-one.js';
import { expectEnvelope, openStream, upgradeStatus } from './hostile-support.js';

let server: RunningServer;
beforeAll(async () => {
  server = await startAllInOne();
});
afterAll(() => server.close());

const valid = { action: 'login', resource_type: 'session' };
const SERVER_FIELDS = {
  tenant_id: 'other-tenant',
  user_id: 'someone-else',
  id: '00000000-0000-7000-8000-000000000000',
  received_at: '2020-01-01T00:00:00.000Z',
};

describe('mass assignment: the server’s own fields cannot come from the body', () => {
  it.each(Object.entries(SERVER_FIELDS))('%s in a single event is a 422 that names it', async (field, value) => {
    const writer = await server.token('mass-a', 'writer', { sub: 'alice' });
    const response = await call(`${server.url}/api/v1/logs`, { token: writer, body: { ...valid, [field]: value } });
    expectEnvelope(response, 422);
    expect(JSON.stringify(response.body.data)).toContain(field);
  });

  it.each(Object.entries(SERVER_FIELDS))('%s in one bulk item refuses the whole batch and names the item', async (field, value) => {
    const writer = await server.token('mass-a', 'writer', { sub: 'alice' });
    const response = await call(`${server.url}/api/v1/logs/bulk`, { token: writer, body: [valid, { ...valid, [field]: value }, valid] });
    expectEnvelope(response, 422);
    expect(response.body.data.some((item: { loc: unknown[] }) => item.loc[1] === 1)).toBe(true);
    const viewer = await server.token('mass-a', 'viewer');
    expect((await call(`${server.url}/api/v1/logs?search=${value}`, { token: viewer })).body.meta.total).toBe(0);
  });

  it('the same names inside metadata, before and after are plain data, and the event keeps the token’s tenant and subject', async () => {
    const writer = await server.token('mass-a', 'writer', { sub: 'alice' });
    const body = { ...valid, metadata: SERVER_FIELDS, before: { tenant_id: 'x' }, after: { user_id: 'y' } };
    const created = await call(`${server.url}/api/v1/logs`, { token: writer, body });
    expect(created.status).toBe(200);
    const fetched = await call(`${server.url}/api/v1/logs/${created.body.data.id}`, { token: await server.token('mass-a', 'viewer') });
    expect(fetched.body.data).toMatchObject({ tenant_id: 'mass-a', user_id: 'alice', metadata: SERVER_FIELDS, before: { tenant_id: 'x' } });
    expect(fetched.body.data.id).not.toBe(SERVER_FIELDS.id);
    expect(fetched.body.data.received_at).not.toBe(SERVER_FIELDS.received_at);
    const other = await call(`${server.url}/api/v1/logs/${created.body.data.id}`, { token: await server.token('other-tenant', 'admin') });
    expect(other.status).toBe(404);
  });

  it('every event of a bulk carries the token’s tenant and subject', async () => {
    const writer = await server.token('mass-a', 'writer', { sub: 'bulk-bob' });
    const response = await call(`${server.url}/api/v1/logs/bulk`, { token: writer, body: [valid, valid, valid] });
    expect(response.status).toBe(200);
    const viewer = await server.token('mass-a', 'viewer');
    const stored = await call(`${server.url}/api/v1/logs?user_id=bulk-bob&size=100`, { token: viewer });
    expect(stored.body.meta.total).toBe(3);
    for (const event of stored.body.data) expect(event).toMatchObject({ tenant_id: 'mass-a', user_id: 'bulk-bob' });
  });
});

describe('client-sent x-auth-* headers never change who a request is (all-in-one)', () => {
  const spoof = { 'x-auth-tenant': 'system', 'x-auth-role': 'admin', 'x-auth-sub': 'root' };

  it('without a token they are not an identity: 401 on every protected route', async () => {
    for (const [method, path] of [
      ['GET', '/api/v1/logs'],
      ['POST', '/api/v1/logs'],
      ['POST', '/api/v1/logs/bulk'],
      ['GET', '/api/v1/logs/stats'],
      ['GET', '/api/v1/logs/export'],
      ['DELETE', '/api/v1/logs/cleanup'],
      ['GET', '/api/v1/tenants'],
      ['POST', '/api/v1/tenants'],
    ] as const) {
      const response = await call(`${server.url}${path}`, { method, headers: spoof, body: method === 'GET' ? undefined : {} });
      expectEnvelope(response, 401);
    }
    expect((await upgradeStatus(server.url, '', spoof)).status).toBe(401);
  });

  it('with a token they neither raise the role, nor switch the tenant, nor rename the subject', async () => {
    const viewer = await server.token('hdr-a', 'viewer', { sub: 'vera' });
    const writer = await server.token('hdr-a', 'writer', { sub: 'walt' });
    // A viewer that claims admin still may not write, and a tenant admin that claims the admin tenant may not manage tenants.
    expectEnvelope(await call(`${server.url}/api/v1/logs`, { token: viewer, headers: spoof, body: valid }), 403);
    expectEnvelope(await call(`${server.url}/api/v1/logs/cleanup?all=true`, { token: viewer, method: 'DELETE', headers: spoof }), 403);
    expectEnvelope(await call(`${server.url}/api/v1/logs/export`, { token: viewer, headers: spoof }), 403);
    const tenantAdmin = await server.token('hdr-a', 'admin');
    expectEnvelope(await call(`${server.url}/api/v1/tenants`, { token: tenantAdmin, headers: spoof }), 403);
    expectEnvelope(
      await call(`${server.url}/api/v1/tenants`, { token: tenantAdmin, headers: spoof, body: { key: 'pwned', name: 'x' } }),
      403,
    );

    const created = await call(`${server.url}/api/v1/logs`, {
      token: writer,
      headers: { ...spoof, 'x-auth-tenant': 'hdr-b' },
      body: valid,
    });
    expect(created.body.data).toMatchObject({ tenant_id: 'hdr-a', user_id: 'walt' });
    const bulk = await call(`${server.url}/api/v1/logs/bulk`, { token: writer, headers: spoof, body: [valid] });
    expect(bulk.body.data[0]).toMatchObject({ tenant_id: 'hdr-a', user_id: 'walt' });

    // Reading with B's tenant in the header still reads A, and never B.
    const writerB = await server.token('hdr-b', 'writer');
    const bEvent = await call(`${server.url}/api/v1/logs`, { token: writerB, body: { action: 'b-only', resource_type: 'r' } });
    const asB = { 'x-auth-tenant': 'hdr-b', 'x-auth-role': 'admin', 'x-auth-sub': 'writer-of-hdr-b' };
    expect((await call(`${server.url}/api/v1/logs/${bEvent.body.data.id}`, { token: viewer, headers: asB })).status).toBe(404);
    const listed = await call(`${server.url}/api/v1/logs?size=100`, { token: viewer, headers: asB });
    expect(listed.body.data.length).toBeGreaterThan(0);
    for (const event of listed.body.data) expect(event.tenant_id).toBe('hdr-a');
    expect(
      (await call(`${server.url}/api/v1/logs/stats?group_by=action`, { token: viewer, headers: asB })).body.data['b-only'],
    ).toBeUndefined();
  });

  it('on the stream: a viewer that claims B in headers hears A only', async () => {
    const viewer = await server.token('hdr-a', 'viewer');
    const stream = await openStream(server.url, `token=${viewer}`, { 'x-auth-tenant': 'hdr-b', 'x-auth-role': 'admin' });
    const writerB = await server.token('hdr-b', 'writer');
    const writerA = await server.token('hdr-a', 'writer');
    await call(`${server.url}/api/v1/logs`, { token: writerB, body: { action: 'b-stream', resource_type: 'r' } });
    const mine = await call(`${server.url}/api/v1/logs`, { token: writerA, body: { action: 'a-stream', resource_type: 'r' } });
    await stream.waitFor((frame) => frame.includes(mine.body.data.id));
    expect(stream.frames.every((frame) => JSON.parse(frame).tenant_id === 'hdr-a')).toBe(true);
    await stream.close();
  });
});

describe('tenant administration takes no hostile input', () => {
  it('refuses a client-chosen secret, bad keys and unknown fields; never lists a secret', async () => {
    const platform = await server.token('system', 'admin');
    const create = (body: unknown) => call(`${server.url}/api/v1/tenants`, { token: platform, body });
    for (const body of [
      { key: 'chosen', name: 'x', secret: 'mine' },
      { key: 'chosen', name: 'x', created_at: '2020-01-01T00:00:00Z' },
      { key: 'UPPER', name: 'x' },
      { key: '../etc', name: 'x' },
      { key: "x' OR '1'='1", name: 'x' },
      { key: 'a.b', name: 'x' },
      { key: '$ne', name: 'x' },
      { key: '', name: 'x' },
      { key: 'k'.repeat(65), name: 'x' },
      { key: 'ok', name: 'n'.repeat(129) },
      { key: { $ne: null }, name: 'x' },
    ]) {
      expectEnvelope(await create(body), 422);
    }
    const created = await create({ key: 'listed', name: 'Listed' });
    expect(created.status).toBe(200);
    const listed = await call(`${server.url}/api/v1/tenants`, { token: platform });
    expect(listed.status).toBe(200);
    expect(listed.text).not.toContain(created.body.data.secret);
    for (const tenant of listed.body.data) expect(tenant).not.toHaveProperty('secret');
  });

  it.each(['__proto__', 'constructor', 'prototype'])('a tenant keyed %s is a tenant like any other, isolated both ways', async (key) => {
    const writer = await server.token(key, 'writer', { sub: 'proto-writer' });
    const created = await call(`${server.url}/api/v1/logs`, { token: writer, body: { action: `in-${key}`, resource_type: 'r' } });
    expect(created.status).toBe(200);
    expect(created.body.data.tenant_id).toBe(key);
    const own = await call(`${server.url}/api/v1/logs?size=100`, { token: await server.token(key, 'viewer') });
    expect(own.body.data.map((event: { id: string }) => event.id)).toEqual([created.body.data.id]);
    const stranger = await server.token('plain-tenant', 'admin');
    expect((await call(`${server.url}/api/v1/logs/${created.body.data.id}`, { token: stranger })).status).toBe(404);
    expect((await call(`${server.url}/api/v1/logs?search=in-${key}`, { token: stranger })).body.meta.total).toBe(0);
  });
});
