import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { allInOneEnv, type BenchContext, bearer } from '../context.js';
import { eventInputs, PYTHON_EVENT } from '../data.js';
import { hammer, sideBySide } from '../http-load.js';
import { freePort, type Service, startService } from '../processes.js';
import type { Figure } from '../report.js';

const BULK_SIZE = 500;
const BULK_CONNECTIONS = 4;
const SEAL_INTERVAL = 1;
const TENANT = 'bench-seal';

/**
 * Two fresh all-in-one servers, alike but for SEAL_INTERVAL: sealed every second, and not sealed.
 * BENCH_SEAL_CONTROL=1 starts both unsealed (an A/A run): the ratio it gives is the noise floor.
 */
const CONTROL = process.env.BENCH_SEAL_CONTROL === '1';

async function startPair(context: BenchContext): Promise<{ sealed: Service; unsealed: Service }> {
  const start = async (name: string, sealInterval: number) => {
    const dataDir = join(context.workDir, name);
    mkdirSync(dataDir, { recursive: true });
    const port = await freePort();
    // BENCH_PROFILE=dir: a V8 CPU profile of each server (sealed and unsealed) in dir, to see what a seal costs.
    const profile = process.env.BENCH_PROFILE
      ? ['--cpu-prof', `--cpu-prof-dir=${resolve(process.env.BENCH_PROFILE)}`, `--cpu-prof-name=${name}.cpuprofile`]
      : [];
    return startService({
      name,
      args: [...profile, join(context.root, 'services/all-in-one/dist/main.js')],
      port,
      env: allInOneEnv(dataDir, context.authSecret, { PORT: String(port), SEAL_INTERVAL: String(sealInterval) }),
      logFile: join(context.workDir, `${name}.log`),
      readyPath: '/readyz',
    });
  };
  return { sealed: await start('sealed', CONTROL ? 0 : SEAL_INTERVAL), unsealed: await start('unsealed', 0) };
}

/** Registers the tenant on a fresh server, as an operator would (AUTH_REQUIRE_REGISTERED_TENANT is on). */
async function createTenant(server: Service, context: BenchContext, tenant: string): Promise<void> {
  const created = await fetch(`${server.url}/api/v1/tenants`, {
    method: 'POST',
    headers: { ...bearer(await context.token('system', 'admin')), 'content-type': 'application/json' },
    body: JSON.stringify({ key: tenant, name: tenant }),
  });
  if (created.status !== 200) throw new Error(`creating tenant ${tenant} on ${server.url}: ${created.status} ${await created.text()}`);
}

async function json(url: string, headers: Record<string, string>): Promise<{ data: unknown; meta?: { total?: number } }> {
  const response = await fetch(url, { headers });
  if (!response.ok) throw new Error(`GET ${url}: ${response.status} ${await response.text()}`);
  return (await response.json()) as { data: unknown; meta?: { total?: number } };
}

/**
 * Seconds from now until a signed checkpoint covers every event the tenant has stored (a fresh
 * tenant: its tree size is its event count). Called right after a load slice, so the next slice
 * starts only once sealing has caught up (its work is not left to weigh on the unsealed side's slice).
 */
async function coverLag(server: Service, headers: Record<string, string>, timeoutMs = 60_000): Promise<number> {
  const started = performance.now();
  for (;;) {
    // The count is read each time: requests still in flight when the load stopped commit a moment later.
    const stored = (await json(`${server.url}/api/v1/logs?size=1`, headers)).meta?.total ?? 0;
    const response = await fetch(`${server.url}/api/v1/integrity/checkpoints/latest`, { headers });
    if (response.ok) {
      const checkpoint = ((await response.json()) as { data: { tree_size: number } }).data;
      if (checkpoint.tree_size >= stored) return (performance.now() - started) / 1000;
    } else if (response.status !== 404) throw new Error(`checkpoints/latest: ${response.status}`);
    if (performance.now() - started > timeoutMs) throw new Error(`no checkpoint covered ${stored} events within ${timeoutMs} ms`);
    await sleep(20);
  }
}

