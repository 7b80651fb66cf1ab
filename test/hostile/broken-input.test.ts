import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, type RunningServer, startAllInOne } from '../support/all-in-one.js';
import { expectEnvelope, parseRawAnswer, rawRequest } from './hostile-support.js';

let server: RunningServer;
let writer: string;
let viewer: string;
beforeAll(async () => {
  server = await startAllInOne();
  writer = await server.token('broken', 'writer');
  viewer = await server.token('broken', 'viewer');
});
afterAll(() => server.close());

const event = { action: 'a', resource_type: 'r' };
const raw = (path: string, body: string | undefined, headers: Record<string, string>) =>
  call(`${server.url}${path}`, { method: 'POST', token: writer, body, headers });
const post = (body: unknown) => call(`${server.url}/api/v1/logs`, { token: writer, body });
const list = (query: string) => call(`${server.url}/api/v1/logs?${query}`, { token: viewer });

async function expectNothingStored(): Promise<void> {
  expect((await list('size=1')).body.meta.total).toBe(0);
}

describe('malformed JSON is a 400 in the envelope', () => {
  it.each([
    '{',
    '{"action":}',
    "{'action':'a','resource_type':'r'}",
    '{"action":"a","resource_type":"r",}',
    '{"action":"a","resource_type":"r"} trailing',
    '{"action":NaN,"resource_type":"r"}',
    '{"action":"a\u0000","resource_type":"r"',
    '\uFEFF{"action":"a","resource_type":"r"',
    '[{"action":"a","resource_type":"r"},]',
  ])('%j', async (text) => {
    for (const path of ['/api/v1/logs', '/api/v1/logs/bulk'])
      expectEnvelope(await raw(path, text, { 'content-type': 'application/json' }), 400);
    await expectNothingStored();
  });
});

