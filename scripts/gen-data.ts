// Generates audit events in the seed's shape (the Python README's example event, varied), either
// through the API (POST /api/v1/logs/bulk: the whole pipeline) or straight into the analytics store:
// computed by the engine itself (--target analytics: 10 000 000 rows quickly, for a dashboard or the
// benchmark) or built here and sent row by row through the store's insert (--target analytics-insert).
//   pnpm gen-data --rows 10000000 --tenants abc,xyz --days 30 --target analytics
//   pnpm gen-data --rows 100000 --tenants demo --days 7 --target api --url http://localhost:8080
// docs/analytics.md, "Data generator".
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { AnalyticsStore, PositionedEvent } from '@logserver/shared/analytics/port';
import { mintToken } from '@logserver/shared/auth/jwt-verifier';
import { ClickHouseAnalyticsStore } from '@logserver/shared/clickhouse/clickhouse-analytics-store';
import { generateRows } from '@logserver/shared/clickhouse/generate';
import { openAnalyticsDriver } from '@logserver/shared/clickhouse/open-analytics';
import { loadConfig } from '@logserver/shared/config/load-config';
import { analyticsConfig, authConfig } from '@logserver/shared/config/schemas';
import { type LogEvent, SEVERITIES } from '@logserver/shared/schemas/log-event';
import { TenantKey } from '@logserver/shared/schemas/tenant';
import { seededRandom } from '@logserver/testing/events';
import { SingleBar } from 'cli-progress';
import pMap from 'p-map';
import { v7 as uuidv7 } from 'uuid';
import { z } from 'zod';

const USAGE =
  'usage: pnpm gen-data --rows <n> --tenants <a,b> --days <n> [--target analytics|analytics-insert|api] [--url http://localhost:8080] [--seed <n>]';

export interface GenOptions {
  rows: number;
  tenants: string[];
  days: number;
  seed: number;
  /** The newest timestamp; rows spread over the `days` before it. */
  now: Date;
}

const ACTIONS = ['create', 'update', 'delete', 'login', 'logout', 'export'];
const TYPES = ['user', 'invoice', 'project', 'document'];
const AGENTS = [
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64)',
  'Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5)',
  'curl/8.5.0',
  'PostmanRuntime/7.36',
];
/** The seed's severity mix: mostly INFO, a few WARNING, rare ERROR and CRITICAL. */
const SEVERITY_WEIGHTS = [0.7, 0.2, 0.08, 0.02];

/** The body a client would POST: the Python README's example event, varied. */
export function clientEvent(random: () => number, options: Pick<GenOptions, 'days' | 'now'>): Record<string, unknown> {
  const pick = <T>(values: readonly T[]): T => values[Math.floor(random() * values.length)] as T;
  const roll = random();
  let severity: (typeof SEVERITIES)[number] = 'CRITICAL';
  for (let index = 0, sum = 0; index < SEVERITIES.length; index++) {
    sum += SEVERITY_WEIGHTS[index] as number;
    if (roll < sum) {
      severity = SEVERITIES[index] as (typeof SEVERITIES)[number];
      break;
    }
  }
  const user = Math.floor(random() * 200);
  return {
    action: pick(ACTIONS),
    resource_type: pick(TYPES),
    resource_id: String(Math.floor(random() * 10_000)),
    timestamp: new Date(options.now.getTime() - Math.floor(random() * options.days * 86_400_000)).toISOString(),
    ip_address: `192.168.${user % 256}.${Math.floor(random() * 254) + 1}`,
    user_agent: pick(AGENTS),
    before: { email: `old${user}@example.com`, name: 'Old Name' },
    after: { email: `new${user}@example.com`, name: 'New Name' },
    metadata: { editor: 'admin', source: pick(['dashboard', 'api', 'cli']) },
    severity,
  };
}

/** A stored event as the server would make it (id, tenant, user, received_at); no hash: analytics keeps none. */
function storedEvent(random: () => number, tenant: string, options: GenOptions): LogEvent {
  const body = clientEvent(random, options) as Omit<LogEvent, 'id' | 'tenant_id' | 'user_id' | 'received_at'>;
  return {
    id: uuidv7(),
    tenant_id: tenant,
    user_id: `user-${Math.floor(random() * 200)}`,
    received_at: body.timestamp,
    ...body,
  };
}

export type Progress = (done: number) => void;

export interface LoadRates {
  /** Rows per second of the store's insert calls alone. */
  insert: number;
  /** Rows per second overall: building the rows here and inserting them. */
  overall: number;
}

/**
 * Writes rows straight into the analytics store, in batches. The rows exist in analytics only
 * (not in the primary store): for dashboards and the benchmark. The insert calls are timed apart
 * from building the rows, so the store's own rate is told from the generator's.
 */
export async function loadIntoAnalytics(store: AnalyticsStore, options: GenOptions, progress: Progress = () => {}): Promise<LoadRates> {
  await store.migrate();
  const random = seededRandom(options.seed);
  const batch = 100_000;
  const started = performance.now();
  let inserting = 0;
  for (let done = 0; done < options.rows; ) {
    const size = Math.min(batch, options.rows - done);
    const events: PositionedEvent[] = new Array(size);
    for (let index = 0; index < size; index++) {
      const tenant = options.tenants[(done + index) % options.tenants.length] as string;
      // Position 0: these rows did not come from the primary store, and the sink never writes below 1.
      events[index] = { position: '0', event: storedEvent(random, tenant, options) };
    }
    const insertStarted = performance.now();
    await store.insert(events);
    inserting += performance.now() - insertStarted;
    done += size;
    progress(done);
  }
  return { insert: options.rows / (inserting / 1000), overall: options.rows / ((performance.now() - started) / 1000) };
}

