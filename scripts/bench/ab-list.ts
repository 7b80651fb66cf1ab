import { randomBytes } from 'node:crypto';
import { copyFileSync, mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { mintToken } from '@logserver/shared/auth/jwt-verifier';
import { allInOneEnv, BENCH_AUTH } from './context.js';
import { loadTenant } from './data.js';
import { hammer } from './http-load.js';
import { cpuSecondsOf, freePort, loadAverage, type Service, startService } from './processes.js';

/**
 * #15 "list first page", measured side by side: all-in-one servers built from two checkouts
 * (AB_SIDES="base=/path/to/main,after=/path/to/branch", each built with make build), each on its
 * own copy of one SQLite file of AB_EVENTS events (scripts/bench/data.ts's loadTenant), serving
 * GET AB_PATH at c=10 in alternating slices (who goes first alternates too). Per slice: 2xx/s,
 * server CPU per request (/proc), p50 and p99; first, whether every side answers the same bytes.
 * AB_PROFILE=<dir> runs the first side with --cpu-prof.
 *
 *   node --conditions=development --import tsx scripts/bench/ab-list.ts
 *   AB_ROUNDS=4 AB_SECONDS=4 AB_EVENTS=200000 AB_PATH='/api/v1/logs?severity=ERROR&size=50' (the defaults)
 */
const sides = (process.env.AB_SIDES ?? `after=${resolve(import.meta.dirname, '../..')}`).split(',').map((part) => {
  const [name, root] = part.split('=');
  if (!name || !root) throw new Error(`AB_SIDES: "${part}" is not name=/checkout`);
  return { name, root };
});
const rounds = Number(process.env.AB_ROUNDS ?? 4);
const seconds = Number(process.env.AB_SECONDS ?? 4);
const events = Number(process.env.AB_EVENTS ?? 200_000);
const path = process.env.AB_PATH ?? '/api/v1/logs?severity=ERROR&size=50';
const connections = 10;
const secret = randomBytes(32).toString('hex');
const workDir = mkdtempSync(join(tmpdir(), 'logserver-ab-list-'));

const services: Service[] = [];
try {
  const source = join(workDir, 'source.db');
  console.log(`loaded ${events} events in ${(await loadTenant(source, 'big', events)).toFixed(1)} s`);
  const token = await mintToken({ ...BENCH_AUTH, secret, tenant: 'big', role: 'viewer', sub: 'bench', ttlSeconds: 3600 });
  const servers: { name: string; url: string; pid: number }[] = [];
  for (const [index, side] of sides.entries()) {
    const port = await freePort();
    const dataDir = join(workDir, side.name);
    mkdirSync(dataDir);
    copyFileSync(source, join(dataDir, 'logserver.db'));
    const profile = process.env.AB_PROFILE && index === 0 ? ['--cpu-prof', `--cpu-prof-dir=${resolve(process.env.AB_PROFILE)}`] : [];
    const service = await startService({
      name: side.name,
      args: [...profile, join(side.root, 'services/all-in-one/dist/main.js')],
      port,
      env: allInOneEnv(dataDir, secret, { PORT: String(port), SEAL_INTERVAL: '0', LOG_LEVEL: 'warn' }),
      logFile: join(workDir, `${side.name}.log`),
      readyPath: '/readyz',
    });
    services.push(service);
    servers.push({ name: side.name, url: `${service.url}${path}`, pid: service.pid });
  }
  const headers = { authorization: `Bearer ${token}` };
  const answers = await Promise.all(servers.map(async (server) => (await fetch(server.url, { headers })).text()));
  console.log(`every side answers the same ${answers[0]?.length} bytes: ${answers.every((answer) => answer === answers[0])}`);
  for (const server of servers) await hammer({ url: server.url, headers, connections, duration: 2 });
  console.log(`load ${loadAverage()}`);
  const totals = new Map<string, { cpu: number; requests: number; seconds: number; p99: number[] }>();
  for (let round = 0; round < rounds; round++) {
    for (const server of round % 2 === 0 ? servers : [...servers].reverse()) {
      const before = cpuSecondsOf(server.pid);
      const result = await hammer({ url: server.url, headers, connections, duration: seconds });
      const cpu = cpuSecondsOf(server.pid) - before;
      const total = totals.get(server.name) ?? { cpu: 0, requests: 0, seconds: 0, p99: [] };
      totals.set(server.name, {
        cpu: total.cpu + cpu,
        requests: total.requests + result.requests,
        seconds: total.seconds + result.seconds,
        p99: [...total.p99, result.p99],
      });
      console.log(
        `round ${round} ${server.name}: ${(result.requests / result.seconds).toFixed(0)} req/s, ${((cpu / result.requests) * 1e6).toFixed(0)} µs CPU/request, p50 ${result.p50} ms, p99 ${result.p99} ms, errors ${result.errors}`,
      );
    }
  }
  console.log(`load ${loadAverage()}`);
  for (const [name, total] of totals)
    console.log(
      `${name}: ${(total.requests / total.seconds).toFixed(0)} req/s, ${((total.cpu / total.requests) * 1e6).toFixed(0)} µs CPU/request, p99 per slice ${total.p99.join('/')} ms`,
    );
} finally {
  for (const service of services.reverse()) await service.stop();
}
