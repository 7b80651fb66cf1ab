import { mkdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { ClickHouseAnalyticsStore } from '@logserver/shared/clickhouse/clickhouse-analytics-store';
import type { ClickHouseDriver } from '@logserver/shared/clickhouse/driver';
import { GENERATE_CHUNK, type GenerateSpec, generateRows } from '@logserver/shared/clickhouse/generate';
import { openSqlite } from '@logserver/shared/sqlite/database';
import { SqliteLogStore } from '@logserver/shared/sqlite/log-store';
import { SqliteTenantStore } from '@logserver/shared/sqlite/tenant-store';
import { openChdbDriver } from '../../../packages/chdb/src/chdb-driver.js';
import { type CubeQuery, compileCubeQuery, loadModel } from '../../cube-sql.js';
import { loadIntoAnalytics } from '../../gen-data.js';
import { type BenchContext, bearer, loopFigure } from '../context.js';
import { PYTHON_EVENT } from '../data.js';
import { hammer, timeEach } from '../http-load.js';
import { freePort, metricsHeaders, type Service, startService, watchLoopDelay } from '../processes.js';
import type { Figure } from '../report.js';

const TENANTS = ['abc', 'xyz'];
const TENANT = 'abc';
/** The tenant scenario 1's load writes to while the sink's lag is sampled. */
const INGEST_TENANT = 'bench-ingest';
const DB = 'logdb';

type Counts = Record<string, Record<string, number>>;

/** The day window both query paths read: Cube's "last 30 days" ([today − 30 d, end of yesterday]) is the stats API's from/to. */
function window(now: Date): { from: string; to: string } {
  const today = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate());
  return { from: new Date(today - 30 * 86_400_000).toISOString(), to: new Date(today).toISOString() };
}

/** The stats API's form of the seed's dashboard query: count by severity per day over the last 30 days. */
function dashboardPath(now: Date): string {
  const { from, to } = window(now);
  return `/api/v1/logs/stats?interval=day&from=${from}&to=${to}`;
}

/** Non-zero counts per day (YYYY-MM-DD) and severity, from the API's buckets. */
function countsOfApi(body: { data: { buckets: { start: string; counts: Record<string, number> }[] } }): Counts {
  const counts: Counts = {};
  for (const bucket of body.data.buckets)
    for (const [severity, n] of Object.entries(bucket.counts))
      if (n > 0) counts[bucket.start.slice(0, 10)] = { ...counts[bucket.start.slice(0, 10)], [severity]: n };
  return counts;
}

const sameCounts = (a: Counts, b: Counts): boolean => {
  const flat = (counts: Counts) =>
    Object.entries(counts)
      .flatMap(([day, bySeverity]) => Object.entries(bySeverity).map(([severity, n]) => `${day}|${severity}|${n}`))
      .sort()
      .join(',');
  return flat(a) === flat(b);
};

/**
 * The generated rows, copied into a primary SQLite store with the same commit positions (seq), so
 * that the server's sink finds analytics caught up and both sides count the very same events. The
 * store's own schema, loaded without its indexes and rollups, which it then builds on open (its path
 * for a database made before the rollups existed). Returns the seconds each part took.
 */
async function copyIntoPrimary(driver: ClickHouseDriver, sqlitePath: string, rows: number): Promise<{ copy: number; build: number }> {
  await SqliteLogStore.open(sqlitePath).close();
  const db = openSqlite(sqlitePath);
  db.exec(`DROP TABLE log_rollups; DROP TABLE log_rollup_dims;
    DROP INDEX logs_tenant_id; DROP INDEX logs_tenant_ts; DROP INDEX logs_tenant_severity_ts;`);
  db.close();
  const iso = (column: string) => `concat(replaceOne(toString(${column}), ' ', 'T'), 'Z')`;
  let started = performance.now();
  for (let first = 1; first <= rows; first += GENERATE_CHUNK) {
    await driver.command(
      `INSERT INTO FUNCTION sqlite({path:String}, 'logs')
        (seq, tenant_id, id, ts, received_at, user_id, action, resource_type, resource_id, ip_address, user_agent, severity, before, after, metadata)
       SELECT position, tenant_id, id, ${iso('timestamp')}, ${iso('received_at')}, user_id, action, resource_type, resource_id,
         ip_address, user_agent, severity, before, after, metadata
       FROM ${DB}.logs WHERE position >= {first:UInt64} AND position < {next:UInt64} ORDER BY position`,
      { path: sqlitePath, first, next: first + GENERATE_CHUNK },
    );
    console.log(`    ${Math.min(rows, first + GENERATE_CHUNK - 1).toLocaleString('en-US')} rows copied into SQLite`);
  }
  const copy = (performance.now() - started) / 1000;
  started = performance.now();
  await SqliteLogStore.open(sqlitePath).close();
  return { copy, build: (performance.now() - started) / 1000 };
}

