import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, statSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const serviceDir = new URL('..', import.meta.url).pathname;

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    });
  });
}

let child: ChildProcess | undefined;
afterAll(() => {
  child?.kill('SIGKILL');
});

describe('the all-in-one main process (what make start runs)', () => {
  it('starts on a fresh data folder, serves health and the banner token, and exits cleanly on SIGTERM', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'logserver-main-'));
    const port = await freePort();
    let output = '';
    child = spawn(process.execPath, ['--conditions=development', '--import', 'tsx', 'src/main.ts'], {
      cwd: serviceDir,
      // stdout is a pipe here, not a terminal: BANNER_TOKENS=true asks for the tokens all the same.
      env: {
        ...process.env,
        PORT: String(port),
        HOST: '127.0.0.1',
        DATA_DIR: dataDir,
        LOG_LEVEL: 'info',
        AUTH_SECRET: '',
        BANNER_TOKENS: 'true',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout?.on('data', (chunk) => {
      output += chunk;
    });
    child.stderr?.on('data', (chunk) => {
      output += chunk;
    });
    const base = `http://127.0.0.1:${port}`;
    await expect.poll(async () => output.includes('Admin token'), { timeout: 20_000, interval: 100 }).toBe(true);

    expect(await (await fetch(`${base}/healthz`)).json()).toEqual({ code: 200, msg: 'ok', data: { status: 'ok' } });
    expect((await fetch(`${base}/readyz`)).status).toBe(200);

    // The generated secret is kept in the data folder, readable by its owner only.
    const secretFile = join(dataDir, 'auth-secret');
    expect(readFileSync(secretFile, 'utf8').trim()).toMatch(/^[0-9a-f]{64}$/);
    expect(statSync(secretFile).mode & 0o077).toBe(0);
    expect(statSync(join(dataDir, 'logserver.db')).size).toBeGreaterThan(0);

    const token = /Admin token for tenant "demo"[^\n]*\n\s+(\S+)/.exec(output)?.[1] as string;
    const created = await fetch(`${base}/api/v1/logs`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ action: 'login', resource_type: 'session' }),
    });
    expect(created.status).toBe(200);
    // The console link carries the same token, in the fragment (which a browser never sends).
    expect(output).toContain(`/console#token=${token}\n`);
    // The banner's token is printed for the person at the terminal, but no log line carries a token.
    const logLines = output.split('\n').filter((line) => line.startsWith('{'));
    expect(logLines.length).toBeGreaterThan(0);
    for (const line of logLines) expect(line).not.toContain(token);

    const exited = new Promise<number | null>((resolve) => child?.once('exit', (code) => resolve(code)));
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(output).toContain('shutting down');
  });
});
