import type { LogEvent } from '@logserver/shared/schemas/log-event';
import { matchesFilter } from '@logserver/shared/store/filter';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, type RunningServer, startAllInOne } from '../support/all-in-one.js';
import { expectEnvelope, upgradeStatus } from './hostile-support.js';

const TENANT = 'inject';
const SQL = [
  "' OR '1'='1",
  "'; DROP TABLE logs; --",
  '" OR ""="',
  "1; SELECT * FROM logs WHERE tenant_id != 'x'",
  "%' --",
  "' UNION SELECT id, tenant_id FROM logs --",
  'back\\slash',
  "Robert'); DELETE FROM logs WHERE (1=1",
];
const OPERATORS = ['$ne', '{"$ne":null}', '$where', '{"$gt":""}', '[object Object]', 'null', 'undefined', 'true'];
const PATTERNS = ['.*', '(a+)+$', '[a-z]+', '^admin$', 'a|b', '%', '_', '\\d', '(?i)X'];

let server: RunningServer;
const stored: LogEvent[] = [];
let viewer: string;

const get = (path: string) => call(`${server.url}${path}`, { token: viewer });
const q = (value: string) => encodeURIComponent(value);

beforeAll(async () => {
  server = await startAllInOne();
  viewer = await server.token(TENANT, 'viewer');
  // SQL text in every field a client controls, and as the token's subject.
  for (const text of SQL) {
    const writer = await server.token(TENANT, 'writer', { sub: text });
    const body = {
      action: text,
      resource_type: text,
      resource_id: text,
      user_agent: text,
      metadata: { [text]: text },
      before: { note: text },
      after: { list: [text] },
    };
    const response = await call(`${server.url}/api/v1/logs`, { token: writer, body });
    expect(response.status, response.text).toBe(200);
    stored.push(response.body.data);
  }
  const writer = await server.token(TENANT, 'writer');
  const plain = [...OPERATORS, ...PATTERNS, 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa!'].map((text) => ({
    action: text,
    resource_type: 'plain',
    metadata: { text },
  }));
  const bulk = await call(`${server.url}/api/v1/logs/bulk`, { token: writer, body: plain });
  expect(bulk.status, bulk.text).toBe(200);
  stored.push(...bulk.body.data);
});
afterAll(() => server.close());

/** What the list must answer for a filter: the same events the documented filter semantics select. */
async function expectListMatches(filter: Parameters<typeof matchesFilter>[1], query: string): Promise<void> {
  const response = await get(`/api/v1/logs?size=100&${query}`);
  expect(response.status, response.text).toBe(200);
  const expected = stored.filter((event) => matchesFilter(event, filter)).map((event) => event.id);
  expect(response.body.data.map((event: LogEvent) => event.id).sort(), query).toEqual(expected.sort());
  expect(response.body.meta.total).toBe(expected.length);
}

describe('SQL text in every field is stored and matched as plain text', () => {
  it('is stored exactly as sent, with the subject from the token', async () => {
    for (const event of stored.slice(0, SQL.length)) {
      const fetched = await get(`/api/v1/logs/${event.id}`);
      expect(fetched.body.data).toEqual(event);
      expect(fetched.body.data.user_id).toBe(event.action);
    }
  });

  it('matches only itself in every equality filter, substring filter and search', async () => {
    for (const text of SQL) {
      await expectListMatches({ action: text }, `action=${q(text)}`);
      await expectListMatches({ resource_type: text }, `resource_type=${q(text)}`);
      await expectListMatches({ resource_id: text }, `resource_id=${q(text)}`);
      await expectListMatches({ user_id: text }, `user_id=${q(text)}`);
      await expectListMatches({ user_agent: text }, `user_agent=${q(text)}`);
      await expectListMatches({ search: text }, `search=${q(text)}`);
      expect((await get(`/api/v1/logs?action=${q(text)}`)).body.meta.total).toBe(1);
    }
  });

  it('is counted as its own group in stats, and every table is still there', async () => {
    const byAction = await get('/api/v1/logs/stats?group_by=action');
    const byUser = await get('/api/v1/logs/stats?group_by=user_id');
    for (const text of SQL) {
      expect(byAction.body.data[text]).toBe(1);
      expect(byUser.body.data[text]).toBe(1);
    }
    expect((await get('/api/v1/logs?size=1')).body.meta.total).toBe(stored.length);
  });
});

