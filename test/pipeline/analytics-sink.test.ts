import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ClickHouseClientDriver } from '@logserver/shared/clickhouse/clickhouse-client-driver';
import type { ClickHouseDriver } from '@logserver/shared/clickhouse/driver';
import { openSqlite } from '@logserver/shared/sqlite/database';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ClickHouseDouble, startClickHouseDouble } from '../support/clickhouse-double.js';
import { type Pipeline, postEvents, startPipeline } from '../support/pipeline.js';

const TENANTS = ['tenant-a', 'tenant-b', 'tenant-c'];
const SEVERITIES = ['INFO', 'WARNING', 'ERROR', 'CRITICAL'];
const BULK = 25;

/** Counts per tenant, severity and UTC hour, as `tenant|severity|hour` → n. */
type Counts = Record<string, number>;

describe('analytics sink in the SQS pipeline: worker killed mid-stream, ClickHouse down for a while', () => {
  let pipeline: Pipeline;
  let clickhouse: ClickHouseDouble;
  let driver: ClickHouseDriver;
  const chDir = mkdtempSync(join(tmpdir(), 'logserver-ch-'));
  const analyticsEnv = () => ({ ANALYTICS: 'clickhouse', CLICKHOUSE_URL: clickhouse.url, ANALYTICS_SINK_INTERVAL_MS: '100' });

  beforeAll(async () => {
    clickhouse = await startClickHouseDouble(chDir);
    pipeline = await startPipeline({ worker: false, env: { SQS_RECEIVERS: '1', ...analyticsEnv() } });
    driver = new ClickHouseClientDriver({ url: clickhouse.url, maxOpenConnections: 2, requestTimeoutMs: 10_000 });
  }, 90_000);
  afterAll(async () => {
    await driver?.close();
    await pipeline?.close();
    await clickhouse?.stop();
    rmSync(chDir, { recursive: true, force: true });
  });

  /** The primary store's counts, read from the SQLite file itself. */
  function primaryCounts(): Counts {
    const db = openSqlite(pipeline.sqlitePath);
    try {
      const rows = db
        .prepare('SELECT tenant_id AS t, severity AS s, substr(ts, 1, 13) AS h, count(*) AS n FROM logs GROUP BY 1, 2, 3')
        .all() as {
        t: string;
        s: string;
        h: string;
        n: number;
      }[];
      return Object.fromEntries(rows.map((row) => [`${row.t}|${row.s}|${row.h}`, row.n]));
    } finally {
      db.close();
    }
  }

  /** The analytics counts, read from ClickHouse with FINAL (exact) over its HTTP interface. */
  async function analyticsCounts(): Promise<Counts> {
    const rows = await driver.query<{ t: string; s: string; h: string; n: string | number }>(
      "SELECT tenant_id AS t, severity AS s, formatDateTime(toStartOfHour(timestamp), '%Y-%m-%dT%H', 'UTC') AS h, count() AS n FROM logdb.logs FINAL GROUP BY t, s, h",
      {},
    );
    return Object.fromEntries(rows.map((row) => [`${row.t}|${row.s}|${row.h}`, Number(row.n)]));
  }

  const event = (index: number) => ({
    action: ['create', 'update', 'login'][index % 3],
    resource_type: 'invoice',
    resource_id: String(index),
    severity: SEVERITIES[index % 4],
    timestamp: new Date(Date.UTC(2025, 5, 26) + index * 97_000).toISOString(),
  });

  it('ends with the same counts per tenant, severity and hour as the primary store', async () => {
    let posted = 0;
    let failures = 0;
    let writing = true;
    // The writer keeps going through the whole test: kills and outages happen under load.
    const writer = (async () => {
      for (let round = 0; writing || round < 40; round++) {
        for (const tenant of TENANTS) {
          const result = await postEvents(
            pipeline.log.url,
            tenant,
            Array.from({ length: BULK }, (_, offset) => event(round * BULK + offset)),
          );
          if (result.status === 200) posted += result.acknowledged.length;
          else failures++;
        }
      }
    })();

    await pipeline.startWorker();
    await expect
      .poll(async () => Object.keys(await analyticsCounts().catch(() => ({}))).length, { timeout: 30_000, interval: 50 })
      .toBeGreaterThan(0);
    // Killed mid-stream: whatever it had written past its checkpoint is written again by the next one.
    await pipeline.stopWorker('SIGKILL');
    await pipeline.startWorker();

    // ClickHouse goes away: the worker keeps storing events, its sink fails each round and waits.
    await clickhouse.stop('SIGKILL');
    const storedBefore = primaryCounts();
    const worker = pipeline.worker;
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    // biome-ignore lint/suspicious/noExplicitAny: the test reads the body field by field
    const readyz: any = await (await fetch(`${worker?.url}/readyz`)).json();
    expect(readyz.data.status).toBe('ready');
    expect(readyz.data.details.analytics.errors).toBeGreaterThan(0);
    const storedDuring = Object.values(primaryCounts()).reduce((a, b) => a + b, 0);
    expect(storedDuring).toBeGreaterThan(Object.values(storedBefore).reduce((a, b) => a + b, 0));
    const metrics = await (await fetch(`${worker?.url}/metrics`)).text();
    expect(metrics).toMatch(/^analytics_sink_lag_seconds [1-9]/m);

    clickhouse = await startClickHouseDouble(chDir, clickhouse.port);
    writing = false;
    await writer;
    expect(failures).toBe(0);
    expect(posted).toBeGreaterThanOrEqual(40 * BULK * TENANTS.length);
    // Every acknowledged event stored, then copied.
    await expect.poll(() => Object.values(primaryCounts()).reduce((a, b) => a + b, 0), { timeout: 60_000, interval: 200 }).toBe(posted);
    await expect
      .poll(async () => sorted(await analyticsCounts().catch(() => ({}))), { timeout: 60_000, interval: 250 })
      .toEqual(sorted(primaryCounts()));
    const primary = primaryCounts();
    expect(Object.values(primary).reduce((a, b) => a + b, 0)).toBe(posted);
    expect(sorted(await analyticsCounts())).toEqual(sorted(primary));

    // biome-ignore lint/suspicious/noExplicitAny: the test reads the body field by field
    const caughtUp: any = await (await fetch(`${pipeline.worker?.url}/readyz`)).json();
    expect(caughtUp.data.details.analytics.lagEvents).toBe(0);
  }, 240_000);

  it('carries a cleanup’s deletions over to analytics', async () => {
    const response = await fetch(`${pipeline.log.url}/api/v1/logs/cleanup?before=2025-06-26T12:00:00Z`, {
      method: 'DELETE',
      headers: { 'x-auth-sub': 'admin-1', 'x-auth-tenant': 'tenant-b', 'x-auth-role': 'admin' },
    });
    expect(response.status).toBe(200);
    expect(((await response.json()) as { data: { deleted_count: number } }).data.deleted_count).toBeGreaterThan(0);
    // Both sides read again on every try: the cleanup's own audit event goes through the queue and is
    // stored (and then copied) after the answer, so the primary's counts are not final yet either.
    const agree = async () => JSON.stringify(sorted(await analyticsCounts())) === JSON.stringify(sorted(primaryCounts()));
    await expect.poll(agree, { timeout: 30_000, interval: 250 }).toBe(true);
    expect(sorted(await analyticsCounts())).toEqual(sorted(primaryCounts()));
    expect(Object.keys(primaryCounts()).some((key) => key.startsWith('tenant-b|') && (key.split('|')[2] ?? '') < '2025-06-26T12')).toBe(
      false,
    );
  }, 60_000);

  it('answers stats from analytics on the log service, with meta.source and meta.as_of', async () => {
    const response = await fetch(`${pipeline.log.url}/api/v1/logs/stats?group_by=severity,action`, {
      headers: { 'x-auth-sub': 'viewer-1', 'x-auth-tenant': 'tenant-a', 'x-auth-role': 'viewer' },
    });
    expect(response.status).toBe(200);
    const body = (await response.json()) as { data: Record<string, Record<string, number>>; meta: { source: string; as_of: string } };
    expect(body.meta.source).toBe('analytics');
    expect(Date.parse(body.meta.as_of)).toBeGreaterThan(0);
    const total = Object.values(body.data as Record<string, Record<string, number>>)
      .flatMap((inner) => Object.values(inner))
      .reduce((a, b) => a + b, 0);
    const primary = Object.entries(primaryCounts())
      .filter(([key]) => key.startsWith('tenant-a|'))
      .reduce((sum, [, n]) => sum + n, 0);
    expect(total).toBe(primary);
  });
});

const sorted = (counts: Counts): Counts => Object.fromEntries(Object.entries(counts).sort(([a], [b]) => (a < b ? -1 : 1)));
