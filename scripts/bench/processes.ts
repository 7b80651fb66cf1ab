import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, openSync, readdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

/** A free loopback port: other helpers run servers on this machine, so nothing fixed is ever used. */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise((resolve) => server.close(resolve));
  if (address === null || typeof address === 'string') throw new Error('could not find a free loopback port');
  return address.port;
}

export interface Service {
  name: string;
  url: string;
  pid: number;
  logFile: string;
  stop(): Promise<void>;
}

function tail(path: string): string {
  try {
    return readFileSync(path, 'utf8').split('\n').slice(-15).join('\n');
  } catch {
    return '(no output)';
  }
}

async function exited(child: ChildProcess, ms: number): Promise<boolean> {
  if (child.exitCode !== null || child.signalCode !== null) return true;
  return Promise.race([new Promise<boolean>((resolve) => child.once('exit', () => resolve(true))), sleep(ms).then(() => false)]);
}

/**
 * Starts `node <args>` as its own process on `port`, its output in `logFile` (a real server writes
 * its request log somewhere; a file costs what a log collector's pipe would), and waits until
 * `readyPath` answers 200.
 */
export async function startService(options: {
  name: string;
  args: string[];
  port: number;
  env: Record<string, string>;
  logFile: string;
  readyPath: string;
}): Promise<Service> {
  const out = openSync(options.logFile, 'a');
  const child = spawn(process.execPath, options.args, { env: { ...process.env, ...options.env }, stdio: ['ignore', out, out] });
  closeSync(out);
  const url = `http://127.0.0.1:${options.port}`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`${options.name} exited before it was ready; its output (${options.logFile}):\n${tail(options.logFile)}`);
    }
    try {
      const response = await fetch(`${url}${options.readyPath}`);
      if (response.ok) break;
    } catch {
      // Not listening yet.
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`${options.name} was not ready within 60 s; its output (${options.logFile}):\n${tail(options.logFile)}`);
    }
    await sleep(100);
  }
  return {
    name: options.name,
    url,
    pid: child.pid ?? 0,
    logFile: options.logFile,
    async stop() {
      if (await exited(child, 0)) return;
      child.kill('SIGTERM');
      if (await exited(child, 15_000)) return;
      child.kill('SIGKILL');
      await exited(child, 5_000);
    },
  };
}

/**
 * Starts a service on a free loopback port (PORT, and FAUXQS_PORT for fauxqs-server) with its log
 * in `workDir/<logPrefix><name>.log`, and adds it to `services` so the scenario stops it.
 */
export async function startOnFreePort(
  services: Service[],
  options: { name: string; args: string[]; env: Record<string, string>; readyPath: string; workDir: string; logPrefix?: string },
): Promise<Service> {
  const port = await freePort();
  const service = await startService({
    name: options.name,
    args: options.args,
    port,
    env: { ...options.env, PORT: String(port), FAUXQS_PORT: String(port) },
    logFile: join(options.workDir, `${options.logPrefix ?? ''}${options.name}.log`),
    readyPath: options.readyPath,
  });
  services.push(service);
  return service;
}

/**
 * The server's event-loop delay p99 in ms, from prom-client's default metrics on /metrics. prom-client
 * resets its monitorEventLoopDelay histogram on every scrape, so one scrape before a measurement and
 * one after give the p99 over exactly that window.
 */
export async function scrapeLoopDelayP99(url: string, headers: Record<string, string> = {}): Promise<number | null> {
  const text = await (await fetch(`${url}/metrics`, { headers })).text();
  const match = /^nodejs_eventloop_lag_p99_seconds(?:\{[^}]*\})? (\S+)$/m.exec(text);
  return match ? Number(match[1]) * 1000 : null;
}

/** Starts an event-loop window on the server; the returned function ends it and gives the p99 in ms. */
export async function watchLoopDelay(url: string, headers: Record<string, string> = {}): Promise<() => Promise<number | null>> {
  await scrapeLoopDelayP99(url, headers);
  return () => scrapeLoopDelayP99(url, headers);
}

/** Resident set size of a process in bytes, from /proc (Linux). */
export function rssOf(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const match = /^VmRSS:\s+(\d+) kB$/m.exec(status);
  if (!match) throw new Error(`no VmRSS for process ${pid}`);
  return Number(match[1]) * 1024;
}

/** Samples a process's RSS every few ms until stopped; gives the RSS at the start and the peak. */
export function sampleRss(pid: number, everyMs = 20): () => { start: number; peak: number } {
  const start = rssOf(pid);
  let peak = start;
  const timer = setInterval(() => {
    peak = Math.max(peak, rssOf(pid));
  }, everyMs);
  return () => {
    clearInterval(timer);
    peak = Math.max(peak, rssOf(pid));
    return { start, peak };
  };
}

/** Clock ticks per second for /proc/<pid>/stat; 100 on every Linux this runs on (USER_HZ). */
const USER_HZ = 100;

/** CPU µs (user + system) this process has used: the load generator's own, when it drives the load. */
export function ownCpuMicros(): number {
  const usage = process.cpuUsage();
  return usage.user + usage.system;
}

/**
 * CPU seconds (user + system) a process has used, from /proc (Linux). CPU per request is far
 * steadier than requests per second when other work shares the machine.
 */
export function cpuSecondsOf(pid: number): number {
  return statCpuSeconds(`/proc/${pid}/stat`);
}

/** CPU seconds of each thread of a process, by thread id (the main thread's id is the pid). */
export function threadCpuSeconds(pid: number): Map<string, number> {
  return new Map(readdirSync(`/proc/${pid}/task`).map((tid) => [tid, statCpuSeconds(`/proc/${pid}/task/${tid}/stat`)]));
}

/** User + system CPU seconds from a /proc stat file (a process's or a thread's). */
function statCpuSeconds(path: string): number {
  const stat = readFileSync(path, 'utf8');
  // Fields after the command name, which is in parentheses and may contain spaces.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / USER_HZ;
}

/** The machine's load averages (1, 5, 15 minutes), as the benchmark tools print them. */
export const loadAverage = (): string =>
  loadavg()
    .map((x) => x.toFixed(2))
    .join(' ');

/** The bare Fastify baseline (echo-server.ts) in a process of its own, on a free port, from source. */
export async function startEcho(logFile: string, name = 'baseline'): Promise<Service> {
  const port = await freePort();
  return startService({
    name,
    args: ['--conditions=development', '--import', 'tsx', join(import.meta.dirname, 'echo-server.ts')],
    port,
    env: { PORT: String(port) },
    logFile,
    readyPath: '/healthz',
  });
}

/**
 * The floor under POST /api/v1/logs (floor-server.ts): the echo plus the stored event, its hash and
 * its durable append, nothing else. In a process of its own, from source, its SQLite file in `dataDir`.
 */
export async function startFloor(logFile: string, dataDir: string): Promise<Service> {
  const port = await freePort();
  return startService({
    name: 'floor',
    args: ['--conditions=development', '--import', 'tsx', join(import.meta.dirname, 'floor-server.ts')],
    port,
    env: { PORT: String(port), DATA_DIR: dataDir },
    logFile,
    readyPath: '/healthz',
  });
}

/** The all-in-one server serves /metrics to the platform admin only (docs/auth.md "Public routes"). */
export async function metricsHeaders(context: { token(tenant: string, role: 'admin'): Promise<string> }): Promise<Record<string, string>> {
  return { authorization: `Bearer ${await context.token('system', 'admin')}` };
}
