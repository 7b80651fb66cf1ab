import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { renderGatewayConf } from '../../deploy/gateway-routes.js';
import { AUTH_NODE_OPTIONS } from '../../deploy/runtime.js';
import { BENCH_RATE_LIMIT, type BenchContext, bearer } from '../context.js';
import { PYTHON_EVENT } from '../data.js';
import { hammer } from '../http-load.js';
import { cpuSecondsOf, freePort, ownCpuMicros, rssOf, type Service, startEcho, startOnFreePort } from '../processes.js';
import type { Figure } from '../report.js';
import { firstAndLater } from './ingest.js';

const run = promisify(execFile);
const NGINX = existsSync('/usr/sbin/nginx') ? '/usr/sbin/nginx' : 'nginx';
const TENANT = 'bench-gateway';

/**
 * Connections the kernel dropped because a listen queue was full, machine-wide (TcpExt
 * ListenOverflows in /proc/net/netstat): each one costs its client a 1 s SYN retransmit.
 */
export function listenOverflows(): number {
  const lines = readFileSync('/proc/net/netstat', 'utf8').split('\n');
  const names = lines.find((line) => line.startsWith('TcpExt:'))?.split(/\s+/) ?? [];
  const values = lines.filter((line) => line.startsWith('TcpExt:'))[1]?.split(/\s+/) ?? [];
  const at = names.indexOf('ListenOverflows');
  return at < 0 ? 0 : Number(values[at]);
}

/** nginx's master and its worker processes (the processes whose parent is the master). */
function nginxPids(prefix: string): number[] {
  const master = Number(readFileSync(join(prefix, 'nginx.pid'), 'utf8'));
  const workers = readdirSync('/proc')
    .filter((entry) => /^\d+$/.test(entry))
    .filter((pid) => {
      try {
        const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
        return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === master;
      } catch {
        return false; // Gone since the listing.
      }
    });
  return [master, ...workers.map(Number)];
}

/** CPU seconds of a set of processes and of this one (the load generator), to subtract around a load. */
function cpuNow(pids: number[]): { servers: number; generator: number } {
  return { servers: pids.reduce((sum, pid) => sum + cpuSecondsOf(pid), 0), generator: ownCpuMicros() / 1e6 };
}

async function startNginx(prefix: string, conf: string): Promise<{ url: string; stop(): Promise<void> }> {
  mkdirSync(prefix, { recursive: true });
  const port = Number(/listen 127\.0\.0\.1:(\d+);/.exec(conf)?.[1]);
  writeFileSync(join(prefix, 'gateway.conf'), conf);
  const user = process.getuid?.() === 0 ? `user ${userInfo().username};` : '';
  await run(NGINX, [
    '-p',
    prefix,
    '-c',
    join(prefix, 'gateway.conf'),
    '-g',
    `pid ${join(prefix, 'nginx.pid')}; error_log ${join(prefix, 'error.log')} warn; ${user}`,
  ]);
  return {
    url: `http://127.0.0.1:${port}`,
    stop: async () => {
      const pid = Number(readFileSync(join(prefix, 'nginx.pid'), 'utf8'));
      process.kill(pid, 'SIGTERM');
      for (let tries = 0; tries < 50; tries++) {
        try {
          process.kill(pid, 0);
        } catch {
          return;
        }
        await sleep(100);
      }
    },
  };
}

/**
 * The gateway's floor: the same nginx config (auth_request, keep-alive upstreams) in front of two
 * bare echoes, one as the forward-auth and one as the log service, no queue. What nginx and two
 * Node processes on the path cost, whatever the services do: 2g's p99 cannot go below this one's.
 */
async function gatewayFloor(context: BenchContext, body: string, connections: number, amount: number) {
  const prefix = join(context.workDir, 'nginx-floor');
  const echoes: Service[] = [];
  let gateway: { url: string; stop(): Promise<void> } | undefined;
  try {
    for (const name of ['floor-auth', 'floor-log']) echoes.push(await startEcho(join(context.workDir, `2g-${name}.log`), name));
    const [auth, log] = echoes as [Service, Service];
    const port = await freePort();
    gateway = await startNginx(
      prefix,
      renderGatewayConf({ listen: `127.0.0.1:${port}`, upstreams: { auth: auth.url, log: log.url, tenant: log.url }, tempDir: prefix }),
    );
    const topology = [...nginxPids(prefix), auth.pid, log.pid];
    const before = cpuNow(topology);
    const result = await hammer({ url: `${gateway.url}/api/v1/logs`, body, connections, amount, splitFirst: true });
    const after = cpuNow(topology);
    // An error answer is fast and would flatter the floor: a floor that fails is a broken benchmark.
    if (result.errors > 0) throw new Error(`the gateway's floor failed ${result.errors} of ${result.requests} requests`);
    return { result, serverMicros: ((after.servers - before.servers) * 1e6) / result.requests };
  } finally {
    await gateway?.stop();
    for (const echo of echoes) await echo.stop();
  }
}