describe('operator-shaped query values and keys', () => {
  it('values are literal text: `action=$ne` finds the event whose action is "$ne" and nothing else', async () => {
    for (const text of OPERATORS) await expectListMatches({ action: text }, `action=${q(text)}`);
  });

  it.each([
    'action[$ne]=x',
    'action[]=x',
    'action.x=1',
    'severity[$in]=INFO',
    'search[$regex]=.*',
    '$where=1',
    'user_id[$gt]=',
    '__proto__[polluted]=1',
    'constructor[prototype][polluted]=1',
    'tenant_id=inject',
  ])('bracket and operator keys are a 422 that names the allowed parameters: %s', async (query) => {
    const auditor = await server.token(TENANT, 'auditor');
    for (const path of ['/api/v1/logs', '/api/v1/logs/stats', '/api/v1/logs/export']) {
      const response = await call(`${server.url}${path}?${query}`, { token: auditor });
      expectEnvelope(response, 422);
      expect(response.body.data[0].msg).toMatch(/allowed: .*action/);
    }
    expect((await upgradeStatus(server.url, `token=${viewer}&${query}`)).status).toBe(422);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('a repeated parameter is refused, not guessed', async () => {
    expectEnvelope(await get('/api/v1/logs?action=$ne&action=x'), 422);
    expectEnvelope(await get('/api/v1/logs?search=a&search=b'), 422);
  });
});

describe('regular-expression and wildcard text in search is matched literally', () => {
  it.each(PATTERNS)('%s', async (pattern) => {
    await expectListMatches({ search: pattern }, `search=${q(pattern)}`);
    // A pattern that would match everything as a regex or LIKE matches only the events that contain its text.
    const response = await get(`/api/v1/logs?size=100&search=${q(pattern)}`);
    expect(response.body.meta.total).toBeLessThan(stored.length);
    for (const event of response.body.data)
      expect(JSON.stringify(event).toLowerCase()).toContain(JSON.stringify(pattern).slice(1, -1).toLowerCase());
  });
});

describe('JSON keys inside before, after and metadata', () => {
  const writerToken = () => server.token(TENANT, 'writer');
  it.each([
    [{ metadata: { $where: 'sleep(1000)' } }, ['body', 'metadata', '$where']],
    [{ before: { 'a.b': 1 } }, ['body', 'before', 'a.b']],
    [{ after: { nested: { deeper: { $set: { tenant_id: 'x' } } } } }, ['body', 'after', 'nested', 'deeper', '$set']],
    [{ metadata: { list: [{ ok: 1 }, { 'user.name': 'x' }] } }, ['body', 'metadata', 'list', 1, 'user.name']],
    [{ metadata: { $: 1 } }, ['body', 'metadata', '$']],
  ])('%j is a 422 naming the key', async (fields, loc) => {
    const response = await call(`${server.url}/api/v1/logs`, {
      token: await writerToken(),
      body: { action: 'a', resource_type: 'r', ...fields },
    });
    expectEnvelope(response, 422);
    expect(response.body.data.map((item: { loc: unknown }) => item.loc)).toContainEqual(loc);
    const bulk = await call(`${server.url}/api/v1/logs/bulk`, {
      token: await writerToken(),
      body: [{ action: 'a', resource_type: 'r', ...fields }],
    });
    expectEnvelope(bulk, 422);
  });

  it.each([
    '{"action":"a","resource_type":"r","__proto__":{"polluted":true}}',
    '{"action":"a","resource_type":"r","metadata":{"__proto__":{"polluted":true}}}',
    '{"action":"a","resource_type":"r","after":{"x":{"__proto__":{"polluted":true}}}}',
    '{"action":"a","resource_type":"r","constructor":{"prototype":{"polluted":true}}}',
    '{"action":"a","resource_type":"r","metadata":{"constructor":{"prototype":{"polluted":true}}}}',
    '[{"action":"a","resource_type":"r","metadata":{"__proto__":{"polluted":true}}}]',
  ])('prototype-poisoning JSON is refused with a 400 and pollutes nothing: %s', async (text) => {
    const path = text.startsWith('[') ? '/api/v1/logs/bulk' : '/api/v1/logs';
    const response = await call(`${server.url}${path}`, { token: await writerToken(), body: text });
    expectEnvelope(response, 400);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(Object.prototype).not.toHaveProperty('polluted');
  });

  it('keys named like Object.prototype members are plain data, stored and read back as sent', async () => {
    const metadata = { constructor: 'c', prototype: { toString: 'x' }, hasOwnProperty: 1, __defineGetter__: null, valueOf: [1] };
    const response = await call(`${server.url}/api/v1/logs`, {
      token: await writerToken(),
      body: { action: 'proto-keys', resource_type: 'r', metadata },
    });
    expect(response.status, response.text).toBe(200);
    const fetched = await get(`/api/v1/logs/${response.body.data.id}`);
    expect(fetched.body.data.metadata).toEqual(metadata);
    expect(Object.keys(fetched.body.data.metadata).sort()).toEqual(Object.keys(metadata).sort());
  });

  it('actions and subjects named __proto__ or constructor are their own groups in stats', async () => {
    for (const name of ['__proto__', 'constructor', 'toString']) {
      const writer = await server.token('proto-stats', 'writer', { sub: name });
      expect((await call(`${server.url}/api/v1/logs`, { token: writer, body: { action: name, resource_type: name } })).status).toBe(200);
    }
    const reader = await server.token('proto-stats', 'viewer');
    const expected = JSON.parse('{"__proto__":1,"constructor":1,"toString":1}');
    for (const group of ['action', 'user_id', 'resource_type']) {
      const response = await call(`${server.url}/api/v1/logs/stats?group_by=${group}`, { token: reader });
      expect(response.status).toBe(200);
      expect(JSON.parse(response.text).data).toEqual(expected);
      const byDay = JSON.parse((await call(`${server.url}/api/v1/logs/stats?group_by=${group}&interval=day`, { token: reader })).text);
      expect(byDay.data.totals).toEqual(expected);
      expect(byDay.data.buckets.at(-1).counts).toEqual(expected);
    }
  });
});
