import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { SqliteTenantStore } from '@logserver/shared/sqlite/tenant-store';
import { BENCH_RATE_LIMIT, type BenchContext, loopFigure } from '../context.js';
import { PYTHON_EVENT } from '../data.js';
import { sideBySide } from '../http-load.js';
import { type Service, startOnFreePort, watchLoopDelay } from '../processes.js';
import type { Figure } from '../report.js';

const CONNECTIONS = 100;
const TENANT = 'bench-sqs';
/** The Python system sent one SendMessage per event. */
const PYTHON_REQUESTS_PER_1000 = 1000;

async function json<T>(url: string): Promise<T> {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`${url} answered ${response.status}`);
  return (await response.json()) as T;
}

const total = (counts: Record<string, number>) => Object.values(counts).reduce((sum, count) => sum + count, 0);

/**
 * 8: the Kubernetes path as separate processes: the log service publishing to fauxqs (SQS on
 * loopback) and the log-worker storing into SQLite. Single POSTs at c=100 beside the bare echo,
 * and every SQS request fauxqs served, per 1000 events stored.
 */
export async function sqsPath(context: BenchContext): Promise<Figure[]> {
  const scenario = `8 SQS path (log + log-worker + fauxqs), single POST, c=${CONNECTIONS}`;
  const fauxqsMain = join(context.root, 'test/support/fauxqs-server.ts');
  const logMain = join(context.root, 'services/log/dist/main.js');
  const workerMain = join(context.root, 'services/log-worker/dist/main.js');
  if (![fauxqsMain, logMain, workerMain].every(existsSync)) {
    return [{ scenario, figure: 'requests/s', value: null, note: 'no SQS services on this build (issue 5)' }];
  }
  const services: Service[] = [];
  try {
    const start = (name: string, args: string[], env: Record<string, string>, readyPath: string): Promise<Service> =>
      startOnFreePort(services, { name, args, env, readyPath, workDir: context.workDir });
    const fauxqs = await start('fauxqs', ['--conditions=development', '--import', 'tsx', fauxqsMain], {}, '/_test/requests');
    const shared = {
      HOST: '127.0.0.1',
      SQS_URL: fauxqs.url,
      SQLITE_PATH: join(context.workDir, 'sqs-path.db'),
      AUTH_SECRET: context.authSecret,
      LOG_LEVEL: process.env.LOG_LEVEL ?? 'info',
      ...BENCH_RATE_LIMIT,
    };
    // AUTH_REQUIRE_REGISTERED_TENANT is on (#13): the tenant exists in the file, as if POST /api/v1/tenants made it.
    const tenants = SqliteTenantStore.open(shared.SQLITE_PATH);
    await tenants.create({ key: TENANT, name: TENANT }).catch(() => {});
    await tenants.close();
    const profile = process.env.BENCH_PROFILE ? ['--cpu-prof', `--cpu-prof-dir=${resolve(process.env.BENCH_PROFILE)}`] : [];
    const worker = await start('log-worker', [...profile, workerMain], shared, '/readyz');
    const log = await start('log', [...profile, logMain], shared, '/readyz');

    // Behind the gateway the log service trusts these headers from ingress-nginx; here the harness is the gateway.
    const headers = { 'x-auth-sub': 'bench', 'x-auth-tenant': TENANT, 'x-auth-role': 'writer' };
    const body = JSON.stringify(PYTHON_EVENT);
    const before = await json<Record<string, number>>(`${fauxqs.url}/_test/requests`);
    const { ours, baseline, watched } = await sideBySide({
      ours: { url: `${log.url}/api/v1/logs`, body, headers, connections: CONNECTIONS },
      baseline: { url: `${context.echo.url}/echo`, body, connections: CONNECTIONS },
      seconds: context.sizes.sqsSeconds,
      watch: () => watchLoopDelay(log.url),
    });
    // Every accepted event must be stored before the requests are counted, consumption included.
    // Requests still in flight when the load stopped are stored too, so wait until the count settles.
    const accepted = ours.ok2xx;
    const deadline = Date.now() + 60_000;
    let stored = -1;
    for (;;) {
      const now = (await json<{ events_stored: number }>(`${worker.url}/stats`)).events_stored;
      if ((now >= accepted && now === stored) || Date.now() > deadline) break;
      stored = now;
      await sleep(500);
    }
    const after = await json<Record<string, number>>(`${fauxqs.url}/_test/requests`);
    const per1000 = (count: number) => (count / Math.max(1, stored)) * 1000;
    const sent = (after.SendMessageBatch ?? 0) - (before.SendMessageBatch ?? 0) + (after.SendMessage ?? 0) - (before.SendMessage ?? 0);
    return [
      { scenario, figure: 'requests/s', value: ours.ok2xxPerSecond, baseline: baseline.ok2xxPerSecond },
      { scenario, figure: 'p99 latency (ms)', value: ours.p99, baseline: baseline.p99 },
      { scenario, figure: 'errors', value: ours.errors, target: { of: 'value', op: '<=', limit: 0 } },
      { scenario, figure: 'events stored of accepted', value: stored, baseline: accepted, target: { of: 'ratio', op: '>=', limit: 1 } },
      { scenario, figure: 'SQS publish requests per 1000 events', value: per1000(sent), baseline: PYTHON_REQUESTS_PER_1000 },
      {
        scenario,
        figure: 'SQS requests per 1000 events, all (send, receive, delete)',
        // Nothing stored is no figure (every POST refused), not a pass.
        value: stored > 0 ? per1000(total(after) - total(before)) : null,
        baseline: PYTHON_REQUESTS_PER_1000,
        target: { of: 'value', op: '<=', limit: 20 },
      },
      // Where the requests went, so a change to one side shows on its own.
      ...['SendMessageBatch', 'ReceiveMessage', 'DeleteMessageBatch', 'ChangeMessageVisibilityBatch'].map((action) => ({
        scenario,
        figure: `SQS ${action} per 1000 events`,
        value: per1000((after[action] ?? 0) - (before[action] ?? 0)),
      })),
      loopFigure(scenario, watched),
    ];
  } finally {
    for (const service of services.reverse()) await service.stop();
  }
}
