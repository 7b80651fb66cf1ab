import { availableParallelism } from 'node:os';
import type { ClickHouseDriver } from './driver.js';
import { assertDatabaseName } from './schema.js';
import { toClickHouseTime } from './sql.js';

/** What scripts/gen-data writes straight into the analytics store (docs/analytics.md "Data generator"). */
export interface GenerateSpec {
  /** Rows to write; they go to the tenants in turn (row n to tenants[n % tenants.length]). */
  rows: number;
  tenants: readonly string[];
  /** Timestamps spread over the `days` before `now`. */
  days: number;
  now: Date;
  /** The same seed and sizes give the same rows (all but the random ids). */
  seed: number;
  /** Row n gets commit position firstPosition + n, so a primary store can be given the same rows (scenario 9). */
  firstPosition: number;
}

/** Rows per INSERT … SELECT: the progress bar moves once a statement. */
export const GENERATE_CHUNK = 1_000_000;

const ACTIONS = ['create', 'update', 'delete', 'login', 'logout', 'export'];
const TYPES = ['user', 'invoice', 'project', 'document'];
const AGENTS = [
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64)',
  'Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5)',
  'curl/8.5.0',
  'PostmanRuntime/7.36',
];
const SOURCES = ['dashboard', 'api', 'cli'];

/**
 * The seed's event shape (the Python README's example, varied as scripts/gen-data's clientEvent
 * varies it: 70 % INFO, 20 % WARNING, 8 % ERROR, 2 % CRITICAL; 200 users, 6 actions, 4 resource
 * types), computed by the engine from `numbers()`: each field a hash of the row number and the seed,
 * so no row crosses from this process to the engine. Every value is a query parameter.
 */
export function generateStatement(
  db: string,
  spec: GenerateSpec,
  start: number,
  count: number,
): { sql: string; params: Record<string, unknown> } {
  assertDatabaseName(db);
  const h = (salt: number) => `cityHash64(number, ${salt}, {seed:UInt64})`;
  const sql = `INSERT INTO ${db}.logs
    (tenant_id, timestamp, id, position, received_at, user_id, action, resource_type, resource_id, ip_address, user_agent, severity, before, after, metadata)
    SELECT
      {tenants:Array(String)}[number % length({tenants:Array(String)}) + 1],
      {now:DateTime64(3, 'UTC')} - toIntervalMillisecond(${h(1)} % {spanMs:UInt64}) AS generated_at,
      toString(generateUUIDv4(number)),
      {firstPosition:UInt64} + number,
      generated_at,
      concat('user-', toString(${h(2)} % 200) AS user),
      {actions:Array(String)}[${h(3)} % length({actions:Array(String)}) + 1],
      {types:Array(String)}[${h(4)} % length({types:Array(String)}) + 1],
      toString(${h(5)} % 10000),
      concat('192.168.', toString(toUInt64(user) % 256), '.', toString(${h(6)} % 254 + 1)),
      {agents:Array(String)}[${h(7)} % length({agents:Array(String)}) + 1],
      multiIf((${h(8)} % 100 AS roll) < 70, 'INFO', roll < 90, 'WARNING', roll < 98, 'ERROR', 'CRITICAL'),
      concat('{"email":"old', user, '@example.com","name":"Old Name"}'),
      concat('{"email":"new', user, '@example.com","name":"New Name"}'),
      concat('{"editor":"admin","source":"', {sources:Array(String)}[${h(9)} % length({sources:Array(String)}) + 1], '"}')
    FROM numbers({start:UInt64}, {count:UInt64})`;
  return {
    sql,
    params: {
      tenants: spec.tenants,
      now: toClickHouseTime(spec.now.toISOString()),
      spanMs: spec.days * 86_400_000,
      seed: spec.seed,
      firstPosition: spec.firstPosition,
      actions: ACTIONS,
      types: TYPES,
      agents: AGENTS,
      sources: SOURCES,
      start,
      count,
    },
  };
}

/**
 * How each generating statement runs. optimize_on_insert = 0, as for the store's own insert: by
 * default a ReplacingMergeTree collapses each inserted block's duplicate keys as it writes them, a
 * pass over the sorted block that doubled the statement's CPU (6.2–6.7 s per 1 000 000 rows, 2.9–3.5 s
 * without; docs/benchmarks.md, scenario 9) and finds nothing here (every row has its own id); reads say
 * FINAL either way. max_insert_threads: an INSERT … SELECT writes on one thread unless told; the
 * generated rows have no order to keep, so every core of this machine builds and writes blocks
 * (on a ClickHouse server, at least as many of its own).
 */
export const GENERATE_SETTINGS = { optimize_on_insert: 0, max_insert_threads: availableParallelism() } as const;

/** Writes spec.rows generated rows into `db`.logs (which must exist), a chunk a statement; returns rows per second. */
export async function generateRows(
  driver: ClickHouseDriver,
  db: string,
  spec: GenerateSpec,
  progress: (done: number) => void = () => {},
): Promise<number> {
  if (spec.tenants.length === 0) throw new Error('generateRows needs at least one tenant');
  const started = performance.now();
  for (let done = 0; done < spec.rows; ) {
    const count = Math.min(GENERATE_CHUNK, spec.rows - done);
    const { sql, params } = generateStatement(db, spec, done, count);
    await driver.command(sql, params, GENERATE_SETTINGS);
    done += count;
    progress(done);
  }
  return spec.rows / ((performance.now() - started) / 1000);
}
