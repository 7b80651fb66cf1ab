import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, type RunningServer, startAllInOne } from '../support/all-in-one.js';
import { expectEnvelope } from './hostile-support.js';

let server: RunningServer;
beforeAll(async () => {
  server = await startAllInOne();
});
afterAll(() => server.close());

const event = { action: 'user.login', resource_type: 'user' };
const messages = (response: { body: { data: { loc: unknown[]; msg: string }[] } }) => JSON.stringify(response.body.data);

// Issue 13, item 7: "9999-12-31T23:59:59-23:59" was stored as +010000-01-01T23:58:59.000Z, which
// sorts first as text, fell inside to=2000-01-01, emptied interval stats and escaped cleanup.
describe('timestamps whose UTC year is outside 0000-9999', () => {
  it.each(['9999-12-31T23:59:59-23:59', '9999-12-31T23:00:00-01:00', '0000-01-01T00:00:00+00:01'])(
    'refuses %s with a 422 that says why',
    async (timestamp) => {
      const writer = await server.token('years', 'writer');
      const single = await call(`${server.url}/api/v1/logs`, { token: writer, body: { ...event, timestamp } });
      expectEnvelope(single, 422);
      expect(messages(single)).toContain('UTC year must be between 0000 and 9999');
      expect(messages(single)).toContain('timestamp');
      const bulk = await call(`${server.url}/api/v1/logs/bulk`, { token: writer, body: [event, { ...event, timestamp }] });
      expectEnvelope(bulk, 422);
      expect(bulk.body.data.some((item: { loc: unknown[] }) => item.loc[1] === 1)).toBe(true);
    },
  );

  it('accepts the last instant of 9999 and the first of 0000 in UTC', async () => {
    const writer = await server.token('years', 'writer');
    for (const timestamp of ['9999-12-31T23:59:59.999Z', '0000-01-01T00:00:00Z', '9999-12-31T22:59:59-01:00']) {
      const response = await call(`${server.url}/api/v1/logs`, { token: writer, body: { ...event, timestamp } });
      expect(response.status, response.text).toBe(200);
      expect(response.body.data.timestamp).toMatch(/^\d{4}-/);
    }
  });

  it('refuses such instants as from, to and cleanup before, too', async () => {
    const viewer = await server.token('years', 'viewer');
    const admin = await server.token('years', 'admin');
    const far = encodeURIComponent('9999-12-31T23:59:59-23:59');
    expectEnvelope(await call(`${server.url}/api/v1/logs?from=${far}`, { token: viewer }), 422);
    expectEnvelope(await call(`${server.url}/api/v1/logs/stats?to=${far}`, { token: viewer }), 422);
    expectEnvelope(await call(`${server.url}/api/v1/logs/cleanup?before=${far}`, { token: admin, method: 'DELETE' }), 422);
  });
});

// Issue 13, item 12: a writer could POST {"action":"logs.cleanup",…}, indistinguishable from the
// record the server writes after a real cleanup.
describe('the server’s own actions (logs.*) are reserved', () => {
  it.each(['logs.cleanup', 'logs.export', 'LOGS.Cleanup', ' logs.anything'])('refuses a client event with action %j', async (action) => {
    const writer = await server.token('forger', 'writer');
    const single = await call(`${server.url}/api/v1/logs`, { token: writer, body: { ...event, action } });
    expectEnvelope(single, 422);
    expect(messages(single)).toContain('reserved');
    const bulk = await call(`${server.url}/api/v1/logs/bulk`, { token: writer, body: [event, { ...event, action }] });
    expectEnvelope(bulk, 422);
  });

  it('leaves similar client actions alone, and the only logs.cleanup record is the server’s', async () => {
    const writer = await server.token('forger', 'writer');
    for (const action of ['logsx.cleanup', 'app.logs.cleanup', 'logs']) {
      expect((await call(`${server.url}/api/v1/logs`, { token: writer, body: { ...event, action } })).status).toBe(200);
    }
    const admin = await server.token('forger', 'admin');
    const cleaned = await call(`${server.url}/api/v1/logs/cleanup?before=2000-01-01T00:00:00Z`, { token: admin, method: 'DELETE' });
    expect(cleaned.status, cleaned.text).toBe(200);
    const records = await call(`${server.url}/api/v1/logs?action=logs.cleanup`, { token: admin });
    expect(records.body.data).toHaveLength(1);
    expect(records.body.data[0]).toMatchObject({ user_id: 'admin-of-forger', metadata: { deleted_count: 0 } });
  });
});
