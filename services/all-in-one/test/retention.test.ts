import { AllInOneConfig } from '@logserver/all-in-one/config';
import { loadConfig } from '@logserver/shared/config/load-config';
import type { LogEvent, Severity } from '@logserver/shared/schemas/log-event';
import { seededRandom } from '@logserver/testing/events';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { call, type RunningServer, startAllInOne } from '../../../test/support/all-in-one.js';
import { clientEvent, postBulk } from '../../../test/support/log-seed.js';
import { Receiver } from '../../../test/support/stream-receivers.js';

// Runs on SQLite and, in the vitest project mongodb-double, on the MongoDB store (vitest.config.ts).
let server: RunningServer;
let platform: string;
beforeAll(async () => {
  // RETENTION_INTERVAL=0: the tests run the job when they mean to (app.retention.runOnce()).
  server = await startAllInOne({
    RETENTION_INTERVAL: '0',
    RETENTION_MIN_DAYS: '7',
    RETENTION_MAX_DAYS: '400',
    RETENTION_TENANT_LIMIT: '25',
    // A log-stream destination on loopback (the dead-letter test): allowed, and found within 50 ms.
    STREAM_DESTINATION_ALLOW: '127.0.0.1',
    STREAM_INTERVAL_MS: '50',
  });
  platform = await server.token('system', 'admin', { sub: 'ops' });
});
afterAll(() => server.close());

const random = seededRandom(21);
const DAY = 86_400_000;
const daysAgo = (days: number) => new Date(Date.now() - days * DAY).toISOString();

async function seed(tenant: string, ages: readonly { days: number; severity: Severity }[]): Promise<LogEvent[]> {
  const writer = await server.token(tenant, 'writer');
  return postBulk(
    server.url,
    writer,
    ages.map(({ days, severity }) => clientEvent(random, { timestamp: daysAgo(days), severity })),
  );
}

/** The tenant's events other than cleanup records, as ids. */
async function remaining(tenant: string): Promise<string[]> {
  const admin = await server.token(tenant, 'admin');
  const ids: string[] = [];
  for (let page = 1; ; page++) {
    const body = (await call(`${server.url}/api/v1/logs?size=100&page=${page}`, { token: admin })).body;
    ids.push(...(body.data as LogEvent[]).filter((event) => event.action !== 'logs.cleanup').map((event) => event.id));
    if (page >= body.meta.pages) return ids.sort();
  }
}

const setPolicy = (tenant: string, body: unknown) =>
  call(`${server.url}/api/v1/tenants/${tenant}/retention`, { method: 'PUT', token: platform, body });

