import type { LogEvent } from '@logserver/shared/schemas/log-event';
import { seededRandom } from '@logserver/testing/events';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, type RunningServer, startAllInOne } from '../../../test/support/all-in-one.js';
import { clientEvent, postBulk } from '../../../test/support/log-seed.js';

let server: RunningServer;
beforeAll(async () => {
  server = await startAllInOne();
});
afterAll(() => server.close());

const random = seededRandom(5);

async function total(token: string, query = ''): Promise<number> {
  return (await call(`${server.url}/api/v1/logs?${query}`, { token })).body.meta.total;
}

async function cleanup(token: string, query: string) {
  return call(`${server.url}/api/v1/logs/cleanup${query ? `?${query}` : ''}`, { token, method: 'DELETE' });
}

describe('DELETE /api/v1/logs/cleanup', () => {
  it('deletes strictly before `before`: an event exactly at it is kept; stats follow', async () => {
    const tenant = 'boundary';
    const writer = await server.token(tenant, 'writer');
    const admin = await server.token(tenant, 'admin', { sub: 'root' });
    const boundary = '2025-03-01T12:00:00.000Z';
    const stamps = [
      '2025-03-01T11:59:59.999Z',
      boundary,
      '2025-03-01T12:00:00.001Z',
      '2025-01-01T00:00:00.000Z',
      '2025-06-01T00:00:00.000Z',
    ];
    const stored = await postBulk(
      server.url,
      writer,
      stamps.map((timestamp) => clientEvent(random, { timestamp, severity: 'ERROR' })),
    );
    await postBulk(server.url, await server.token('bystander', 'writer'), [clientEvent(random, { timestamp: '2025-01-01T00:00:00.000Z' })]);

    const response = await cleanup(admin, `before=${boundary}`);
    expect(response.status).toBe(200);
    expect(response.body).toEqual({ code: 200, msg: 'ok', data: { deleted_count: 2 } });

    const left = (await call(`${server.url}/api/v1/logs?severity=ERROR&size=100&sort=asc`, { token: admin })).body.data as LogEvent[];
    const kept = stored.filter((event) => event.timestamp >= boundary).map((event) => event.id);
    expect(
      left
        .filter((event) => event.action !== 'logs.cleanup')
        .map((event) => event.id)
        .sort(),
    ).toEqual([...kept].sort());
    const stats = await call(`${server.url}/api/v1/logs/stats?severity=ERROR`, { token: admin });
    expect(stats.body.data.ERROR).toBe(3);
    const hourly = await call(`${server.url}/api/v1/logs/stats?interval=hour&timestamp=2025-03-01&severity=ERROR`, { token: admin });
    expect(hourly.body.data.buckets[11].counts.ERROR).toBe(0);
    expect(hourly.body.data.buckets[12].counts.ERROR).toBe(2);
    expect(await total(await server.token('bystander', 'viewer'))).toBe(1);
  });

  it('records the cleanup as logs.cleanup with its parameters and count, by the caller', async () => {
    const admin = await server.token('boundary', 'admin', { sub: 'root' });
    const audit = await call(`${server.url}/api/v1/logs?action=logs.cleanup`, { token: admin });
    expect(audit.body.data).toHaveLength(1);
    expect(audit.body.data[0]).toMatchObject({
      tenant_id: 'boundary',
      user_id: 'root',
      action: 'logs.cleanup',
      resource_type: 'logs',
      severity: 'WARNING',
      metadata: { parameters: { before: '2025-03-01T12:00:00.000Z' }, before: '2025-03-01T12:00:00.000Z', deleted_count: 2 },
    });
  });

  it('counts older_than_days back from now', async () => {
    const writer = await server.token('days', 'writer');
    const admin = await server.token('days', 'admin');
    const now = Date.now();
    const day = 86_400_000;
    await postBulk(
      server.url,
      writer,
      [now - 31 * day, now - 30 * day - 60_000, now - 30 * day + 60_000, now - day].map((at) =>
        clientEvent(random, { timestamp: new Date(at).toISOString() }),
      ),
    );
    const response = await cleanup(admin, 'older_than_days=30');
    expect(response.body.data).toEqual({ deleted_count: 2 });
    expect(await total(admin, 'action=logs.cleanup')).toBe(1);
    const audit = (await call(`${server.url}/api/v1/logs?action=logs.cleanup`, { token: admin })).body.data[0] as LogEvent;
    const cutoff = Date.parse(audit.metadata?.before as string);
    expect(Math.abs(cutoff - (Date.parse(audit.timestamp) - 30 * day))).toBeLessThan(60_000);
    expect(audit.metadata?.parameters).toEqual({ older_than_days: '30' });
  });

  it('deletes nothing without a cut-off, and says which parameter is needed', async () => {
    const writer = await server.token('careful', 'writer');
    const admin = await server.token('careful', 'admin');
    await postBulk(server.url, writer, [clientEvent(random), clientEvent(random)]);
    for (const query of ['', 'all=false']) {
      const response = await cleanup(admin, query);
      expect(response.status).toBe(422);
      expect(response.body.data[0].loc).toEqual(['query', 'before']);
      expect(response.body.data[0].msg).toContain('before=');
      expect(response.body.data[0].msg).toContain('older_than_days=');
      expect(response.body.data[0].msg).toContain('all=true');
    }
    for (const query of [
      'before=2025-01-01T00:00:00Z&older_than_days=3',
      'all=true&before=2025-01-01T00:00:00Z',
      'older_than_days=0',
      'older_than_days=36501',
      'older_than_days=1.5',
      'before=yesterday',
      'before=2025-01-01T00:00:00',
      'all=yes',
      'tenant=other',
    ]) {
      const response = await cleanup(admin, query);
      expect(response.status, query).toBe(422);
      expect(response.body.code).toBe(422);
    }
    expect(await total(admin)).toBe(2);
  });

  it('purges the whole tenant with all=true, then records that it did', async () => {
    const writer = await server.token('purge', 'writer');
    const admin = await server.token('purge', 'admin');
    await postBulk(
      server.url,
      writer,
      Array.from({ length: 120 }, () => clientEvent(random)),
    );
    const response = await cleanup(admin, 'all=true');
    expect(response.body.data).toEqual({ deleted_count: 120 });
    const left = (await call(`${server.url}/api/v1/logs`, { token: admin })).body;
    expect(left.meta.total).toBe(1);
    expect(left.data[0]).toMatchObject({
      action: 'logs.cleanup',
      metadata: { parameters: { all: 'true' }, before: null, deleted_count: 120 },
    });
    const stats = await call(`${server.url}/api/v1/logs/stats`, { token: admin });
    expect(stats.body.data).toEqual({ INFO: 0, WARNING: 1, ERROR: 0, CRITICAL: 0 });
  });

  it('takes the same date forms as the list filters: before=2025-06-27 is that day’s midnight UTC', async () => {
    const writer = await server.token('dates', 'writer');
    const admin = await server.token('dates', 'admin');
    const stamps = ['2025-06-26T23:59:59.999Z', '2025-06-27T00:00:00.000Z', '2025-06-27T08:00:00.000Z'];
    await postBulk(
      server.url,
      writer,
      stamps.map((timestamp) => clientEvent(random, { timestamp })),
    );
    // The list accepts the same value as `to`, exclusive, so it previews what the cleanup takes.
    expect(await total(admin, 'to=2025-06-27')).toBe(1);
    const response = await cleanup(admin, 'before=2025-06-27');
    expect(response.status).toBe(200);
    expect(response.body.data).toEqual({ deleted_count: 1 });
    expect((await cleanup(admin, 'before=2025-02-30')).status).toBe(422);
    expect((await cleanup(admin, 'before=2025-06-27T00:00:00%2B02:00')).body.data).toEqual({ deleted_count: 0 });
  });

  it('dry_run=true deletes nothing, records nothing, and answers what the same request would delete', async () => {
    const writer = await server.token('preview', 'writer');
    const admin = await server.token('preview', 'admin');
    await postBulk(server.url, writer, [
      ...Array.from({ length: 7 }, () => clientEvent(random, { timestamp: '2024-01-01T00:00:00.000Z' })),
      ...Array.from({ length: 3 }, () => clientEvent(random, { timestamp: '2026-01-01T00:00:00.000Z' })),
    ]);
    await postBulk(server.url, await server.token('bystander-2', 'writer'), [
      clientEvent(random, { timestamp: '2024-01-01T00:00:00.000Z' }),
    ]);
    for (const [query, expected] of [
      ['before=2025-01-01&dry_run=true', 7],
      ['all=true&dry_run=true', 10],
      ['before=2020-01-01T00:00:00Z&dry_run=true', 0],
    ] as const) {
      const preview = await cleanup(admin, query);
      expect(preview.status, query).toBe(200);
      expect(preview.body.data, query).toMatchObject({ deleted_count: 0, dry_run: true, would_delete_count: expected });
    }
    expect(await total(admin)).toBe(10);
    // A dry run changes nothing, so it leaves no logs.cleanup record either.
    expect(await total(admin, 'action=logs.cleanup')).toBe(0);
    const real = await cleanup(admin, 'before=2025-01-01');
    expect(real.body.data).toEqual({ deleted_count: 7 });
    expect((await cleanup(admin, 'dry_run=true')).status).toBe(422);
    expect((await cleanup(admin, 'before=2025-01-01&dry_run=maybe')).status).toBe(422);
    const viewer = await server.token('preview', 'viewer');
    expect((await cleanup(viewer, 'all=true&dry_run=true')).status).toBe(403);
  });
});