describe('wrong or missing content type is a 415 in the envelope', () => {
  it.each(['text/plain', 'application/xml', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/jsonp'])(
    '%s',
    async (type) => {
      for (const path of ['/api/v1/logs', '/api/v1/logs/bulk']) {
        expectEnvelope(await raw(path, JSON.stringify(event), { 'content-type': type }), 415);
      }
      await expectNothingStored();
    },
  );
});

describe('empty and wrongly shaped bodies', () => {
  it('an empty body with a JSON content type is a 400', async () => {
    for (const path of ['/api/v1/logs', '/api/v1/logs/bulk'])
      expectEnvelope(await raw(path, '', { 'content-type': 'application/json' }), 400);
  });

  it('no body at all is a 422 that says a body is expected', async () => {
    for (const path of ['/api/v1/logs', '/api/v1/logs/bulk'])
      expectEnvelope(await call(`${server.url}${path}`, { method: 'POST', token: writer }), 422);
  });

  it.each(['null', '[]', '"event"', '42', 'true', '{}'])('single event %s is a 422', async (text) => {
    expectEnvelope(await raw('/api/v1/logs', text, { 'content-type': 'application/json' }), 422);
  });

  it.each(['null', '[]', '{}', '[null]', '[[]]', '["event"]', JSON.stringify(event)])('bulk %s is a 422', async (text) => {
    expectEnvelope(await raw('/api/v1/logs/bulk', text, { 'content-type': 'application/json' }), 422);
  });

  it.each([
    { action: 1 },
    { action: null },
    { action: '   ' },
    { resource_type: ['r'] },
    { metadata: [] },
    { metadata: 'text' },
    { before: 1 },
    { after: true },
    { resource_id: '' },
    { user_agent: { a: 1 } },
  ])('a wrongly typed field %j is a 422 that names it', async (fields) => {
    const response = await post({ ...event, ...fields });
    expectEnvelope(response, 422);
    expect(response.body.data[0].loc).toEqual(['body', Object.keys(fields)[0]]);
  });
});

describe('invalid timestamps, IPs and severities', () => {
  it.each([
    'yesterday',
    '2025-06-26',
    '2025-06-26T01:00:00',
    '2025-13-01T00:00:00Z',
    '2025-02-30T00:00:00Z',
    '2025-06-26T25:00:00Z',
    '2025-06-26T01:00:00+25:00',
    '1750900000',
    '',
    '+275760-09-13T00:00:00Z',
  ])('timestamp %j is a 422', async (timestamp) => {
    const response = await post({ ...event, timestamp });
    expectEnvelope(response, 422);
    expect(response.body.data[0].loc).toEqual(['body', 'timestamp']);
  });

  it.each(['999.1.1.1', '1.2.3', '1.2.3.4/24', ' 1.2.3.4', '1.2.3.4 ', '::gg', 'localhost', '01.02.03.004x', '1.2.3.4:80', ''])(
    'ip_address %j is a 422',
    async (ip_address) => {
      const response = await post({ ...event, ip_address });
      expectEnvelope(response, 422);
      expect(response.body.data[0].loc).toEqual(['body', 'ip_address']);
    },
  );

  it.each(['DEBUG', 'info', 'FATAL', '', 'INFO,ERROR', 3, null])('severity %j is a 422', async (severity) => {
    const response = await post({ ...event, severity });
    expectEnvelope(response, 422);
    expect(response.body.data[0].loc).toEqual(['body', 'severity']);
  });

  it('nothing above was stored', expectNothingStored);

  it.each([
    'from=yesterday',
    'to=2025-13-01',
    'from=2025-02-30',
    'to=2025-02-30T00:00:00Z',
    'timestamp=2025-02-30',
    'timestamp=2025-06-26T00:00:00Z',
    'severity=DEBUG',
    'severity=INFO,,',
    'sort=up',
    'page=abc',
    'page=0',
    'size=ten',
    'ip_address=',
    'cursor=not-a-cursor',
    `cursor=${Buffer.from('["x","y","desc"]').toString('base64url')}`,
    `cursor=${Buffer.from('{"__proto__":{"polluted":1}}').toString('base64url')}`,
  ])('query %s is a 422', async (query) => {
    expectEnvelope(await list(query), 422);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});

describe('broken URLs and credentials', () => {
  it('a path with broken percent-encoding is a 400 in the envelope', async () => {
    expectEnvelope(await call(`${server.url}/api/v1/logs/%E0%A4%A`, { token: viewer }), 400);
  });

  it('headers over the server’s limit are a 431, and a malformed request a 400, both in the envelope', async () => {
    const overflow = await call(`${server.url}/api/v1/logs`, { token: viewer, headers: { 'x-padding': 'p'.repeat(20_000) } });
    expectEnvelope(overflow, 431);
    const broken = await rawRequest(
      server.url,
      `GET /api/v1/logs HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${viewer}\r\nBad Header\r\n\r\n`,
    );
    expectEnvelope(parseRawAnswer(broken), 400);
    expect((await call(`${server.url}/healthz`)).status).toBe(200);
  });

  it('a plain HTTP GET of the stream is a 426 in the envelope that says to use a WebSocket', async () => {
    const response = await call(`${server.url}/api/v1/logs/stream`, { token: viewer });
    expectEnvelope(response, 426);
    expect(response.headers.get('upgrade')).toBe('websocket');
    expectEnvelope(await call(`${server.url}/api/v1/logs/stream`), 401);
    expectEnvelope(await call(`${server.url}/api/v1/logs/stream?action[$ne]=x`, { token: viewer }), 422);
  });

  it('an unknown route or method is a 404 in the envelope, with the path but never the query', async () => {
    const response = await call(`${server.url}/api/v1/nothing?token=secret-in-query`, { method: 'PUT', token: viewer });
    expectEnvelope(response, 404);
    expect(response.text).not.toContain('secret-in-query');
  });

  it.each([
    'Bearer',
    'Bearer ',
    'Basic dXNlcjpwYXNz',
    'Bearer a.b.c',
    'Bearer a.b',
    'Bearer ....',
    `Bearer ${'x'.repeat(8000)}`,
    'bearer eyJ.eyJ.x y',
  ])('Authorization %j is a 401', async (authorization) => {
    const response = await call(`${server.url}/api/v1/logs`, { headers: { authorization: authorization.slice(0, 8100) } });
    expectEnvelope(response, 401);
  });

  it('a token of a role the server does not know, or for another audience, is a 401', async () => {
    expect((await server.token('broken', 'viewer', { ttlSeconds: -10 })).length).toBeGreaterThan(0);
    expectEnvelope(await call(`${server.url}/api/v1/logs`, { token: await server.token('broken', 'viewer', { ttlSeconds: -10 }) }), 401);
    expectEnvelope(
      await call(`${server.url}/api/v1/logs`, { token: await server.token('broken', 'viewer', { ttlSeconds: undefined }) }),
      401,
    );
  });
});

describe('text the store could not keep as sent', () => {
  it.each(['action', 'resource_type', 'resource_id', 'user_agent'])(
    'a lone surrogate half in %s is a 422, not stored as replacement characters',
    async (field) => {
      const response = await post({ ...event, [field]: 'a\uD800b' });
      expectEnvelope(response, 422);
      expect(response.body.data[0].loc).toEqual(['body', field]);
    },
  );

  it('inside before/after/metadata it is a 422 too: an RFC 8785 event hash has no form for it', async () => {
    for (const body of [
      { ...event, metadata: { 'k\uDC00': 'v' } },
      { ...event, metadata: { k: 'v\uD800' } },
      { ...event, after: { list: ['\uDFFF'] } },
    ]) {
      const response = await post(body);
      expectEnvelope(response, 422);
      expect(response.body.data[0].loc[0]).toBe('body');
    }
  });

  it('an astral character (a valid surrogate pair) is text like any other', async () => {
    const created = await post({ ...event, action: 'emoji 😀 𝄞' });
    expect(created.status).toBe(200);
    const fetched = await call(`${server.url}/api/v1/logs/${created.body.data.id}`, { token: viewer });
    expect(fetched.body.data.action).toBe('emoji 😀 𝄞');
  });

  it('a token whose subject has a lone surrogate half is a 401: it could not be stored as user_id', async () => {
    expectEnvelope(
      await call(`${server.url}/api/v1/logs`, { token: await server.token('broken', 'writer', { sub: 'x\uD800' }), body: event }),
      401,
    );
  });
});
