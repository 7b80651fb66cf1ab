import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** A child process with what it printed, so a failing test can show why a service did not start. */
export interface Child {
  process: ChildProcess;
  output: string[];
  /** Sends the signal and waits for the exit; SIGKILL follows if it has not exited in time. */
  stop(signal?: NodeJS.Signals, timeoutMs?: number): Promise<void>;
  exited(): boolean;
  /** Calls back with each line printed on stdout from now on. */
  onLine(listener: (line: string) => void): void;
}

export function launch(args: string[], cwd: string, env: Record<string, string>): Child {
  const child = spawn(process.execPath, args, { cwd, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const output: string[] = [];
  const listeners: ((line: string) => void)[] = [];
  const keep = (line: string) => {
    output.push(line);
    if (output.length > 200) output.shift();
  };
  createInterface({ input: child.stdout }).on('line', (line) => {
    keep(line);
    for (const listener of listeners) listener(line);
  });
  createInterface({ input: child.stderr }).on('line', keep);
  const exited = () => child.exitCode !== null || child.signalCode !== null;
  return {
    process: child,
    output,
    exited,
    onLine: (listener) => listeners.push(listener),
    async stop(signal = 'SIGTERM', timeoutMs = 15_000) {
      if (exited()) return;
      const done = once(child, 'exit');
      child.kill(signal);
      const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
      await done;
      clearTimeout(timer);
    },
  };
}

/** Waits for the first stdout line that `match` recognises; fails with the output if the process exits first. */
export function waitForLine<T>(child: Child, match: (line: string) => T | undefined, timeoutMs: number): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => fail(new Error('timed out')), timeoutMs);
    const fail = (error: Error) => {
      clearTimeout(timer);
      reject(new Error(`${error.message}; its output:\n${child.output.join('\n')}`));
    };
    child.process.once('exit', (code, signal) => fail(new Error(`exited with ${code ?? signal}`)));
    const check = () => {
      for (const line of child.output) {
        const found = match(line);
        if (found !== undefined) {
          clearTimeout(timer);
          return resolve(found);
        }
      }
    };
    child.onLine(check);
    check();
  });
}

export interface FauxqsProcess extends Child {
  endpoint: string;
  port: number;
  /** SQS requests it served, by action. */
  requests(): Promise<Record<string, number>>;
  /** SIGSTOP: SQS stops answering but keeps its messages, as a stalled server does. */
  pause(): void;
  resume(): void;
}

/** Starts fauxqs as its own process on 127.0.0.1 (port 0 picks a free one; pass the old port to restart it). */
export async function startFauxqsProcess(port = 0): Promise<FauxqsProcess> {
  const child = launch(['--import', 'tsx', join(ROOT, 'test/support/fauxqs-server.ts')], ROOT, { FAUXQS_PORT: String(port) });
  const bound = await waitForLine(
    child,
    (line) => {
      try {
        return (JSON.parse(line) as { port?: number }).port;
      } catch {
        return undefined;
      }
    },
    20_000,
  );
  const endpoint = `http://127.0.0.1:${bound}`;
  return {
    ...child,
    endpoint,
    port: bound,
    requests: async () => (await fetch(`${endpoint}/_test/requests`)).json() as Promise<Record<string, number>>,
    pause: () => child.process.kill('SIGSTOP'),
    resume: () => child.process.kill('SIGCONT'),
    async stop(signal, timeoutMs) {
      if (!child.exited()) child.process.kill('SIGCONT');
      await child.stop(signal, timeoutMs);
    },
  };
}

export interface ServiceProcess extends Child {
  url: string;
}

/**
 * Starts a service the way an operator does (`pnpm --filter @logserver/<name> start`: node with
 * tsx on src/main.ts), on 127.0.0.1 and a free port, and waits until /readyz answers 200
 * (or, with `ready: false`, only until it listens: its dependencies may not be up yet).
 */
export async function startService(
  name: 'auth' | 'log' | 'log-worker' | 'tenant',
  env: Record<string, string>,
  options: { ready?: boolean } = {},
): Promise<ServiceProcess> {
  const child = launch(['--conditions=development', '--import', 'tsx', 'src/main.ts'], join(ROOT, 'services', name), {
    PORT: '0',
    HOST: '127.0.0.1',
    LOG_LEVEL: 'info',
    ...env,
  });
  const url = await waitForLine(child, (line) => /listening at (http:\/\/127\.0\.0\.1:\d+)/.exec(line)?.[1], 30_000);
  if (options.ready !== false) await waitReady(url);
  return { ...child, url };
}

/** Polls /readyz until it answers 200. */
export async function waitReady(url: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    try {
      const response = await fetch(`${url}/readyz`);
      if (response.ok) return;
      last = await response.text();
    } catch (error) {
      last = String(error);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`${url} did not become ready: ${last}`);
}

/**
 * Starts the all-in-one server as its own process (as `make start` runs it), with extra node flags
 * such as a heap cap, and waits until /readyz answers 200. Its /metrics shows its own heap.
 */
export async function startAllInOneProcess(env: Record<string, string>, nodeArgs: string[] = []): Promise<ServiceProcess> {
  const child = launch([...nodeArgs, '--conditions=development', '--import', 'tsx', 'src/main.ts'], join(ROOT, 'services', 'all-in-one'), {
    PORT: '0',
    HOST: '127.0.0.1',
    LOG_LEVEL: 'info',
    ...env,
  });
  // Fastify's log line at info, or the banner at any level.
  const url = await waitForLine(child, (line) => /listening (?:at|on) (http:\/\/127\.0\.0\.1:\d+)/.exec(line)?.[1], 30_000);
  await waitReady(url);
  return { ...child, url };
}

/**
 * The process's used V8 heap in bytes, from its Prometheus /metrics (prom-client's default series).
 * On the all-in-one /metrics answers the platform admin only (docs/auth.md "Public routes"): pass its token.
 */
export async function heapUsedBytes(url: string, platformToken?: string): Promise<number> {
  const headers: Record<string, string> = platformToken ? { authorization: `Bearer ${platformToken}` } : {};
  const text = await (await fetch(`${url}/metrics`, { headers })).text();
  const line = /^nodejs_heap_size_used_bytes (\d+(?:\.\d+)?(?:e\+\d+)?)$/m.exec(text);
  if (!line) throw new Error(`no nodejs_heap_size_used_bytes in ${url}/metrics`);
  return Number(line[1]);
}
