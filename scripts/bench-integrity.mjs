#!/usr/bin/env node
// Bulk ingest through the all-in-one server with sealing on and off, side by side.
//
//   node scripts/bench-integrity.mjs [--duration 10] [--connections 8] [--bulk 100] [--rounds 3] [--baseline ../main]
//
// Each round starts a fresh server per setting (its own data folder, SQLite file and key),
// drives POST /api/v1/logs/bulk with autocannon, and stops it; settings take turns so that
// background load on the machine falls on both alike. `--baseline <checkout>` adds a server
// from another checkout (e.g. main, before events were hashed) as a third setting.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';

const { values } = parseArgs({
  options: {
    duration: { type: 'string', default: '10' },
    connections: { type: 'string', default: '8' },
    bulk: { type: 'string', default: '100' },
    rounds: { type: 'string', default: '3' },
    'seal-interval': { type: 'string', default: '1' },
    baseline: { type: 'string' },
  },
});
const here = resolve(import.meta.dirname, '..');
const settings = [
  { name: `sealing every ${values['seal-interval']} s`, root: here, env: { SEAL_INTERVAL: values['seal-interval'] } },
  { name: 'sealing off (SEAL_INTERVAL=0)', root: here, env: { SEAL_INTERVAL: '0' } },
  ...(values.baseline ? [{ name: `baseline ${values.baseline}`, root: resolve(values.baseline), env: {} }] : []),
];

/** Starts the all-in-one server from a checkout; resolves with its URL and the demo admin token from its banner. */
function startServer(root, env) {
  const child = spawn(process.execPath, ['--conditions=development', '--import', 'tsx', 'src/main.ts'], {
    cwd: join(root, 'services/all-in-one'),
    env: {
      ...process.env,
      ...env,
      DATA_DIR: mkdtempSync(join(tmpdir(), 'logserver-bench-')),
      PORT: '0',
      HOST: '127.0.0.1',
      LOG_LEVEL: 'warn',
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return new Promise((resolvePromise, reject) => {
    let output = '';
    child.stdout.on('data', (chunk) => {
      output += chunk;
      const url = /listening on (http:\/\/\S+)/.exec(output)?.[1];
      const token = /Admin token for tenant "[^"]+" \(valid 24 h\):\s+(\S+)/.exec(output)?.[1];
      if (url && token) resolvePromise({ child, url: url.replace('localhost', '127.0.0.1'), token });
    });
    child.on('exit', (code) => reject(new Error(`server exited with ${code} before it was ready`)));
  });
}

/**
 * CPU seconds the server process has used (user + system, from /proc): on a shared machine this is
 * steadier than throughput, which swings with whatever else is running.
 */
function cpuSeconds(pid) {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

const body = JSON.stringify(
  Array.from({ length: Number(values.bulk) }, (_, index) => ({
    action: 'update',
    resource_type: 'invoice',
    resource_id: String(index),
    ip_address: '10.0.0.7',
    user_agent: 'bench/1.0',
    before: { status: 'draft', total: index },
    after: { status: 'sent', total: index + 0.5, lines: [{ sku: 'A-1', qty: 2 }] },
    metadata: { source: 'bench', request_id: `r-${index}` },
    severity: 'INFO',
  })),
);

const results = new Map(settings.map((setting) => [setting.name, []]));
const cpu = new Map(settings.map((setting) => [setting.name, []]));
for (let round = 1; round <= Number(values.rounds); round++) {
  for (const setting of settings) {
    const server = await startServer(setting.root, setting.env);
    const cpuBefore = cpuSeconds(server.child.pid);
    const run = await autocannon({
      url: `${server.url}/api/v1/logs/bulk`,
      method: 'POST',
      headers: { authorization: `Bearer ${server.token}`, 'content-type': 'application/json' },
      body,
      connections: Number(values.connections),
      duration: Number(values.duration),
    });
    // Let a last seal run (it is part of the cost), then read the server's CPU time.
    await new Promise((done) => setTimeout(done, 1500));
    const cpuPerThousand = ((cpuSeconds(server.child.pid) - cpuBefore) * 1000 * 1000) / (run.requests.total * Number(values.bulk));
    cpu.get(setting.name).push(cpuPerThousand);
    server.child.kill('SIGTERM');
    await new Promise((done) => server.child.on('exit', done));
    const eventsPerSecond = (run.requests.average * Number(values.bulk)) | 0;
    results.get(setting.name).push(eventsPerSecond);
    process.stdout.write(
      `round ${round}  ${setting.name.padEnd(32)} ${String(eventsPerSecond).padStart(7)} events/s  server CPU ${cpuPerThousand.toFixed(1)} ms/1000 events  p99 ${run.latency.p99} ms  non-2xx ${run.non2xx}  errors ${run.errors}\n`,
    );
  }
}
const median = (list) => [...list].sort((a, b) => a - b)[Math.floor(list.length / 2)];
const reference = median(results.get(settings[1].name));
const cpuReference = median(cpu.get(settings[1].name));
process.stdout.write('\nmedians: events/s (ratio to sealing off), server CPU ms per 1000 events (ratio)\n');
for (const [name, list] of results) {
  const cpuMedian = median(cpu.get(name));
  process.stdout.write(
    `  ${name.padEnd(32)} ${String(median(list)).padStart(7)} (${(median(list) / reference).toFixed(3)})  ${cpuMedian.toFixed(1).padStart(6)} (${(cpuMedian / cpuReference).toFixed(3)})\n`,
  );
}
