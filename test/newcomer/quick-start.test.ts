// The README's quick start as a newcomer runs it: `make start` from the repository's folder, then every
// command the banner prints, pasted as printed, and `make token`. Real make, real pnpm, real curl.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import getPort from 'get-port';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
// Relative on purpose: `DATA_DIR=mydata make start` must keep it under the folder make ran in.
const DATA_DIR = `.test-quick-start-${process.pid}`;
// make's own flags (a parent make test's -s or jobserver) stay out of the newcomer's make.
// A newcomer's make start prints to a terminal, which is when the banner shows its tokens; here
// stdout is a pipe, so BANNER_TOKENS=true (docs/configuration.md) asks for them as a terminal would.
const ENV = {
  ...process.env,
  MAKEFLAGS: '',
  MFLAGS: '',
  DATA_DIR,
  LOG_LEVEL: 'warn',
  AUTH_SECRET: '',
  HOST: '',
  PORT: '',
  BANNER_TOKENS: 'true',
};
const JWT = /^[\w-]+\.[\w-]+\.[\w-]+$/;

let server: ChildProcess;
let banner = '';
let port: number;

function make(args: string[]): string {
  return execFileSync('make', ['-s', ...args], { cwd: ROOT, env: ENV, encoding: 'utf8', timeout: 60_000 });
}

beforeAll(async () => {
  port = await getPort();
  const { HOST: _unset, ...env } = ENV;
  server = spawn('make', ['start'], { cwd: ROOT, env: { ...env, PORT: String(port) }, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  server.stdout?.on('data', (chunk) => {
    banner += chunk;
  });
  server.stderr?.on('data', (chunk) => {
    banner += chunk;
  });
  const deadline = Date.now() + 60_000;
  while (!banner.includes('More tokens') && Date.now() < deadline) {
    if (server.exitCode !== null) throw new Error(`make start exited: ${banner}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  if (!banner.includes('More tokens')) throw new Error(`no banner within 60 s: ${banner}`);
}, 90_000);

afterAll(async () => {
  if (server?.pid && server.exitCode === null) {
    const exited = once(server, 'exit');
    // make, pnpm and node share the process group started here.
    process.kill(-server.pid, 'SIGTERM');
    await exited;
  }
  rmSync(join(ROOT, DATA_DIR), { recursive: true, force: true });
}, 30_000);

/** The banner's command lines, with backslash continuations joined, as a shell reads them. */
function printedCommands(prefix: string): string[] {
  return banner
    .replace(/\\\n\s*/g, '')
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line.startsWith(prefix));
}

describe('README quick start, as printed', () => {
  it('make start listens on 127.0.0.1 only and says how to expose it', async () => {
    expect(banner).toContain(`listening on http://127.0.0.1:${port}`);
    expect(banner).toContain('HOST=0.0.0.0 make start');
    expect((await fetch(`http://127.0.0.1:${port}/healthz`)).status).toBe(200);
  });

  it('keeps a relative DATA_DIR under the folder make ran in', () => {
    expect(existsSync(join(ROOT, DATA_DIR, 'auth-secret'))).toBe(true);
    expect(existsSync(join(ROOT, DATA_DIR, 'logserver.db'))).toBe(true);
    expect(existsSync(join(ROOT, 'services/all-in-one', DATA_DIR))).toBe(false);
  });

  it('every curl command of the banner works pasted into a shell', () => {
    const commands = printedCommands('curl ');
    expect(commands).toHaveLength(2);
    for (const command of commands) {
      const answer = JSON.parse(execFileSync('bash', ['-c', command], { encoding: 'utf8' }));
      expect(answer).toMatchObject({ code: 200, msg: 'ok' });
    }
  });

  it('the wscat command shows an event as it is stored (npx fetches wscat from the npm registry)', async () => {
    const [command] = printedCommands('npx ');
    expect(command).toMatch(/^npx --yes wscat@6 -c "ws:\/\/127\.0\.0\.1:\d+\/api\/v1\/logs\/stream\?token=[\w.-]+"$/);
    // wscat prints what it receives on a terminal only: script(1) gives it one, as a person's shell would.
    const wscat = spawn('script', ['-qec', command as string, '/dev/null'], { stdio: ['pipe', 'pipe', 'pipe'], detached: true });
    let seen = '';
    wscat.stdout?.on('data', (chunk) => {
      seen += chunk;
    });
    try {
      const until = async (text: string, ms: number) => {
        const deadline = Date.now() + ms;
        while (!seen.includes(text) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100));
        expect(seen).toContain(text);
      };
      await until('Connected', 120_000);
      const token = /Bearer (\S+)"/.exec(banner)?.[1] as string;
      const created = await fetch(`http://127.0.0.1:${port}/api/v1/logs`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ action: 'quick-start-wscat', resource_type: 'readme' }),
      });
      expect(created.status).toBe(200);
      await until('"action":"quick-start-wscat"', 10_000);
    } finally {
      if (wscat.pid) process.kill(-wscat.pid, 'SIGKILL');
    }
  }, 150_000);

  it('make token prints the token alone, from the same data folder, and the server takes it', async () => {
    const [more] = printedCommands('More tokens');
    expect(more).toContain('make token ROLE=viewer TENANT=demo');
    const output = make(['token', 'ROLE=viewer', 'TENANT=demo']);
    expect(output.endsWith('\n')).toBe(true);
    const token = output.trim();
    expect(token).toMatch(JWT);
    const base = `http://127.0.0.1:${port}/api/v1/logs`;
    expect((await fetch(base, { headers: { authorization: `Bearer ${token}` } })).status).toBe(200);
    const write = await fetch(base, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ action: 'login', resource_type: 'session' }),
    });
    expect(write.status).toBe(403);

    const writer = make(['token', 'ROLE=writer', 'TENANT=demo', 'SUB=billing-app', 'TTL=10m']).trim();
    const payload = JSON.parse(Buffer.from(writer.split('.')[1] as string, 'base64url').toString());
    expect(payload).toMatchObject({ sub: 'billing-app', role: 'writer', tenant: 'demo' });
    expect(payload.exp - payload.iat).toBe(600);
  });

  it('make token without ROLE, and mint-token --help, print the usage', () => {
    const help = execFileSync(process.execPath, ['--conditions=development', '--import', 'tsx', 'scripts/mint-token.ts', '--help'], {
      cwd: ROOT,
      encoding: 'utf8',
    });
    expect(help).toContain('usage: make token ROLE=<role> TENANT=<key>');
    let failure: { status: number; stderr: string; stdout: string } | undefined;
    try {
      make(['token']);
    } catch (error) {
      failure = error as typeof failure;
    }
    expect(failure?.status).toBe(2);
    expect(failure?.stdout).toBe('');
    expect(failure?.stderr).toContain('ROLE is required');
  });
});
