import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { mintToken } from '@logserver/shared/auth/jwt-verifier';
import { eventHash } from '@logserver/shared/integrity/event-hash';
import type { LogEvent } from '@logserver/shared/schemas/log-event';
import { SqliteLogStore } from '@logserver/shared/sqlite/log-store';
import { tenantOf } from '@logserver/shared/store/tenant-id';
import { makeEvent, PYTHON_EVENT, seededRandom } from '@logserver/testing/events';
import { allInOneEnv, BENCH_AUTH, createTenant } from './context.js';
import { hammer } from './http-load.js';
import { freePort, loadAverage, ownCpuMicros, type Service, startEcho, startFloor, startService, threadCpuSeconds } from './processes.js';
import { categorize, IDLE, POST_CATEGORIES, STARTUP } from './profile-categories.js';

/**
 * #15, scenario 1's "≥ 0.6 × the echo": where the CPU of a POST goes, per thread, and what the
 * target leaves for it. Scenario 1's load (the Python README's event, c=100) against the bare echo,
 * the built all-in-one (make build) and the floor (floor-server.ts: the echo plus only the stored
 * event, its hash and its durable append), in slices whose order turns; for each, the CPU per request of
 * every thread of the server (/proc/<pid>/task) and of the load generator (this process), which
 * shares the two cores. Then, in this process, the two parts no POST can skip: the event hash and
 * the store's append of a batch (the writer thread's work: the row, its indexes, the rollups, the
 * FULL commit).
 *
 *   node --conditions=development --import tsx scripts/bench/cpu-budget.ts
 *   BUDGET_ROUNDS=3 BUDGET_SECONDS=8 (the defaults)
 *   BUDGET_PROFILE=<dir>: the server runs with --cpu-prof into <dir>, and its main thread's profile
 *   is summed by category (profile-categories.ts) per request it answered. The profiler slows the
 *   server, so the req/s of such a run are not the figures to quote.
 */
const root = resolve(import.meta.dirname, '../..');
const rounds = Number(process.env.BUDGET_ROUNDS ?? 3);
const seconds = Number(process.env.BUDGET_SECONDS ?? 8);
const MAIN = 'main thread';
const profileDir = process.env.BUDGET_PROFILE ? resolve(process.env.BUDGET_PROFILE) : null;

/** CPU seconds of each thread of a process, the main thread named. */
const threadSeconds = (pid: number) =>
  new Map([...threadCpuSeconds(pid)].map(([tid, seconds]) => [tid === String(pid) ? MAIN : tid, seconds]));

const fixed = (value: number) => value.toFixed(1).padStart(7);