/**
 * 2g: scenario 2 (`hey -n 10000 -c 1000`) through the compose topology: Debian's nginx with the
 * rendered gateway config (auth_request to the auth service), the log service publishing to fauxqs,
 * the log-worker storing into SQLite, each its own process. Baseline: the bare echo at c=1000, as
 * in scenario 2. BENCH_GATEWAY_LEGACY=1 runs it as main had it before #15 (no upstream keepalive,
 * Node's backlog of 511), for a before/after in one run.
 */
export async function gatewayLoadTest(context: BenchContext): Promise<Figure[]> {
  const { pythonRequests: amount, pythonConnections: connections } = context.sizes;
  const legacy = process.env.BENCH_GATEWAY_LEGACY === '1';
  const scenario = `2g ${amount.toLocaleString('en-US')} POSTs, c=${connections}, through nginx + auth + log + SQS${legacy ? ' (legacy: no keepalive, backlog 511)' : ''}`;
  const services: Service[] = [];
  let gateway: { url: string; stop(): Promise<void> } | undefined;
  try {
    const start = (name: string, args: string[], env: Record<string, string>, readyPath: string): Promise<Service> =>
      startOnFreePort(services, { name, args, env, readyPath, workDir: context.workDir, logPrefix: '2g-' });
    const profile = process.env.BENCH_PROFILE ? ['--cpu-prof', `--cpu-prof-dir=${resolve(process.env.BENCH_PROFILE)}`] : [];
    const main = (service: string) => [...profile, join(context.root, `services/${service}/dist/main.js`)];
    const fauxqs = await start(
      'fauxqs',
      ['--conditions=development', '--import', 'tsx', join(context.root, 'test/support/fauxqs-server.ts')],
      {},
      '/_test/requests',
    );
    const shared = {
      HOST: '127.0.0.1',
      AUTH_SECRET: context.authSecret,
      GATEWAY_SECRET: 'bench-gateway-secret-0123456789abcdef-0123',
      LOG_LEVEL: process.env.LOG_LEVEL ?? 'info',
      ...BENCH_RATE_LIMIT,
      ...(legacy ? { LISTEN_BACKLOG: '511' } : {}),
    };
    const store = { STORE: 'sqlite', SQLITE_PATH: join(context.workDir, 'gateway.db'), DATA_DIR: context.workDir };
    const queue = { QUEUE: 'sqs', SQS_URL: fauxqs.url };
    // The forward-auth runs with the flags its deployments give it (k8s/base/auth.yaml, docker-compose.yml).
    const auth = await start('auth', main('auth'), { ...shared, NODE_OPTIONS: AUTH_NODE_OPTIONS }, '/readyz');
    // tenant first: it creates the SQLite schema the others open.
    const tenant = await start('tenant', main('tenant'), { ...shared, ...store }, '/readyz');
    await start('log-worker', main('log-worker'), { ...shared, ...store, ...queue }, '/readyz');
    const log = await start('log', main('log'), { ...shared, ...store, ...queue, TRUST_PROXY: '127.0.0.1' }, '/readyz');
    const port = await freePort();
    let conf = renderGatewayConf({
      listen: `127.0.0.1:${port}`,
      upstreams: { auth: auth.url, log: log.url, tenant: tenant.url },
      tempDir: join(context.workDir, 'nginx'),
    });
    if (legacy) conf = conf.replace(/^\s*keepalive(_requests|_timeout)? .*;\n/gm, '').replace("'' '';", "'' close;");
    gateway = await startNginx(join(context.workDir, 'nginx'), conf);

    const created = await fetch(`${gateway.url}/api/v1/tenants`, {
      method: 'POST',
      headers: { ...bearer(await context.token('system', 'admin')), 'content-type': 'application/json' },
      body: JSON.stringify({ key: TENANT, name: TENANT }),
    });
    if (created.status !== 200) throw new Error(`creating tenant ${TENANT} through the gateway: ${created.status} ${await created.text()}`);

    const body = JSON.stringify(PYTHON_EVENT);
    const headers = bearer(await context.token(TENANT, 'writer'));
    const echoBefore = cpuNow([context.echo.pid]);
    const echo = await hammer({ url: `${context.echo.url}/echo`, body, connections, amount, splitFirst: true });
    const echoCpu = cpuNow([context.echo.pid]);
    const echoMicros = ((echoCpu.servers - echoBefore.servers) * 1e6) / echo.requests;
    // Every process of the topology: nginx, the four services and fauxqs (SQS's stand-in).
    const topology = [...nginxPids(join(context.workDir, 'nginx')), ...services.map((service) => service.pid)];
    const oursBefore = cpuNow(topology);
    const overflowsBefore = listenOverflows();
    const rss = { auth: 0, log: 0 };
    const sampler = setInterval(() => {
      rss.auth = Math.max(rss.auth, rssOf(auth.pid));
      rss.log = Math.max(rss.log, rssOf(log.pid));
    }, 50);
    const ours = await hammer({ url: `${gateway.url}/api/v1/logs`, body, headers, connections, amount, splitFirst: true });
    const oursCpu = cpuNow(topology);
    clearInterval(sampler);
    const drops = listenOverflows() - overflowsBefore;
    const floor = await gatewayFloor(context, body, connections, amount);
    // Steady state: the services idle after the load, what a pod's memory request must cover.
    await sleep(2_000);
    const mb = (bytes: number) => Math.round((bytes / 1024 / 1024) * 10) / 10;
    return [
      { scenario, figure: 'errors', value: ours.errors, baseline: echo.errors, target: { of: 'value', op: '<=', limit: 0 } },
      {
        scenario,
        figure: 'p99 latency (ms)',
        value: ours.p99,
        baseline: echo.p99,
        target: { of: 'value', op: '<=', limit: 500, unit: 'ms' },
      },
      // Not a target: what the gateway with bare echoes behind it does under the same load.
      { scenario, figure: 'p99 latency, the gateway in front of two echoes (ms)', value: floor.result.p99, baseline: echo.p99 },
      {
        scenario,
        figure: "p99 of each connection's first request, the gateway in front of two echoes (ms)",
        value: floor.result.firstP99 ?? null,
        baseline: echo.firstP99 ?? null,
      },
      { scenario, figure: 'mean latency, the gateway in front of two echoes (ms)', value: floor.result.mean, baseline: echo.mean },
      {
        scenario,
        figure: 'CPU per request, nginx + the two echoes (µs)',
        value: floor.serverMicros,
        baseline: echoMicros,
      },
      { scenario, figure: 'p50 latency (ms)', value: ours.p50, baseline: echo.p50 },
      { scenario, figure: 'mean latency (ms)', value: ours.mean, baseline: echo.mean },
      ...firstAndLater(scenario, ours, echo),
      { scenario, figure: 'requests/s', value: ours.ok2xxPerSecond, baseline: echo.ok2xxPerSecond },
      // What bounds the rate on two cores, and so the mean latency of c clients (c ÷ the rate).
      {
        scenario,
        figure: 'CPU per request, nginx + the services + fauxqs (µs)',
        value: ((oursCpu.servers - oursBefore.servers) * 1e6) / ours.requests,
        baseline: echoMicros,
      },
      {
        scenario,
        figure: 'CPU per request, the load generator (µs)',
        value: ((oursCpu.generator - oursBefore.generator) * 1e6) / ours.requests,
        baseline: ((echoCpu.generator - echoBefore.generator) * 1e6) / echo.requests,
      },
      {
        scenario,
        figure: 'listen-queue drops, machine-wide (TcpExt ListenOverflows)',
        value: drops,
        target: { of: 'value', op: '<=', limit: 0 },
      },
      { scenario, figure: 'auth service peak RSS under load (MB)', value: mb(rss.auth) },
      { scenario, figure: 'auth service RSS at rest after the load (MB)', value: mb(rssOf(auth.pid)) },
      { scenario, figure: 'log service peak RSS under load (MB)', value: mb(rss.log) },
    ];
  } finally {
    await gateway?.stop();
    for (const service of services.reverse()) await service.stop();
  }
}
