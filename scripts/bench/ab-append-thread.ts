import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { mintToken } from '@logserver/shared/auth/jwt-verifier';
import { allInOneEnv, BENCH_AUTH } from './context.js';
import { PYTHON_EVENT } from './data.js';
import { hammer } from './http-load.js';
import { cpuSecondsOf, freePort, rssOf, type Service, startService, watchLoopDelay } from './processes.js';

/**
 * #15 "the SQLite writer off the event loop", measured side by side: two all-in-one servers from
 * dist on files of their own, SQLITE_APPEND_THREAD=false and true, under scenario 1's load (the
 * Python README's event, c=100), in alternating slices (who goes first alternates too), so other
 * work on the machine weighs on both alike. Per slice: 2xx/s, server CPU per request (every thread
 * of the process, /proc), event-loop delay p99 (/metrics), p99 latency, RSS after the slice, and
 * the load average.
 *
 *   make build && node --conditions=development --import tsx scripts/bench/ab-append-thread.ts
 *   AB_ROUNDS=6 AB_SECONDS=5 AB_CONNECTIONS=100 (the defaults)
 */
const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const rounds = Number(process.env.AB_ROUNDS ?? 6);
const seconds = Number(process.env.AB_SECONDS ?? 5);
const connections = Number(process.env.AB_CONNECTIONS ?? 100);
const auth = { ...BENCH_AUTH, secret: randomBytes(32).toString('hex') };
const workDir = mkdtempSync(join(tmpdir(), 'logserver-ab-writer-'));
const token = (tenant: string, role: 'admin' | 'writer') => mintToken({ ...auth, tenant, role, sub: 'bench', ttlSeconds: 3600 });

async function server(name: string, thread: boolean): Promise<Service> {
  const port = await freePort();
  const dataDir = join(workDir, name);
  mkdirSync(dataDir);
  return startService({
    name,
    args: [join(ROOT, 'services/all-in-one/dist/main.js')],
    port,
    env: allInOneEnv(dataDir, auth.secret, { PORT: String(port), SQLITE_APPEND_THREAD: String(thread) }),
    logFile: join(workDir, `${name}.log`),
    readyPath: '/readyz',
  });
}

const services: Service[] = [];
try {
  services.push(await server('event-loop', false), await server('thread', true));
  const admin = { authorization: `Bearer ${await token('system', 'admin')}` };
  const writer = { authorization: `Bearer ${await token('bench-ingest', 'writer')}` };
  for (const service of services) {
    const created = await fetch(`${service.url}/api/v1/tenants`, {
      method: 'POST',
      headers: { ...admin, 'content-type': 'application/json' },
      body: JSON.stringify({ key: 'bench-ingest', name: 'bench-ingest' }),
    });
    if (created.status !== 200) throw new Error(`creating the tenant on ${service.name}: ${created.status} ${await created.text()}`);
  }
  const body = JSON.stringify(PYTHON_EVENT);
  const load = (service: Service, duration: number) =>
    hammer({ url: `${service.url}/api/v1/logs`, body, headers: writer, connections, duration });
  for (const service of services) await load(service, 2);
  console.log(`work folder ${workDir}; ${rounds} rounds of ${seconds} s slices, c=${connections}`);
  console.log('| round | writer | 2xx/s | CPU µs/request | loop p99 ms | p99 ms | errors | RSS MB | load 1 min |');
  console.log('|---|---|---|---|---|---|---|---|---|');
  for (let round = 1; round <= rounds; round++) {
    const order = round % 2 === 1 ? services : [...services].reverse();
    for (const service of order) {
      const cpu = cpuSecondsOf(service.pid);
      const loop = await watchLoopDelay(service.url, admin);
      const result = await load(service, seconds);
      const loopP99 = await loop();
      const cpuPerRequest = ((cpuSecondsOf(service.pid) - cpu) / result.requests) * 1e6;
      console.log(
        `| ${round} | ${service.name} | ${Math.round(result.ok2xxPerSecond)} | ${Math.round(cpuPerRequest)} | ${loopP99?.toFixed(1)} | ${result.p99} | ${result.errors} | ${Math.round(rssOf(service.pid) / 2 ** 20)} | ${loadavg()[0]?.toFixed(2)} |`,
      );
    }
  }
} finally {
  for (const service of services) await service.stop();
}