describe('retention policies', () => {
  it('a 30-day policy deletes exactly the events older than 30 days at the next run; another tenant is untouched', async () => {
    const stored = await seed('keeps30', [
      { days: 29, severity: 'INFO' },
      { days: 29.9, severity: 'CRITICAL' },
      { days: 31, severity: 'INFO' },
      { days: 31, severity: 'ERROR' },
      { days: 90, severity: 'WARNING' },
    ]);
    const bystander = await seed('bystander', [
      { days: 31, severity: 'INFO' },
      { days: 365, severity: 'INFO' },
    ]);
    const put = await setPolicy('keeps30', { retention_days: 30 });
    expect(put.status).toBe(200);
    expect(put.body.data).toMatchObject({
      tenant: 'keeps30',
      retention_days: 30,
      severity_days: {},
      legal_hold: false,
      updated_by: 'platform:ops',
    });

    const round = await server.app.retention.runOnce();
    expect(round.skipped).toBe(false);
    expect(round.tenants).toEqual([{ tenant: 'keeps30', deleted: 3, backlog: false, held: false, deadLetterCopies: 0 }]);
    expect(await remaining('keeps30')).toEqual(
      stored
        .slice(0, 2)
        .map((event) => event.id)
        .sort(),
    );
    expect(await remaining('bystander')).toEqual(bystander.map((event) => event.id).sort());

    // Recorded as a cleanup by the policy, in the tenant it touched.
    const admin = await server.token('keeps30', 'admin');
    const audit = (await call(`${server.url}/api/v1/logs?action=logs.cleanup`, { token: admin })).body.data as LogEvent[];
    expect(audit).toHaveLength(1);
    expect(audit[0]).toMatchObject({
      user_id: 'retention-policy',
      resource_type: 'logs',
      severity: 'WARNING',
      metadata: { by: 'policy', deleted_count: 3, retention_days: 30, severities: ['INFO', 'WARNING', 'ERROR', 'CRITICAL'] },
    });
    // The tenant's own read shows the policy and what its last run did.
    const own = await call(`${server.url}/api/v1/retention`, { token: await server.token('keeps30', 'viewer') });
    expect(own.status).toBe(200);
    expect(own.body.data).toMatchObject({
      retention_days: 30,
      bounds: { min_days: 7, max_days: 400 },
      last_run: { deleted_count: 3, backlog: false },
    });
    // A second run finds nothing due and leaves no record.
    expect((await server.app.retention.runOnce()).deleted).toBe(0);
    expect((await call(`${server.url}/api/v1/logs?action=logs.cleanup`, { token: admin })).body.data).toHaveLength(1);
  });

  it('per severity: INFO 30 days, CRITICAL 365, the rest by retention_days; verify stays intact and counts them as policy deletions', async () => {
    const stored = await seed('bysev', [
      { days: 31, severity: 'INFO' }, // goes (INFO 30)
      { days: 29, severity: 'INFO' },
      { days: 200, severity: 'CRITICAL' }, // stays (CRITICAL 365)
      { days: 366, severity: 'CRITICAL' }, // goes
      { days: 91, severity: 'ERROR' }, // goes (default 90)
      { days: 89, severity: 'WARNING' },
    ]);
    // Sealed before the run, so verify checks the deleted leaves against their tombstones.
    await server.seal();
    const admin = await server.token('bysev', 'admin', { sub: 'lead' });
    const put = await call(`${server.url}/api/v1/retention`, {
      method: 'PUT',
      token: admin,
      body: { retention_days: 90, severity_days: { INFO: 30, CRITICAL: 365 } },
    });
    expect(put.status).toBe(200);
    expect(put.body.data).toMatchObject({ severity_days: { INFO: 30, CRITICAL: 365 }, updated_by: 'tenant:lead' });

    const round = await server.app.retention.runOnce();
    expect(round.tenants.find((outcome) => outcome.tenant === 'bysev')?.deleted).toBe(3);
    expect(await remaining('bysev')).toEqual([stored[1], stored[2], stored[5]].map((event) => event?.id).sort());

    await server.seal();
    const verify = await call(`${server.url}/api/v1/logs/verify`, { token: await server.token('bysev', 'auditor') });
    expect(verify.status).toBe(200);
    expect(verify.body.data).toMatchObject({ status: 'intact', deleted_by_cleanup: 3, deleted_by_policy: 3, cleanup_problems: [] });
    // One cleanup per distinct number of days that deleted something, each marked as the policy's.
    const cleanups = verify.body.data.cleanups as { by: string; deleted_count: number }[];
    expect(cleanups.map((cleanup) => [cleanup.by, cleanup.deleted_count]).sort()).toEqual([
      ['policy', 1],
      ['policy', 1],
      ['policy', 1],
    ]);

    // A request's cleanup beside it is reported as a request's: it takes the 200- and 89-day events the policy kept.
    expect((await call(`${server.url}/api/v1/logs/cleanup?older_than_days=45`, { method: 'DELETE', token: admin })).body.data).toEqual({
      deleted_count: 2,
    });
    await server.seal();
    const after = (await call(`${server.url}/api/v1/logs/verify`, { token: admin })).body.data;
    expect(after).toMatchObject({ status: 'intact', deleted_by_cleanup: 5, deleted_by_policy: 3 });
    expect((after.cleanups as { by: string }[]).filter((cleanup) => cleanup.by === 'request')).toHaveLength(1);
  });

  it('a legal hold stops every deletion until the platform admin lifts it; the tenant admin cannot lift it', async () => {
    const stored = await seed('onhold', [
      { days: 100, severity: 'INFO' },
      { days: 3, severity: 'INFO' },
    ]);
    expect((await setPolicy('onhold', { retention_days: 7, legal_hold: true })).status).toBe(200);
    const held = await server.app.retention.runOnce();
    expect(held.tenants.find((outcome) => outcome.tenant === 'onhold')).toEqual({
      tenant: 'onhold',
      deleted: 0,
      backlog: false,
      held: true,
      deadLetterCopies: 0,
    });
    expect(await remaining('onhold')).toEqual(stored.map((event) => event.id).sort());

    // The tenant admin may change the days; the hold stays, and naming it is refused.
    const admin = await server.token('onhold', 'admin');
    const changed = await call(`${server.url}/api/v1/retention`, { method: 'PUT', token: admin, body: { retention_days: 8 } });
    expect(changed.body.data).toMatchObject({ retention_days: 8, legal_hold: true });
    const lift = await call(`${server.url}/api/v1/retention`, {
      method: 'PUT',
      token: admin,
      body: { retention_days: 8, legal_hold: false },
    });
    expect(lift.status).toBe(422);
    expect(lift.body.msg).toBe('Validation error');
    await server.app.retention.runOnce();
    expect(await remaining('onhold')).toHaveLength(2);

    // A PUT without legal_hold keeps it; only legal_hold: false lifts it.
    expect((await setPolicy('onhold', { retention_days: 7 })).body.data.legal_hold).toBe(true);
    expect((await setPolicy('onhold', { retention_days: 7, legal_hold: false })).body.data.legal_hold).toBe(false);
    await server.app.retention.runOnce();
    expect(await remaining('onhold')).toEqual([stored[1]?.id]);
  });

  it('a big backlog is deleted at most RETENTION_TENANT_LIMIT per tenant per run, so every tenant gets its turn', async () => {
    // Tenant keys sort before the others here, so the backlog would come first in a run.
    await seed(
      'aaa-backlog',
      Array.from({ length: 60 }, (_, index) => ({ days: 40 + index, severity: 'INFO' as const })),
    );
    await seed('zzz-small', [
      { days: 40, severity: 'INFO' },
      { days: 1, severity: 'INFO' },
    ]);
    await setPolicy('aaa-backlog', { retention_days: 30 });
    await setPolicy('zzz-small', { retention_days: 30 });

    const first = await server.app.retention.runOnce();
    expect(first.tenants.find((outcome) => outcome.tenant === 'aaa-backlog')).toMatchObject({ deleted: 25, backlog: true });
    expect(first.tenants.find((outcome) => outcome.tenant === 'zzz-small')).toMatchObject({ deleted: 1, backlog: false });
    expect(await remaining('aaa-backlog')).toHaveLength(35);
    const second = await server.app.retention.runOnce();
    expect(second.tenants.find((outcome) => outcome.tenant === 'aaa-backlog')).toMatchObject({ deleted: 25, backlog: true });
    const third = await server.app.retention.runOnce();
    expect(third.tenants.find((outcome) => outcome.tenant === 'aaa-backlog')).toMatchObject({ deleted: 10, backlog: false });
    expect(await remaining('aaa-backlog')).toEqual([]);
    const own = await call(`${server.url}/api/v1/retention`, { token: await server.token('aaa-backlog', 'auditor') });
    expect(own.body.data.last_run).toMatchObject({ deleted_count: 10, backlog: false });
  });

  it('days outside RETENTION_MIN_DAYS..RETENTION_MAX_DAYS are a 422 in the envelope naming each field', async () => {
    const admin = await server.token('bounds', 'admin');
    const low = await call(`${server.url}/api/v1/retention`, {
      method: 'PUT',
      token: admin,
      body: { retention_days: 6, severity_days: { CRITICAL: 401 } },
    });
    expect(low.status).toBe(422);
    expect(low.body).toMatchObject({ code: 422, msg: 'Validation error' });
    const locations = (low.body.data as { loc: unknown[]; msg: string }[]).map((error) => [error.loc.join('.'), error.msg]);
    expect(locations).toEqual([
      ['body.retention_days', 'must be at least RETENTION_MIN_DAYS (7)'],
      ['body.severity_days.CRITICAL', 'must be at most RETENTION_MAX_DAYS (400)'],
    ]);
    expect((await setPolicy('bounds', { retention_days: 401 })).status).toBe(422);
    expect((await setPolicy('bounds', { retention_days: 30, severity_days: { DEBUG: 30 } })).status).toBe(422);
    expect((await setPolicy('bounds', { retention_days: 7.5 })).status).toBe(422);
    // Bounds that refuse every policy stop the start instead.
    expect(() => loadConfig(AllInOneConfig, { RETENTION_MIN_DAYS: '30', RETENTION_MAX_DAYS: '7' })).toThrow(
      /RETENTION_MIN_DAYS must not be above RETENTION_MAX_DAYS/,
    );
    // Nothing was stored by the refused requests.
    expect((await call(`${server.url}/api/v1/retention`, { token: admin })).body.data).toMatchObject({
      retention_days: null,
      updated_at: null,
    });
  });

  it('refuses the wrong roles with 403, and an unknown tenant with 404', async () => {
    const body = { retention_days: 30 };
    for (const role of ['writer', 'viewer', 'auditor'] as const) {
      const token = await server.token('roles', role);
      expect((await call(`${server.url}/api/v1/retention`, { method: 'PUT', token, body })).status).toBe(403);
    }
    expect((await call(`${server.url}/api/v1/retention`, { token: await server.token('roles', 'writer') })).status).toBe(403);
    for (const role of ['writer', 'viewer', 'auditor', 'admin'] as const) {
      const token = await server.token('roles', role);
      const put = await call(`${server.url}/api/v1/tenants/roles/retention`, { method: 'PUT', token, body });
      expect(put.status).toBe(403);
      expect(put.body).toMatchObject({ code: 403, data: null });
      expect((await call(`${server.url}/api/v1/tenants/roles/retention`, { token })).status).toBe(403);
    }
    const missing = await setPolicy('no-such-tenant', body);
    expect(missing.status).toBe(404);
    expect(missing.body).toEqual({ code: 404, msg: 'Tenant no-such-tenant not found', data: null });
  });

  it('prunes the copies of deleted events from the tenant’s stream dead letters too, as a cleanup does', async () => {
    const HEC_TOKEN = 'hec-token';
    const receiver = await Receiver.start('splunk_hec', HEC_TOKEN);
    receiver.mode = 'reject';
    const admin = await server.token('copies', 'admin');
    // INFO only: the cleanup records (WARNING) are not streamed to it, so the counts below are the seeded events'.
    const made = await call(`${server.url}/api/v1/streams`, {
      method: 'POST',
      token: admin,
      body: { kind: 'splunk_hec', name: 'refusing', url: receiver.url, token: HEC_TOKEN, start: 'beginning', filter: { severity: 'INFO' } },
    });
    expect(made.status).toBe(200);
    const id = made.body.data.id as string;
    try {
      const stored = await seed(
        'copies',
        [90, 31, 31, 25, 10].map((days) => ({ days, severity: 'INFO' as const })),
      );
      // A 400 is permanent: every batch goes to the dead letters at once, with copies of its events.
      await vi.waitFor(
        async () => {
          const { state } = (await call(`${server.url}/api/v1/streams/${id}`, { token: admin })).body.data;
          expect(state).toMatchObject({ dead_lettered_events: 5, caught_up: true });
        },
        { timeout: 10_000 },
      );
      const copies = async () =>
        ((await call(`${server.url}/api/v1/streams/${id}/dead-letters`, { token: admin })).body.data as { event_count: number }[]).reduce(
          (sum, letter) => sum + letter.event_count,
          0,
        );
      expect(await copies()).toBe(5);

      expect((await setPolicy('copies', { retention_days: 30 })).status).toBe(200);
      const round = await server.app.retention.runOnce();
      expect(round.tenants.find((outcome) => outcome.tenant === 'copies')).toMatchObject({ deleted: 3, deadLetterCopies: 3 });
      expect(await copies()).toBe(2);
      // A request's cleanup takes the copies older than its cut-off too.
      const cleanup = await call(`${server.url}/api/v1/logs/cleanup?older_than_days=20`, { method: 'DELETE', token: admin });
      expect(cleanup.body.data).toEqual({ deleted_count: 1 });
      expect(await copies()).toBe(1);

      // What is left in the dead letters is exactly the event the store still keeps: a replay delivers only it.
      receiver.mode = 'up';
      const replay = await call(`${server.url}/api/v1/streams/${id}/dead-letters/replay`, { token: admin, body: {} });
      expect(replay.status).toBe(200);
      await vi.waitFor(() => expect(receiver.uniqueEvents).toBe(1), { timeout: 10_000 });
      expect(receiver.eventIds).toEqual([stored[4]?.id]);
      expect(await remaining('copies')).toEqual([stored[4]?.id]);
    } finally {
      await call(`${server.url}/api/v1/streams/${id}`, { token: admin, method: 'DELETE' });
      await receiver.close();
    }
  });
});
