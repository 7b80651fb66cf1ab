import type { LogEvent } from '@logserver/shared/schemas/log-event';
import { seededRandom } from '@logserver/testing/events';
import { MingoMongoDatabase } from '@logserver/testing/mingo-mongo-database';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, type RunningServer, startAllInOne } from '../../../test/support/all-in-one.js';
import { clientEvent, postBulk } from '../../../test/support/log-seed.js';

/** The sink on MongoDB (the mingo double): it follows the positions the integrity store gives. */
describe('analytics on the MongoDB store', () => {
  let server: RunningServer;
  let stored: LogEvent[];

  beforeAll(async () => {
    server = await startAllInOne(
      { STORE: 'mongodb', MONGODB_URI: 'mongodb://127.0.0.1:9/never-dialled', ANALYTICS: 'chdb', SEAL_INTERVAL: '0' },
      { mongoDatabase: new MingoMongoDatabase() },
    );
    const random = seededRandom(31);
    const bodies = Array.from({ length: 300 }, () => clientEvent(random));
    stored = await postBulk(server.url, await server.token('acme', 'writer'), bodies);
    await postBulk(server.url, await server.token('globex', 'writer'), bodies.slice(0, 40));
    await server.syncAnalytics();
  }, 60_000);
  afterAll(() => server?.close());

  const severities = async (tenant: string) =>
    (await call(`${server.url}/api/v1/logs/stats`, { token: await server.token(tenant, 'viewer') })).body;

  it('copies every stored event, once, per tenant', async () => {
    const body = await severities('acme');
    expect(body.meta.source).toBe('analytics');
    const expected: Record<string, number> = { INFO: 0, WARNING: 0, ERROR: 0, CRITICAL: 0 };
    for (const event of stored) expected[event.severity] = (expected[event.severity] ?? 0) + 1;
    expect(body.data).toEqual(expected);
    await server.syncAnalytics();
    expect((await severities('acme')).data).toEqual(expected);
    const globex = (await severities('globex')).data as Record<string, number>;
    expect(Object.values(globex).reduce((a, b) => a + b, 0)).toBe(40);
  });

  it('carries a cleanup over', async () => {
    const response = await call(`${server.url}/api/v1/logs/cleanup?all=true`, {
      method: 'DELETE',
      token: await server.token('globex', 'admin'),
    });
    expect(response.status).toBe(200);
    await server.syncAnalytics();
    const globex = (await severities('globex')).data as Record<string, number>;
    // What the primary store still holds (the cleanup's own audit event, if it wrote one), by listing it.
    const left = await call(`${server.url}/api/v1/logs?size=100`, { token: await server.token('globex', 'viewer') });
    expect(left.body.meta.total).toBeLessThan(40);
    expect(Object.values(globex).reduce((a, b) => a + b, 0)).toBe(left.body.meta.total);
    const acme = (await severities('acme')).data as Record<string, number>;
    expect(Object.values(acme).reduce((a, b) => a + b, 0)).toBe(stored.length);
  });
});
