import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeEvent, seededRandom } from '@logserver/testing/events';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openChdbDriver } from '../../../chdb/src/chdb-driver.js';
import type { AnalyticsStore, PositionedEvent, SinkCheckpoint } from '../../src/analytics/port.js';
import { AnalyticsSink } from '../../src/analytics/sink.js';
import { ClickHouseAnalyticsStore } from '../../src/clickhouse/clickhouse-analytics-store.js';
import { SqliteCommitLog } from '../../src/sqlite/commit-log.js';
import { openSqlite } from '../../src/sqlite/database.js';
import { SqliteLogStore } from '../../src/sqlite/log-store.js';
import { tenantOf } from '../../src/store/tenant-id.js';

const A = tenantOf({ tenant: 'tenant-a' });
const B = tenantOf({ tenant: 'tenant-b' });
const dir = mkdtempSync(join(tmpdir(), 'logserver-sink-'));
const sqlitePath = join(dir, 'logserver.db');
let primary: SqliteLogStore;
let commitLog: SqliteCommitLog;
let analytics: ClickHouseAnalyticsStore;
let database = 0;

beforeAll(() => {
  primary = SqliteLogStore.open(sqlitePath);
  commitLog = SqliteCommitLog.open(sqlitePath);
});
afterAll(async () => {
  await commitLog.close();
  await primary.close();
  await analytics?.close();
  rmSync(dir, { recursive: true, force: true });
});

/** A fresh analytics database per test, on the same embedded engine. */
function freshAnalytics(): ClickHouseAnalyticsStore {
  analytics = new ClickHouseAnalyticsStore(openChdbDriver(join(dir, 'chdb')), `sink_${++database}`);
  return analytics;
}

/** Per tenant, severity and hour, straight from the SQLite file. */
function primaryCounts(): Record<string, number> {
  const db = openSqlite(sqlitePath);
  try {
    const rows = db
      .prepare('SELECT tenant_id AS t, severity AS s, substr(ts, 1, 13) AS h, count(*) AS n FROM logs GROUP BY 1, 2, 3 ORDER BY 1, 2, 3')
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

async function analyticsCounts(store: AnalyticsStore): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const tenant of [A, B]) {
    const result = await store.stats(tenant, {}, { groupBy: ['severity'], interval: 'hour', maxGroups: 1000, maxCells: 200_000 });
    for (const count of result.counts) out[`${tenant}|${count.keys[0]}|${count.bucket?.slice(0, 13)}`] = count.n;
  }
  return Object.fromEntries(Object.entries(out).sort(([a], [b]) => (a < b ? -1 : 1)));
}

const untilCaughtUp = async (sink: AnalyticsSink) => {
  while (!(await sink.runOnce()));
};