/**
 * The figure: how long after its acknowledgement a signed checkpoint covers an event, for
 * events acknowledged during the load. While our slice runs, one marker event is posted every
 * PROBE_EVERY_MS (a single POST beside the load); from the moment its 200 arrives, its proof is asked
 * for every PROBE_POLL_MS until it is served (a proof is a 409 until a checkpoint covers the event).
 * One marker is pending at a time, so the probe adds a few requests a second. stop() ends the probe
 * and returns the worst marker's wait, then waits (coverLag) until every stored event is covered, so
 * the next slice starts with sealing caught up; that wait, from the end of the load, goes to `drained`.
 */
const PROBE_EVERY_MS = 250;
const PROBE_POLL_MS = 20;

function probe(server: Service, writer: Record<string, string>, auditor: Record<string, string>, drained: number[]) {
  let running = true;
  let worst = 0;
  const loop = (async () => {
    while (running) {
      const sent = performance.now();
      const response = await fetch(`${server.url}/api/v1/logs`, {
        method: 'POST',
        headers: { ...writer, 'content-type': 'application/json' },
        body: JSON.stringify({ ...PYTHON_EVENT, action: 'bench.marker' }),
      });
      if (!response.ok) throw new Error(`marker POST: ${response.status} ${await response.text()}`);
      const { id } = ((await response.json()) as { data: { id: string } }).data;
      const acked = performance.now();
      for (;;) {
        const proof = await fetch(`${server.url}/api/v1/logs/${id}/proof`, { headers: auditor });
        await proof.arrayBuffer();
        if (proof.ok) break;
        if (proof.status !== 409) throw new Error(`marker proof: ${proof.status}`);
        if (performance.now() - acked > 60_000) throw new Error(`marker ${id} not covered within 60 s`);
        await sleep(PROBE_POLL_MS);
      }
      worst = Math.max(worst, (performance.now() - acked) / 1000);
      await sleep(Math.max(0, PROBE_EVERY_MS - (performance.now() - sent)));
    }
  })();
  return async () => {
    running = false;
    await loop;
    drained.push(await coverLag(server, auditor));
    return worst;
  };
}

/**
 * 10: ingest with sealing on (SEAL_INTERVAL=1, the default: the tenant tree appended and one
 * checkpoint signed per second) beside the same server with sealing off (SEAL_INTERVAL=0), bulk
 * and single POSTs in alternating slices; and how long after the last acknowledged event of each
 * slice a signed checkpoint covered it.
 */
