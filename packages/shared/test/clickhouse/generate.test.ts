import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openChdbDriver } from '../../../chdb/src/chdb-driver.js';
import { ClickHouseAnalyticsStore } from '../../src/clickhouse/clickhouse-analytics-store.js';
import { type GenerateSpec, generateRows } from '../../src/clickhouse/generate.js';
import { LogEvent } from '../../src/schemas/log-event.js';
import { tenantOf } from '../../src/store/tenant-id.js';

const dir = mkdtempSync(join(tmpdir(), 'logserver-generate-'));
const driver = openChdbDriver(dir);
const NOW = new Date('2026-06-15T12:00:00.000Z');
const SPEC: GenerateSpec = { rows: 30_000, tenants: ['abc', 'xyz', "o'hara"], days: 7, now: NOW, seed: 9, firstPosition: 1 };

async function generated(db: string, spec: GenerateSpec) {
  await new ClickHouseAnalyticsStore(driver, db).migrate();
  await generateRows(driver, db, spec);
  return (
    await driver.query<{ tenant_id: string; day: string; severity: string; n: string | number }>(
      `SELECT tenant_id, toString(toDate(timestamp)) AS day, severity, count() AS n FROM ${db}.logs FINAL GROUP BY ALL ORDER BY ALL`,
      {},
    )
  ).map((row) => `${row.tenant_id}|${row.day}|${row.severity}|${row.n}`);
}

let counts: string[];
beforeAll(async () => {
  counts = await generated('gen_a', SPEC);
}, 60_000);
afterAll(async () => {
  await driver.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('generateRows (the engine-side generator of scripts/gen-data and benchmark scenario 9)', () => {
  it('writes the asked rows, the tenants in turn, positions firstPosition.. without a gap, timestamps inside the days before now', async () => {
    const [summary] = await driver.query<Record<string, string | number>>(
      `SELECT count() AS rows, uniqExact(id) AS ids, min(position) AS first, max(position) AS last, uniqExact(position) AS positions,
        toString(min(timestamp)) AS oldest, toString(max(timestamp)) AS newest, countIf(received_at != timestamp) AS skewed
       FROM gen_a.logs FINAL`,
      {},
    );
    expect(summary).toEqual({
      rows: 30_000,
      ids: 30_000,
      first: 1,
      last: 30_000,
      positions: 30_000,
      oldest: expect.any(String),
      newest: expect.any(String),
      skewed: 0,
    });
    expect(Date.parse(`${summary?.oldest}Z`)).toBeGreaterThanOrEqual(NOW.getTime() - 7 * 86_400_000);
    expect(Date.parse(`${summary?.newest}Z`)).toBeLessThanOrEqual(NOW.getTime());
    const perTenant = await driver.query<{ tenant_id: string; n: number }>(
      'SELECT tenant_id, count() AS n FROM gen_a.logs GROUP BY tenant_id ORDER BY tenant_id',
      {},
    );
    // The tenant names are bound values: one with a quote is a tenant like the others.
    expect(perTenant).toEqual([
      { tenant_id: 'abc', n: 10_000 },
      { tenant_id: "o'hara", n: 10_000 },
      { tenant_id: 'xyz', n: 10_000 },
    ]);
  });

  it("has the seed's shape: every row reads back as a valid event, severities about 70/20/8/2 %", async () => {
    const store = new ClickHouseAnalyticsStore(driver, 'gen_a');
    const rows = await driver.query<Record<string, unknown>>(
      `SELECT id, tenant_id, user_id, action, resource_type, resource_id, ip_address, user_agent, severity, before, after, metadata,
        toString(timestamp) AS ts FROM gen_a.logs ORDER BY position LIMIT 500`,
      {},
    );
    for (const row of rows) {
      const timestamp = `${String(row.ts).replace(' ', 'T')}Z`;
      const event = {
        ...row,
        ts: undefined,
        timestamp,
        received_at: timestamp,
        before: JSON.parse(String(row.before)),
        after: JSON.parse(String(row.after)),
        metadata: JSON.parse(String(row.metadata)),
      };
      delete event.ts;
      expect(LogEvent.safeParse(event).error).toBeUndefined();
      expect(event.before.email).toBe(`old${String(row.user_id).slice('user-'.length)}@example.com`);
    }
    const stats = await store.stats(tenantOf({ tenant: 'abc' }), {}, { groupBy: ['severity'], maxGroups: 1000, maxCells: 1000 });
    const totals = Object.fromEntries(stats.counts.map((count) => [count.keys[0], count.n]));
    expect(totals.INFO).toBeGreaterThan(6_500);
    expect(totals.INFO).toBeLessThan(7_500);
    expect(totals.WARNING).toBeGreaterThan(1_700);
    expect(totals.WARNING).toBeLessThan(2_300);
    expect(totals.ERROR).toBeGreaterThan(600);
    expect(totals.ERROR).toBeLessThan(1_000);
    expect(totals.CRITICAL).toBeGreaterThan(100);
    expect(totals.CRITICAL).toBeLessThan(300);
  });

  it('gives the same counts for the same seed and sizes, and other counts for another seed', async () => {
    expect(await generated('gen_b', SPEC)).toEqual(counts);
    expect(await generated('gen_c', { ...SPEC, seed: 10 })).not.toEqual(counts);
  }, 60_000);
});
