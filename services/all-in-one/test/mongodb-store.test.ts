import { LOGS_COLLECTION } from '@logserver/shared/mongo/logs-collection';
import { MingoMongoDatabase } from '@logserver/testing/mingo-mongo-database';
import { connectFreshDatabase, freshDatabaseName, REAL_MONGODB_URI } from '@logserver/testing/real-mongo';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, type RunningServer, startAllInOne } from '../../../test/support/all-in-one.js';

/** Creates, bulk-creates, gets, lists by time range and counts in one tenant; returns the first event. */
async function storeListGetCount(server: RunningServer, tenant: string) {
  const writer = await server.token(tenant, 'writer');
  const viewer = await server.token(tenant, 'viewer');
  const created = await call(`${server.url}/api/v1/logs`, {
    token: writer,
    body: { action: 'update', resource_type: 'user', resource_id: '7', severity: 'WARNING', timestamp: '2025-03-01T10:00:00+02:00' },
  });
  expect(created.status).toBe(200);
  const bulk = await call(`${server.url}/api/v1/logs/bulk`, {
    token: writer,
    body: [
      { action: 'login', resource_type: 'session', timestamp: '2025-03-02T00:00:00Z' },
      { action: 'login', resource_type: 'session', timestamp: '2025-02-28T23:59:59.999Z', severity: 'ERROR' },
    ],
  });
  expect(bulk.status).toBe(200);

  const got = await call(`${server.url}/api/v1/logs/${created.body.data.id}`, { token: viewer });
  expect(got.body.data).toEqual(created.body.data);
  expect(got.body.data.timestamp).toBe('2025-03-01T08:00:00.000Z');

  const list = await call(`${server.url}/api/v1/logs?sort=asc&from=2025-03-01T00:00:00Z`, { token: viewer });
  expect(list.body.data.map((event: { timestamp: string }) => event.timestamp)).toEqual([
    '2025-03-01T08:00:00.000Z',
    '2025-03-02T00:00:00.000Z',
  ]);
  expect(list.body.meta.total).toBe(2);

  const stats = await call(`${server.url}/api/v1/logs/stats`, { token: viewer });
  expect(stats.body.data).toEqual({ INFO: 1, WARNING: 1, ERROR: 1, CRITICAL: 0 });
}

/** `?action={"$ne":1}` must find the one event whose action is that text, and nothing else. */
async function operatorTextIsLiteral(server: RunningServer, tenant: string) {
  const writer = await server.token(tenant, 'writer');
  const viewer = await server.token(tenant, 'viewer');
  for (const action of ['login', 'logout', '{"$ne":1}']) {
    expect((await call(`${server.url}/api/v1/logs`, { token: writer, body: { action, resource_type: 'session' } })).status).toBe(200);
  }
  const list = await call(`${server.url}/api/v1/logs?action=%7B%22%24ne%22%3A1%7D`, { token: viewer });
  expect(list.status).toBe(200);
  expect(list.body.data.map((event: { action: string }) => event.action)).toEqual(['{"$ne":1}']);
  expect(list.body.meta.total).toBe(1);
  const search = await call(`${server.url}/api/v1/logs?search=${encodeURIComponent('.*')}`, { token: viewer });
  expect(search.body.data).toEqual([]);
}

// The all-in-one server composed exactly as main.ts does with STORE=mongodb; only the database
// handle is the mingo double instead of a connection (the URI below is never dialled).
describe('the all-in-one server on the MongoDB store (mingo double)', () => {
  const env = { STORE: 'mongodb', MONGODB_URI: 'mongodb://127.0.0.1:9/never-dialled', MONGODB_PING_TIMEOUT_MS: '200' };
  let db: MingoMongoDatabase;
  let server: RunningServer;
  beforeAll(async () => {
    db = new MingoMongoDatabase();
    server = await startAllInOne(env, { mongoDatabase: db });
  });
  afterAll(() => server.close());

  const finds = () => db.operations.filter((operation) => operation.collection === LOGS_COLLECTION && operation.method === 'find');

  it('creates its indexes at start, every one led by tenant_id but the sealer’s, (tenant_id, id) unique', () => {
    const indexes = db.collection(LOGS_COLLECTION).indexes;
    expect(indexes.length).toBeGreaterThan(2);
    // The one exception: the sealer finds new events across tenants by commit position (docs/tamper-evidence.md).
    const crossTenant = indexes.filter((index) => Object.keys(index.key as object)[0] !== 'tenant_id');
    expect(crossTenant.map((index) => index.key)).toEqual([{ position: 1 }]);
    expect(indexes.find((index) => index.unique)?.key).toEqual({ tenant_id: 1, id: 1 });
  });

  it('stores, lists, gets and counts through MongoDB', async () => {
    await storeListGetCount(server, 'mongo-a');
    expect(db.collection(LOGS_COLLECTION).count()).toBe(3);
  });

  it('matches ?action={"$ne":1} as the literal string, never as an operator', async () => {
    const before = finds().length;
    await operatorTextIsLiteral(server, 'mongo-b');
    // And the filter document the server sent holds the text as a value under the adapter's $eq.
    expect(
      finds()
        .slice(before)
        .map((operation) => operation.filter?.action),
    ).toContainEqual({ $eq: '{"$ne":1}' });
  });

  it('reports not ready while MongoDB does not answer, and ready again once it does', async () => {
    expect((await call(`${server.url}/readyz`)).status).toBe(200);
    // Minted (and its tenant registered) while MongoDB still answers.
    const viewer = await server.token('mongo-a', 'viewer');
    db.reachable = false;
    try {
      const down = await call(`${server.url}/readyz`);
      expect(down.status).toBe(503);
      expect(down.body.data.checks.store).toContain('MongoDB did not answer a ping within 200 ms');
      const list = await call(`${server.url}/api/v1/logs`, { token: viewer });
      expect(list.status).toBe(503);
      expect(list.body).toMatchObject({ code: 503, data: null });
    } finally {
      db.reachable = true;
    }
    expect((await call(`${server.url}/readyz`)).status).toBe(200);
  });
});

// The same checks with nothing but MONGODB_URI set, as a user would run it (README: MongoDB).
describe.skipIf(!REAL_MONGODB_URI)('the all-in-one server on the MongoDB server at MONGODB_URI', () => {
  const database = freshDatabaseName();
  let server: RunningServer;
  beforeAll(async () => {
    server = await startAllInOne({ MONGODB_URI: REAL_MONGODB_URI as string, MONGODB_DB: database });
  });
  afterAll(async () => {
    await server?.close();
    await (await connectFreshDatabase(database)).close();
  });

  it('stores, lists, gets and counts', () => storeListGetCount(server, 'mongo-a'));
  it('matches ?action={"$ne":1} as the literal string', () => operatorTextIsLiteral(server, 'mongo-b'));
});
