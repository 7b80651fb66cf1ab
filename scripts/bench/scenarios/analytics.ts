import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { ClickHouseAnalyticsStore } from '@logserver/shared/clickhouse/clickhouse-analytics-store';
import { openChdbDriver } from '../../../packages/chdb/src/chdb-driver.js';
import { type GenOptions, loadIntoAnalytics } from '../../gen-data.js';
import { type BenchContext, bearer, loopFigure } from '../context.js';
import { PYTHON_EVENT } from '../data.js';
import { hammer, timeEach } from '../http-load.js';
import { freePort, startService, watchLoopDelay } from '../processes.js';
import type { Figure } from '../report.js';

const TENANTS = ['abc', 'xyz'];
const QUERIES = 200;

/** The stats API's form of the seed's dashboard query: count by severity per day over the last 30 days. */
function dashboardPath(now: Date): string {
  const today = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate());
  const from = new Date(today - 30 * 86_400_000).toISOString();
  const to = new Date(today).toISOString();
  return `/api/v1/logs/stats?interval=day&from=${from}&to=${to}`;
}

/**
 * 9: the analytics tier. Loads `analyticsRows` generated rows straight into chdb (rows/s), then starts
 * an all-in-one with ANALYTICS=chdb on them and times the seed's dashboard query for one tenant
 * (p50, p99; beside the same count straight on the engine), then puts scenario 1's load on it and
 * samples the sink's lag.
 */
export async function analyticsTier(context: BenchContext): Promise<Figure[]> {
  const rows = context.sizes.analyticsRows;
  const scenario = `9 analytics, ${rows.toLocaleString('en-US')} rows`;
  const dataDir = join(context.workDir, 'analytics-data');
  const chdbPath = join(dataDir, 'analytics');
  mkdirSync(dataDir, { recursive: true });
  const now = new Date();
  const options: GenOptions = { rows, tenants: TENANTS, days: 30, seed: 9, now };

  // The load, and the engine's own time for the query, in this process; the server opens the folder after.
  const driver = openChdbDriver(chdbPath);
  const store = new ClickHouseAnalyticsStore(driver, 'logdb');
  let loadRate: number;
  let engine: { p50: number; p99: number };
  try {
    loadRate = await loadIntoAnalytics(store, options, (done) => {
      if (done % 1_000_000 === 0) console.log(`    ${done.toLocaleString('en-US')} rows loaded`);
    });
    const today = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate());
    const filter = { from: new Date(today - 30 * 86_400_000).toISOString(), to: new Date(today).toISOString() };
    const request = { groupBy: ['severity'] as const, interval: 'day' as const, maxGroups: 1000, maxCells: 200_000 };
    await store.stats('abc' as never, filter, request);
    const times = await timeEach(QUERIES, () => store.stats('abc' as never, filter, request));
    engine = { p50: times.percentile(50), p99: times.percentile(99) };
  } finally {
    await store.close();
  }

  const port = await freePort();
  const server = await startService({
    name: 'all-in-one (ANALYTICS=chdb)',
    // Under tsx: packages/chdb is not part of make build (it is installed only with analytics on).
    args: ['--conditions=development', '--import', 'tsx', join(context.root, 'services/all-in-one/src/main.ts')],
    port,
    env: {
      DATA_DIR: dataDir,
      PORT: String(port),
      HOST: '127.0.0.1',
      AUTH_SECRET: context.authSecret,
      LOG_LEVEL: 'warn',
      ANALYTICS: 'chdb',
      SEAL_INTERVAL: '0',
    },
    logFile: join(context.workDir, 'analytics-server.log'),
    readyPath: '/readyz',
  });
  try {
    const viewer = bearer(await context.token('abc', 'viewer'));
    const url = `${server.url}${dashboardPath(now)}`;
    const first = await fetch(url, { headers: viewer });
    const body = (await first.json()) as { meta?: { source?: string }; data?: { buckets?: unknown[] } };
    if (first.status !== 200 || body.meta?.source !== 'analytics')
      throw new Error(`the dashboard query answered ${first.status}: ${JSON.stringify(body).slice(0, 300)}`);
    const api = await timeEach(QUERIES, async () => {
      const response = await fetch(url, { headers: viewer });
      await response.arrayBuffer();
    });

    // Scenario 1's load (single POSTs, c=100) while the sink copies them; its lag sampled every 100 ms.
    const writer = bearer(await context.token('bench-ingest', 'writer'));
    const lags: number[] = [];
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        const readyz = (await (await fetch(`${server.url}/readyz`)).json()) as {
          data: { details?: { analytics?: { lagSeconds: number } } };
        };
        lags.push(readyz.data.details?.analytics?.lagSeconds ?? Number.NaN);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    })();
    const loop = await watchLoopDelay(server.url);
    const load = await hammer({
      url: `${server.url}/api/v1/logs`,
      body: JSON.stringify(PYTHON_EVENT),
      headers: writer,
      connections: 100,
      duration: context.sizes.postSeconds,
    });
    const loopP99 = await loop();
    await new Promise((resolve) => setTimeout(resolve, 1000));
    sampling = false;
    await sampler;
    const sorted = lags.filter((lag) => !Number.isNaN(lag)).sort((a, b) => a - b);
    const maxLag = sorted.at(-1) ?? null;
    const p99Lag = sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * 0.99))] ?? null;
    return [
      { scenario, figure: 'bulk load into chdb (rows/s)', value: loadRate, target: { of: 'value', op: '>=', limit: 200_000 } },
      {
        scenario,
        figure: 'dashboard query p50 (ms), API vs engine',
        value: api.percentile(50),
        baseline: engine.p50,
        target: { of: 'value', op: '<=', limit: 200, unit: 'ms' },
      },
      { scenario, figure: 'dashboard query p99 (ms), API vs engine', value: api.percentile(99), baseline: engine.p99 },
      { scenario, figure: 'POST requests/s with the sink running (c=100)', value: load.ok2xxPerSecond },
      { scenario, figure: 'POST errors', value: load.errors, target: { of: 'value', op: '<=', limit: 0 } },
      { scenario, figure: 'sink lag p99 (s) under that load', value: p99Lag },
      { scenario, figure: 'sink lag max (s) under that load', value: maxLag, target: { of: 'value', op: '<=', limit: 2 } },
      loopFigure(scenario, loopP99),
    ];
  } finally {
    await server.stop();
  }
}
