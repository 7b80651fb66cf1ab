import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeEvent, seededRandom } from '@logserver/testing/events';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { rollupsCanAnswer, SqliteLogStore } from '../../src/sqlite/log-store.js';
import { SqliteTenantStore } from '../../src/sqlite/tenant-store.js';
import { describeLogStoreContract } from '../../src/store/log-store.contract.js';
import { tenantOf } from '../../src/store/tenant-id.js';
import { describeTenantStoreContract } from '../../src/tenant-store/tenant-store.contract.js';

const freshFile = () => join(mkdtempSync(join(tmpdir(), 'logserver-sqlite-')), 'logserver.db');

describeLogStoreContract('SqliteLogStore (file on disk)', async () => SqliteLogStore.open(freshFile()));
describeTenantStoreContract('SqliteTenantStore (file on disk)', async () => SqliteTenantStore.open(freshFile()));

describe('SqliteLogStore stats come from rollups, not from a scan of the events', () => {
  const tenant = tenantOf({ tenant: 'rollup' });
  const random = seededRandom(1);

  it('answers whole-hour, grouped-field filters from the rollups alone, and the rest from the events', async () => {
    const path = freshFile();
    const store = SqliteLogStore.open(path);
    const events = Array.from({ length: 200 }, () => makeEvent(tenant, {}, random));
    await store.append(tenant, events);
    const perField = await store.stats(tenant, { severity: ['INFO'] }, { groupBy: 'action', interval: 'day' });
    const cross = await store.stats(tenant, { action: 'update', user_id: 'u1' }, { groupBy: 'resource_type', interval: 'hour' });
    expect(Object.keys(perField.totals).length).toBeGreaterThan(1);
    expect(Object.keys(cross.totals).length).toBeGreaterThan(1);
    // Remove the events behind the store's back: only an answer that never reads them stays the same.
    const raw = new Database(path);
    raw.prepare('DELETE FROM logs').run();
    raw.close();
    expect(await store.stats(tenant, { severity: ['INFO'] }, { groupBy: 'action', interval: 'day' })).toEqual(perField);
    expect(await store.stats(tenant, { action: 'update', user_id: 'u1' }, { groupBy: 'resource_type', interval: 'hour' })).toEqual(cross);
    expect(rollupsCanAnswer({ from: '2025-01-01T10:00:00.000Z', action: 'x', user_id: 'u', resource_type: 'r' })).toBe(true);
    for (const filter of [
      { search: 'a' },
      { resource_id: '1' },
      { ip_address: '::1' },
      { user_agent: 'x' },
      { to: '2025-01-01T10:30:00.000Z' },
    ]) {
      expect(rollupsCanAnswer(filter)).toBe(false);
      expect((await store.stats(tenant, filter, { groupBy: 'severity' })).totals).toEqual({});
    }
    await store.close();
  });

  it('builds the rollups once for a database made before they existed', async () => {
    const path = freshFile();
    const store = SqliteLogStore.open(path);
    const events = Array.from({ length: 150 }, () => makeEvent(tenant, {}, random));
    await store.append(tenant, events);
    const want = await store.stats(tenant, {}, { groupBy: 'user_id', interval: 'hour' });
    const wantCross = await store.stats(tenant, { action: 'update', resource_type: 'user' }, { groupBy: 'user_id' });
    await store.close();
    const raw = new Database(path);
    raw.exec('DROP TABLE log_rollups; DROP TABLE log_rollup_dims');
    raw.close();
    const reopened = SqliteLogStore.open(path);
    expect(await reopened.stats(tenant, {}, { groupBy: 'user_id', interval: 'hour' })).toEqual(want);
    expect(await reopened.stats(tenant, { action: 'update', resource_type: 'user' }, { groupBy: 'user_id' })).toEqual(wantCross);
    expect(Object.keys(wantCross.totals).length).toBeGreaterThan(0);
    await reopened.close();
  });
});