export async function sealingCost(context: BenchContext): Promise<Figure[]> {
  const { sealed, unsealed } = await startPair(context);
  try {
    const figures: Figure[] = [];
    for (const server of [sealed, unsealed]) await createTenant(server, context, TENANT);
    const writer = bearer(await context.token(TENANT, 'writer'));
    const auditor = bearer(await context.token(TENANT, 'auditor'));
    const drained: { bulk: number[]; post: number[] } = { bulk: [], post: [] };
    const lag = (into: number[]) => async () => (CONTROL ? async () => null : probe(sealed, writer, auditor, into));
    const label = CONTROL ? 'A/A control: SEAL_INTERVAL=0 vs 0' : `SEAL_INTERVAL=${SEAL_INTERVAL} vs 0`;

    const bulkBody = JSON.stringify(eventInputs(BULK_SIZE, 9));
    const bulk = (server: Service) => ({
      url: `${server.url}/api/v1/logs/bulk`,
      body: bulkBody,
      headers: writer,
      connections: BULK_CONNECTIONS,
    });
    for (const server of [sealed, unsealed]) await hammer({ ...bulk(server), amount: BULK_CONNECTIONS * 2 });
    const bulkRun = await sideBySide({
      ours: bulk(sealed),
      baseline: bulk(unsealed),
      seconds: context.sizes.sealSeconds,
      watch: lag(drained.bulk),
    });
    const bulkScenario = `10 sealing (${label}): bulk ${BULK_SIZE} a request, c=${BULK_CONNECTIONS}`;
    figures.push(
      {
        scenario: bulkScenario,
        figure: 'rows/s',
        value: bulkRun.ours.ok2xxPerSecond * BULK_SIZE,
        baseline: bulkRun.baseline.ok2xxPerSecond * BULK_SIZE,
        target: { of: 'ratio', op: '>=', limit: 0.9 },
      },
      { scenario: bulkScenario, figure: 'p99 latency (ms)', value: bulkRun.ours.p99, baseline: bulkRun.baseline.p99 },
      {
        scenario: bulkScenario,
        figure: 'errors',
        value: bulkRun.ours.errors,
        baseline: bulkRun.baseline.errors,
        target: { of: 'value', op: '<=', limit: 0 },
      },
      {
        scenario: bulkScenario,
        figure: 'ack → covering checkpoint, worst marker event under the load (s)',
        value: bulkRun.watched,
        target: { of: 'value', op: '<=', limit: SEAL_INTERVAL, unit: 's' },
      },
      {
        scenario: bulkScenario,
        // Not the bound: requests in flight when the load stops still commit (bulk p99 is seconds here) and are then sealed.
        figure: 'end of the load → every stored event covered, worst slice (s)',
        value: CONTROL ? null : Math.max(...drained.bulk),
      },
    );

    const postBody = JSON.stringify(PYTHON_EVENT);
    const single = (server: Service) => ({ url: `${server.url}/api/v1/logs`, body: postBody, headers: writer, connections: 100 });
    for (const server of [sealed, unsealed]) await hammer({ ...single(server), duration: 1 });
    const postRun = await sideBySide({
      ours: single(sealed),
      baseline: single(unsealed),
      seconds: context.sizes.sealSeconds,
      watch: lag(drained.post),
    });
    const postScenario = `10 sealing (${label}): single POST, c=100`;
    figures.push(
      {
        scenario: postScenario,
        figure: 'requests/s',
        value: postRun.ours.ok2xxPerSecond,
        baseline: postRun.baseline.ok2xxPerSecond,
        target: { of: 'ratio', op: '>=', limit: 0.9 },
      },
      { scenario: postScenario, figure: 'p99 latency (ms)', value: postRun.ours.p99, baseline: postRun.baseline.p99 },
      {
        scenario: postScenario,
        figure: 'errors',
        value: postRun.ours.errors,
        baseline: postRun.baseline.errors,
        target: { of: 'value', op: '<=', limit: 0 },
      },
      {
        scenario: postScenario,
        figure: 'ack → covering checkpoint, worst marker event under the load (s)',
        value: postRun.watched,
        target: { of: 'value', op: '<=', limit: SEAL_INTERVAL, unit: 's' },
      },
      {
        scenario: postScenario,
        // Not the bound: requests in flight when the load stops still commit (bulk p99 is seconds here) and are then sealed.
        figure: 'end of the load → every stored event covered, worst slice (s)',
        value: CONTROL ? null : Math.max(...drained.post),
      },
    );

    if (CONTROL) return figures;
    // Everything acknowledged is in the tree and verifies, once the last in-flight request has committed and been sealed.
    await sleep(2 * SEAL_INTERVAL * 1000);
    await coverLag(sealed, auditor);
    const report = (await json(`${sealed.url}/api/v1/logs/verify`, auditor)).data as {
      status: string;
      events_unsealed: number;
      tree_size: number;
    };
    figures.push({
      scenario: postScenario,
      figure: 'verify after the run: events not covered',
      value: report.status === 'intact' ? report.events_unsealed : null,
      target: { of: 'value', op: '<=', limit: 0 },
      ...(report.status === 'intact' ? {} : { note: `verify says ${report.status}` }),
    });
    return figures;
  } finally {
    await sealed.stop();
    await unsealed.stop();
  }
}