describe('AnalyticsSink on SQLite and chdb', () => {
  const random = seededRandom(5);
  const append = (tenant: typeof A, n: number) =>
    primary.append(
      tenant,
      Array.from({ length: n }, () => makeEvent(tenant, {}, random)),
    );

  it('copies every event in batches no larger than its bound, and reports its lag', async () => {
    const store = freshAnalytics();
    await append(A, 1200);
    await append(B, 300);
    const written: number[] = [];
    const counting: AnalyticsStore = Object.assign(Object.create(store), {
      insert: (events: readonly PositionedEvent[]) => {
        written.push(events.length);
        return store.insert(events);
      },
    });
    const sink = new AnalyticsSink({ commitLog, analytics: counting, batchSize: 250, intervalMs: 50 });
    expect(await sink.runOnce()).toBe(true);
    expect(Math.max(...written)).toBeLessThanOrEqual(250);
    expect(await analyticsCounts(store)).toEqual(primaryCounts());
    expect(sink.status()).toMatchObject({ lagEvents: 0, eventsCopied: 1500 });
    await append(A, 10);
    expect((await sink.status()).lagSeconds).toBeLessThan(5);
  });

  it('saves its checkpoint once per idleSaveMs while idle, and after every batch it copies', async () => {
    const store = freshAnalytics();
    let saves = 0;
    const counting: AnalyticsStore = Object.assign(Object.create(store), {
      saveCheckpoint: (checkpoint: SinkCheckpoint) => {
        saves++;
        return store.saveCheckpoint(checkpoint);
      },
    });
    let clock = Date.parse('2026-12-01T12:00:00.000Z');
    const sink = new AnalyticsSink({
      commitLog,
      analytics: counting,
      batchSize: 5000,
      intervalMs: 50,
      idleSaveMs: 5000,
      now: () => new Date(clock),
    });
    await untilCaughtUp(sink);
    expect(saves).toBe(1);
    for (let round = 0; round < 5; round++) {
      clock += 1000;
      expect(await sink.runOnce()).toBe(true);
    }
    // 5 s after the last save: one more, with the new caughtUpAt (the stats API's meta.as_of).
    expect(saves).toBe(2);
    expect((await store.loadCheckpoint()).caughtUpAt).toBe(new Date(clock).toISOString());
    clock += 100;
    await sink.runOnce();
    expect(saves).toBe(2);
    await append(A, 3);
    clock += 100;
    await sink.runOnce();
    expect(saves).toBe(3);
    expect(await analyticsCounts(store)).toEqual(primaryCounts());
  });

  it('resumes from the checkpoint it saved: a crash before saving replays one batch, counted once', async () => {
    const store = freshAnalytics();
    let failNextSave = true;
    const crashing: AnalyticsStore = Object.assign(Object.create(store), {
      saveCheckpoint: (checkpoint: SinkCheckpoint) => {
        if (failNextSave) {
          failNextSave = false;
          return Promise.reject(new Error('the process died here'));
        }
        return store.saveCheckpoint(checkpoint);
      },
    });
    await expect(new AnalyticsSink({ commitLog, analytics: crashing, batchSize: 500, intervalMs: 50 }).runOnce()).rejects.toThrow('died');
    // The first batch is in analytics, the checkpoint is not: a new sink starts over and writes it again.
    const restarted = new AnalyticsSink({ commitLog, analytics: store, batchSize: 500, intervalMs: 50 });
    await untilCaughtUp(restarted);
    expect(await analyticsCounts(store)).toEqual(primaryCounts());
    const later = new AnalyticsSink({ commitLog, analytics: store, batchSize: 500, intervalMs: 50 });
    await append(B, 40);
    await untilCaughtUp(later);
    expect(later.status().eventsCopied).toBe(40);
    expect(await analyticsCounts(store)).toEqual(primaryCounts());
  });

  it('carries cleanups over, and counts an event stored again after its cleanup once', async () => {
    const store = freshAnalytics();
    const sink = new AnalyticsSink({ commitLog, analytics: store, batchSize: 1000, intervalMs: 50 });
    await untilCaughtUp(sink);
    const [victim] = (await primary.query(A, {}, { kind: 'cursor', after: null, size: 1, sort: 'asc' })).items;
    expect(await primary.deleteOlderThan(A, '2025-02-01T00:00:00.000Z')).toBeGreaterThan(0);
    expect(await primary.deleteOlderThan(B, null)).toBeGreaterThan(0);
    await untilCaughtUp(sink);
    expect(await analyticsCounts(store)).toEqual(primaryCounts());
    // A redelivery of a deleted event stores it again (new seq): analytics follows.
    await primary.append(A, [victim as NonNullable<typeof victim>]);
    await untilCaughtUp(sink);
    expect(await analyticsCounts(store)).toEqual(primaryCounts());
    expect(sink.status().deletionsApplied).toBeGreaterThan(0);
  });

  it('keeps trying while analytics is down, and catches up after', async () => {
    const store = freshAnalytics();
    let down = true;
    const flaky: AnalyticsStore = Object.assign(Object.create(store), {
      insert: (events: readonly PositionedEvent[]) => (down ? Promise.reject(new Error('connection refused')) : store.insert(events)),
    });
    const errors: unknown[] = [];
    const sink = new AnalyticsSink({
      commitLog,
      analytics: flaky,
      batchSize: 1000,
      intervalMs: 20,
      onError: (error) => errors.push(error),
    });
    sink.start();
    await append(A, 25);
    // Polled, not slept: on a loaded machine the sink's first rounds may come late.
    await expect.poll(() => errors.length, { timeout: 10_000 }).toBeGreaterThan(0);
    await expect.poll(() => sink.status().lagEvents, { timeout: 10_000 }).toBeGreaterThan(0);
    down = false;
    await expect.poll(() => sink.status().lagEvents, { timeout: 10_000, interval: 50 }).toBe(0);
    await sink.stop();
    expect(await analyticsCounts(store)).toEqual(primaryCounts());
  });
});