const work = mkdtempSync(join(tmpdir(), 'logserver-cpu-budget-'));
const secret = randomBytes(32).toString('hex');
const services: Service[] = [];
try {
  const echo = await startEcho(join(work, 'echo.log'), 'echo');
  services.push(echo);
  const port = await freePort();
  mkdirSync(join(work, 'data'));
  const server = await startService({
    name: 'all-in-one',
    args: [...(profileDir ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : []), join(root, 'services/all-in-one/dist/main.js')],
    port,
    env: allInOneEnv(join(work, 'data'), secret, { PORT: String(port), LOG_LEVEL: 'warn' }),
    logFile: join(work, 'server.log'),
    readyPath: '/readyz',
  });
  services.push(server);
  // The floor: the echo plus only what no POST can skip (floor-server.ts).
  mkdirSync(join(work, 'floor'));
  const floor = await startFloor(join(work, 'floor.log'), join(work, 'floor'));
  services.push(floor);
  await createTenant(server.url, { ...BENCH_AUTH, secret }, 'budget');
  const token = await mintToken({ ...BENCH_AUTH, secret, tenant: 'budget', role: 'writer', sub: 'bench', ttlSeconds: 3600 });
  const body = JSON.stringify(PYTHON_EVENT);
  const sides = [
    { name: 'echo', url: `${echo.url}/echo`, pid: echo.pid, headers: {} as Record<string, string> },
    { name: 'ours', url: `${server.url}/api/v1/logs`, pid: server.pid, headers: { authorization: `Bearer ${token}` } },
    { name: 'floor', url: `${floor.url}/floor`, pid: floor.pid, headers: {} as Record<string, string> },
  ];
  // Every request the server answers, the warm-up's too: what its profile covers.
  let served = 0;
  for (const side of sides) {
    const warm = await hammer({ url: side.url, body, headers: side.headers, connections: 100, duration: 2 });
    if (side.name === 'ours') served += warm.requests;
  }
  console.log(`${cpus().length} cores, load average ${loadAverage()}`);

  const totals = sides.map(() => ({ requests: 0, seconds: 0, errors: 0, parts: new Map<string, number>() }));
  for (let round = 0; round < rounds; round++) {
    // The order turns each round, so load from elsewhere falls on every side alike.
    for (const index of sides.map((_, at) => (at + round) % sides.length)) {
      const side = sides[index] as (typeof sides)[number];
      const total = totals[index] as (typeof totals)[number];
      const before = threadSeconds(side.pid);
      const generator = ownCpuMicros();
      const result = await hammer({ url: side.url, body, headers: side.headers, connections: 100, duration: seconds });
      const spent = ownCpuMicros() - generator;
      for (const [thread, after] of threadSeconds(side.pid))
        total.parts.set(thread, (total.parts.get(thread) ?? 0) + (after - (before.get(thread) ?? 0)) * 1e6);
      total.parts.set('load generator', (total.parts.get('load generator') ?? 0) + spent);
      total.requests += result.requests;
      if (side.name === 'ours') served += result.requests;
      total.seconds += result.seconds;
      total.errors += result.errors;
      console.log(
        `round ${round} ${side.name}: ${(result.requests / result.seconds).toFixed(0)} req/s, p99 ${result.p99} ms, errors ${result.errors}`,
      );
    }
  }

  const rateOf = (index: number) => {
    const total = totals[index] as (typeof totals)[number];
    return total.requests / total.seconds;
  };
  const echoRate = rateOf(0);
  for (const [index, side] of sides.entries()) {
    const total = totals[index] as (typeof totals)[number];
    const main = (total.parts.get(MAIN) ?? 0) / total.requests;
    const generator = (total.parts.get('load generator') ?? 0) / total.requests;
    const others = [...total.parts]
      .filter(([thread]) => thread !== MAIN && thread !== 'load generator')
      .map(([, us]) => us / total.requests);
    others.sort((a, b) => b - a);
    const threads = others.reduce((sum, us) => sum + us, 0);
    console.log(
      `\n${side.name}: ${rateOf(index).toFixed(0)} req/s (${(rateOf(index) / echoRate).toFixed(2)} × the echo), ${total.errors} errors; CPU per request (µs):`,
    );
    console.log(`${fixed(main)}  the server's main thread`);
    console.log(
      `${fixed(threads)}  its other threads (${others
        .filter((us) => us >= 0.5)
        .map((us) => us.toFixed(1))
        .join(' + ')} ...)`,
    );
    console.log(`${fixed(generator)}  the load generator`);
    console.log(`${fixed(main + threads + generator)}  in all`);
  }
  const budget = (cpus().length * 1e6) / (0.6 * echoRate);
  if (rounds > 0)
    console.log(
      `\n0.6 × the echo's ${echoRate.toFixed(0)} req/s on ${cpus().length} cores leaves ${budget.toFixed(1)} µs of CPU a request for all of it.`,
    );

  if (profileDir !== null) {
    // The profile is written when the server exits.
    await server.stop();
    const file = readdirSync(profileDir).find((name) => name.includes(`.${server.pid}.0.`) && name.endsWith('.cpuprofile'));
    if (file === undefined) throw new Error(`no main-thread profile of pid ${server.pid} in ${profileDir}`);
    const { ms, total } = categorize(join(profileDir, file), POST_CATEGORIES);
    const busy = total - (ms.get(IDLE) ?? 0) - (ms.get(STARTUP) ?? 0);
    console.log(`\nThe server's main thread by category (${join(profileDir, file)}), ${served} requests answered:`);
    console.log(`${fixed((busy * 1000) / served)}  µs a request in all, idle and start-up left out`);
    for (const [category, spent] of [...ms].sort((a, b) => b[1] - a[1])) {
      if (category !== IDLE && category !== STARTUP) console.log(`${fixed((spent * 1000) / served)}  ${category}`);
    }
    console.log(
      '(wall-clock samples: time the thread was runnable but not running, e.g. after waking the writer, counts in the frame it was in)',
    );
  }

  // The parts no POST can skip, in this process.
  const tenant = tenantOf({ tenant: 'budget' });
  const random = seededRandom(15);
  const readme = (): LogEvent => makeEvent(tenant, { ...PYTHON_EVENT }, random);
  // As ingest hashes it: the event built, without a hash key yet.
  const unhashed = Array.from({ length: 20_000 }, () => {
    const { hash: _hash, ...content } = readme();
    return content;
  });
  for (const event of unhashed.slice(0, 2000)) eventHash(event);
  let started = ownCpuMicros();
  for (const event of unhashed) eventHash(event);
  console.log(`${fixed((ownCpuMicros() - started) / unhashed.length)}  the event hash of a README event (RFC 8785 + SHA-256)`);
  // The writer is one thread and SQLite one writer: at c=100 a commit holds at most the 100 events in
  // flight, so a commit's wall time (its CPU, then the WAL written and fsynced, FULL) bounds how
  // fast one writer acknowledges.
  for (const size of [20, 100]) {
    const store = SqliteLogStore.open(join(mkdtempSync(join(work, 'append-')), 'logserver.db'));
    const batches = Array.from({ length: 60_000 / size }, () => Array.from({ length: size }, readme));
    for (const batch of batches.slice(0, 20)) await store.append(tenant, batch);
    started = ownCpuMicros();
    const wall = performance.now();
    for (const batch of batches.slice(20)) await store.append(tenant, batch);
    const elapsed = performance.now() - wall;
    const commits = batches.length - 20;
    const events = commits * size;
    console.log(
      `${fixed((ownCpuMicros() - started) / events)}  the store's append of a README event, batches of ${size} (CPU); a commit ${(elapsed / commits).toFixed(2)} ms wall, so ${((1000 * events) / elapsed).toFixed(0)} events/s`,
    );
    await store.close();
  }
  console.log(`load average ${loadAverage()}`);
} finally {
  for (const service of services) await service.stop();
}