/**
 * 9: the analytics tier against the primary store, on the same `analyticsRows` rows (10 000 000 in
 * the full run; BENCH_ANALYTICS_ROWS overrides). The engine generates them (scripts/gen-data's
 * engine-side generator) and they are copied into a primary SQLite store with the same positions.
 * Then the seed's dashboard query for one tenant: through the Cube path (cube.js checkAuth and
 * queryRewrite, the model's SQL) on chdb beside the same count on SQLite's logs table, and through
 * the stats API with ANALYTICS=chdb beside the same API on the primary store (its hourly rollups);
 * the answers are compared. The bulk-load figure is the generation's rate; client-built rows through
 * the store's insert (the sink's path) are reported beside it. Also: the sink's lag under scenario 1's load.
 */
export async function analyticsTier(context: BenchContext): Promise<Figure[]> {
  const { sizes } = context;
  const rows = Number(process.env.BENCH_ANALYTICS_ROWS ?? sizes.analyticsRows);
  if (!Number.isSafeInteger(rows) || rows < 1)
    throw new Error(`BENCH_ANALYTICS_ROWS=${process.env.BENCH_ANALYTICS_ROWS} is not a row count`);
  const scenario = `9 analytics, ${rows.toLocaleString('en-US')} rows`;
  const dataDir = join(context.workDir, 'analytics-data');
  const chdbPath = join(dataDir, 'analytics');
  const sqlitePath = join(dataDir, 'logserver.db');
  mkdirSync(dataDir, { recursive: true });
  const now = new Date();
  const spec: GenerateSpec = { rows, tenants: TENANTS, days: 30, now, seed: 9, firstPosition: 1 };
  const figures: Figure[] = [];
  const add = (figure: Omit<Figure, 'scenario'>) => figures.push({ scenario, ...figure });

  // Cube's side as plain code (its compiler cannot be installed here): cube.js and the model file.
  const require = createRequire(import.meta.url);
  const cube = require(join(context.root, 'deploy/cube/cube.js')) as {
    checkAuth(req: { securityContext?: unknown }, authorization: string | undefined): void;
    queryRewrite(query: CubeQuery, context: { securityContext: unknown }): CubeQuery;
  };
  const model = loadModel(join(context.root, 'deploy/cube/model/logs.yml'));
  const dashboard = JSON.parse(readFileSync(join(context.root, 'deploy/cube/dashboard-query.json'), 'utf8')) as CubeQuery;
  process.env.AUTH_SECRET = context.authSecret;
  const viewerToken = await context.token(TENANT, 'viewer');

  // In this process: generate, load, copy, and the engine-side queries; the servers open the folder after.
  const driver = openChdbDriver(chdbPath);
  const store = new ClickHouseAnalyticsStore(driver, DB);
  const cubeCounts: Counts = {};
  try {
    await store.migrate();
    const generated = await generateRows(driver, DB, spec, (done) =>
      console.log(`    ${done.toLocaleString('en-US')} rows generated in chdb`),
    );
    // The bulk load: the 10 000 000 generated rows into the analytics store (gen-data --target analytics).
    add({
      figure: 'bulk load: the generated rows into the analytics store (rows/s)',
      value: generated,
      target: { of: 'value', op: '>=', limit: 200_000 },
    });
    // The operator's step after a bulk load (docs/analytics.md): merge the parts, so FINAL reads stay cheap.
    const mergeStarted = performance.now();
    await store.mergeParts();
    add({ figure: 'merge after the bulk load: OPTIMIZE TABLE logs FINAL (s)', value: (performance.now() - mergeStarted) / 1000 });
    // What the sink would have saved had it copied them: the server's sink starts caught up.
    await store.saveCheckpoint({ position: String(rows), cleanupId: 0, caughtUpAt: new Date().toISOString() });

    // Client-built rows through the store's insert (TabSeparated), the sink's path, into a scratch database.
    const loadRows = Math.min(rows, sizes.analyticsLoadRows);
    const scratch = new ClickHouseAnalyticsStore(driver, 'bench_load');
    const loaded = await loadIntoAnalytics(scratch, { rows: loadRows, tenants: TENANTS, days: 30, seed: 10, now });
    await driver.command('DROP DATABASE bench_load');
    // Reported without a target: rows built in Node cost 10–13 µs each before the engine sees them (docs/analytics.md).
    add({
      figure: `client-built rows through the store's insert, the sink's path (rows/s, ${loadRows.toLocaleString('en-US')} rows, insert calls only)`,
      value: loaded.insert,
    });
    add({ figure: 'client-built rows overall, building them included (rows/s)', value: loaded.overall });

    // The Cube path: checkAuth on the viewer's token, queryRewrite, the model's SQL, on chdb.
    const cubeQuery = async () => {
      const req: { securityContext?: unknown } = {};
      cube.checkAuth(req, `Bearer ${viewerToken}`);
      const { sql, params } = compileCubeQuery(model, cube.queryRewrite(dashboard, { securityContext: req.securityContext }), now);
      return driver.query<{ logs__severity: string; logs__timestamp_day: string; logs__count: string | number }>(sql, params);
    };
    for (const row of await cubeQuery()) {
      const day = row.logs__timestamp_day.slice(0, 10);
      cubeCounts[day] = { ...cubeCounts[day], [row.logs__severity]: Number(row.logs__count) };
    }
    const viaCube = await timeEach(sizes.analyticsQueries, cubeQuery);

    const copied = await copyIntoPrimary(driver, sqlitePath, rows);
    add({ figure: 'copy into the primary SQLite store (s)', value: copied.copy });
    add({ figure: 'primary store builds its indexes and rollups (s)', value: copied.build });
    // AUTH_REQUIRE_REGISTERED_TENANT is on (#13): the tenants exist in the file, as if POST /api/v1/tenants made them.
    const tenants = SqliteTenantStore.open(sqlitePath);
    for (const key of [...TENANTS, INGEST_TENANT]) await tenants.create({ key, name: key }).catch(() => {});
    await tenants.close();

    // The same count on SQLite's logs table (no rollups: what a store without them does), a few runs.
    const sqlite = openSqlite(sqlitePath);
    const { from, to } = window(now);
    const scan = sqlite.prepare(
      'SELECT substr(ts, 1, 10) AS day, severity, count(*) AS n FROM logs WHERE tenant_id = ? AND ts >= ? AND ts < ? GROUP BY day, severity',
    );
    // The counts compared are the last timed run's (another run only for them took 90 s at full scale).
    let scanned: { day: string; severity: string; n: number }[] = [];
    const scanTimes = await timeEach(sizes.analyticsScanRuns, () => {
      scanned = scan.all(TENANT, from, to) as typeof scanned;
    });
    const scanCounts: Counts = {};
    for (const row of scanned) scanCounts[row.day] = { ...scanCounts[row.day], [row.severity]: row.n };
    sqlite.close();
    add({
      figure: "dashboard query p50 (ms): Cube's SQL on chdb vs the count on SQLite's logs table",
      value: viaCube.percentile(50),
      baseline: scanTimes.percentile(50),
      target: { of: 'value', op: '<=', limit: 200, unit: 'ms' },
    });
    add({
      figure: "dashboard query p99 (ms): Cube's SQL on chdb vs that count",
      value: viaCube.percentile(99),
      baseline: scanTimes.percentile(99),
    });
    add({
      figure: "Cube's answer equals the SQLite count (1 = yes)",
      value: sameCounts(cubeCounts, scanCounts) ? 1 : 0,
      target: { of: 'value', op: '>=', limit: 1 },
    });
  } finally {
    await store.close();
  }

  // The stats API: the primary store (rollups) first, then ANALYTICS=chdb, on the same folder.
  const startServer = async (name: string, env: Record<string, string>): Promise<Service> => {
    const port = await freePort();
    return startService({
      name,
      // Under tsx: packages/chdb is not part of make build (it is installed only with analytics on).
      args: ['--conditions=development', '--import', 'tsx', join(context.root, 'services/all-in-one/src/main.ts')],
      port,
      env: {
        DATA_DIR: dataDir,
        PORT: String(port),
        HOST: '127.0.0.1',
        AUTH_SECRET: context.authSecret,
        LOG_LEVEL: 'warn',
        SEAL_INTERVAL: '0',
        ...env,
      },
      logFile: join(context.workDir, `${name.replace(/\W+/g, '-')}.log`),
      readyPath: '/readyz',
    });
  };
  const viewer = bearer(viewerToken);
  const timeApi = async (server: Service, source: string) => {
    const url = `${server.url}${dashboardPath(now)}`;
    const first = await fetch(url, { headers: viewer });
    // biome-ignore lint/suspicious/noExplicitAny: the benchmark reads the body field by field
    const body: any = await first.json();
    if (first.status !== 200 || body.meta?.source !== source)
      throw new Error(`the dashboard query answered ${first.status}: ${JSON.stringify(body).slice(0, 300)}`);
    const times = await timeEach(sizes.analyticsQueries, async () => {
      const response = await fetch(url, { headers: viewer });
      await response.arrayBuffer();
    });
    return { times, counts: countsOfApi(body) };
  };

  const primaryServer = await startServer('all-in-one (primary store)', { ANALYTICS: 'off' });
  let primary: Awaited<ReturnType<typeof timeApi>>;
  try {
    primary = await timeApi(primaryServer, 'rollups');
  } finally {
    await primaryServer.stop();
  }

  const server = await startServer('all-in-one (ANALYTICS=chdb)', { ANALYTICS: 'chdb' });
  try {
    const analytics = await timeApi(server, 'analytics');
    add({
      figure: 'dashboard query p50 (ms), stats API: analytics vs primary store (rollups)',
      value: analytics.times.percentile(50),
      baseline: primary.times.percentile(50),
      target: { of: 'value', op: '<=', limit: 200, unit: 'ms' },
    });
    add({
      figure: 'dashboard query p99 (ms), stats API: analytics vs primary store',
      value: analytics.times.percentile(99),
      baseline: primary.times.percentile(99),
    });
    add({
      figure: 'analytics, primary and Cube answers are equal (1 = yes)',
      value: sameCounts(analytics.counts, primary.counts) && sameCounts(analytics.counts, cubeCounts) ? 1 : 0,
      target: { of: 'value', op: '>=', limit: 1 },
    });

    // Scenario 1's load (single POSTs, c=100) while the sink copies them; its lag sampled every 100 ms.
    const writer = bearer(await context.token(INGEST_TENANT, 'writer'));
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
    const loop = await watchLoopDelay(server.url, await metricsHeaders(context));
    const load = await hammer({
      url: `${server.url}/api/v1/logs`,
      body: JSON.stringify(PYTHON_EVENT),
      headers: writer,
      connections: 100,
      duration: sizes.postSeconds,
    });
    const loopP99 = await loop();
    await new Promise((resolve) => setTimeout(resolve, 1000));
    sampling = false;
    await sampler;
    const sorted = lags.filter((lag) => !Number.isNaN(lag)).sort((a, b) => a - b);
    add({ figure: 'POST requests/s with the sink running (c=100)', value: load.ok2xxPerSecond });
    add({ figure: 'POST errors', value: load.errors, target: { of: 'value', op: '<=', limit: 0 } });
    add({
      figure: 'sink lag p99 (s) under that load',
      value: sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * 0.99))] ?? null,
    });
    add({ figure: 'sink lag max (s) under that load', value: sorted.at(-1) ?? null, target: { of: 'value', op: '<=', limit: 2 } });
    figures.push(loopFigure(scenario, loopP99));
  } finally {
    await server.stop();
  }
  return figures;
}