/** POSTs the rows through the API (the whole pipeline), 1000 a request, a few requests at a time. */
export async function postThroughApi(
  url: string,
  tokens: Record<string, string>,
  options: GenOptions,
  progress: Progress = () => {},
): Promise<number> {
  const random = seededRandom(options.seed);
  const requests = Math.ceil(options.rows / 1000);
  let done = 0;
  const started = performance.now();
  await pMap(
    Array.from({ length: requests }, (_, index) => index),
    async (index) => {
      const size = Math.min(1000, options.rows - index * 1000);
      const tenant = options.tenants[index % options.tenants.length] as string;
      const body = Array.from({ length: size }, () => clientEvent(random, options));
      const response = await fetch(`${url}/api/v1/logs/bulk`, {
        method: 'POST',
        headers: { authorization: `Bearer ${tokens[tenant]}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      if (response.status !== 200)
        throw new Error(`POST /api/v1/logs/bulk answered ${response.status}: ${(await response.text()).slice(0, 300)}`);
      done += size;
      progress(done);
    },
    { concurrency: 4 },
  );
  return options.rows / ((performance.now() - started) / 1000);
}

function secretFrom(config: { AUTH_SECRET?: string | undefined }, dataDir: string): string {
  if (config.AUTH_SECRET) return config.AUTH_SECRET;
  try {
    return readFileSync(join(dataDir, 'auth-secret'), 'utf8').trim();
  } catch {
    throw new Error(`no AUTH_SECRET in the environment and no ${join(dataDir, 'auth-secret')}: set AUTH_SECRET, or run make start once`);
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      rows: { type: 'string', default: '100000' },
      tenants: { type: 'string', default: 'demo' },
      days: { type: 'string', default: '30' },
      target: { type: 'string', default: 'analytics' },
      url: { type: 'string', default: 'http://localhost:8080' },
      seed: { type: 'string', default: '1' },
    },
  });
  const rows = z.coerce.number().int().min(1).max(1_000_000_000).safeParse(values.rows);
  const days = z.coerce.number().int().min(1).max(36_500).safeParse(values.days);
  const tenants = (values.tenants ?? '').split(',').map((tenant) => tenant.trim());
  if (
    !rows.success ||
    !days.success ||
    !tenants.every((tenant) => TenantKey.safeParse(tenant).success) ||
    !['analytics', 'analytics-insert', 'api'].includes(values.target ?? '')
  ) {
    throw new Error(USAGE);
  }
  const options: GenOptions = { rows: rows.data, tenants, days: days.data, seed: Number(values.seed) || 1, now: new Date() };
  const bar = new SingleBar({ format: '{bar} {percentage}% | {value}/{total} rows | {duration_formatted} | ETA {eta_formatted}' });
  bar.start(options.rows, 0);
  let rate: number;
  if (values.target === 'analytics' || values.target === 'analytics-insert') {
    const config = loadConfig(z.object({ ...analyticsConfig, DATA_DIR: z.string().default('./data') }));
    const driver = await openAnalyticsDriver(config);
    if (!driver)
      throw new Error(
        `--target ${values.target} needs ANALYTICS=chdb (with CHDB_PATH or DATA_DIR) or ANALYTICS=clickhouse (with CLICKHOUSE_URL)`,
      );
    const store = new ClickHouseAnalyticsStore(driver, config.CLICKHOUSE_DB);
    try {
      if (values.target === 'analytics-insert') rate = (await loadIntoAnalytics(store, options, (done) => bar.update(done))).overall;
      else {
        await store.migrate();
        // Positions from 0 (their version in the table only): these rows did not come from the primary store.
        rate = await generateRows(driver, config.CLICKHOUSE_DB, { ...options, firstPosition: 0 }, (done) => bar.update(done));
      }
      bar.stop();
      // The step after a bulk load (docs/analytics.md): one part a partition, so FINAL reads stay cheap.
      const started = performance.now();
      process.stdout.write('merging the parts (OPTIMIZE TABLE logs FINAL)…\n');
      await store.mergeParts();
      process.stdout.write(`merged in ${((performance.now() - started) / 1000).toFixed(1)} s\n`);
    } finally {
      await store.close();
    }
  } else {
    const config = loadConfig(z.object({ ...authConfig, DATA_DIR: z.string().default('./data') }));
    const secret = secretFrom(config, config.DATA_DIR);
    const tokens: Record<string, string> = {};
    for (const tenant of tenants) {
      tokens[tenant] = await mintToken({
        secret,
        scheme: config.AUTH_KEY_SCHEME,
        audience: config.AUTH_AUDIENCE,
        issuer: config.AUTH_ISSUER,
        requireExp: true,
        tenant,
        role: 'writer',
        sub: 'gen-data',
        ttlSeconds: 86_400,
      });
    }
    rate = await postThroughApi(values.url as string, tokens, options, (done) => bar.update(done));
  }
  bar.stop();
  process.stdout.write(`${options.rows} rows for ${tenants.join(', ')} over ${options.days} days: ${Math.round(rate)} rows/s\n`);
}

// Run as a script (pnpm gen-data), not when the benchmark imports its loaders.
if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === resolve(process.argv[1])) {
  main().catch((error: unknown) => {
    process.stderr.write(`${error instanceof Error ? error.message : error}\n`);
    process.exit(1);
  });
}
