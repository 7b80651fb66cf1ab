import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import getPort from 'get-port';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningServer, startAllInOne } from '../../../test/support/all-in-one.js';
import { TcpProxy } from '../../../test/support/tcp-proxy.js';
import { buildProgram } from '../src/cli/program.js';
import { LogserverClient } from '../src/client.js';

const ROOT = resolve(import.meta.dirname, '../../..');
const MAIN = 'packages/client/src/cli/main.ts';
const run = promisify(execFile);

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

/** The real CLI as a separate process, as a person runs it (from the source, as `pnpm logserver` does). */
async function cli(args: string[], env: Record<string, string> = {}): Promise<Result> {
  try {
    const { stdout, stderr } = await run('node', ['--conditions=development', '--import', 'tsx', MAIN, ...args], {
      cwd: ROOT,
      env: { ...process.env, ...env },
      maxBuffer: 256 * 1024 * 1024,
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code?: number; stdout?: string; stderr?: string };
    return { code: failed.code ?? 1, stdout: failed.stdout ?? '', stderr: failed.stderr ?? '' };
  }
}

const until = async (what: string, check: () => boolean, timeoutMs = 20_000) => {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
};

describe('the logserver CLI against the all-in-one server', () => {
  let server: RunningServer;
  let secret: string;
  let port: number;
  let env: Record<string, string>;
  beforeAll(async () => {
    port = await getPort();
    secret = randomBytes(24).toString('hex');
    server = await startAllInOne({ PORT: String(port), AUTH_SECRET: secret, SEAL_INTERVAL: '0' });
    env = { LOGSERVER_URL: server.url, XDG_CONFIG_HOME: mkdtempSync(join(tmpdir(), 'logserver-cli-')) };
    // The tenants the CLI mints tokens for exist, as a platform admin creates them (AUTH_REQUIRE_REGISTERED_TENANT).
    for (const tenant of ['cli-a', 'cli-v']) await server.token(tenant, 'viewer');
  });
  afterAll(async () => {
    await server?.close();
  });

  it('answers --help for itself and every command', async () => {
    const root = await cli(['--help']);
    expect(root.code).toBe(0);
    const names = buildProgram().commands.map((command) => command.name());
    expect(names).toEqual(['login', 'post', 'query', 'tail', 'export', 'stats', 'checkpoint', 'verify', 'token']);
    for (const name of names) expect(root.stdout).toMatch(new RegExp(`\\n  ${name} `));
    // Each command's own help, as a process would print it (one real run; the rest from the same program).
    const exported = await cli(['export', '--help']);
    expect(exported.stdout).toContain('Usage: logserver export [options]');
    expect(exported.stdout).toContain('--out <path>');
    for (const command of buildProgram().commands) {
      expect(command.helpInformation()).toContain(`Usage: logserver ${command.name()}`);
      expect(command.description().length).toBeGreaterThan(20);
    }
  }, 60_000);

  it('mints a token with the secret, logs in with it (kept owner-only), posts and queries', async () => {
    const minted = await cli(['token', '--tenant', 'cli-a', '--role', 'admin', '--sub', 'ops', '--secret', secret]);
    expect(minted.code).toBe(0);
    const token = minted.stdout.trim();
    const login = await cli(['login', token], env);
    expect(login.stdout, login.stderr).toContain(`logged in to ${server.url}`);
    const saved = join(env.XDG_CONFIG_HOME as string, 'logserver', 'config.json');
    expect(statSync(saved).mode & 0o777).toBe(0o600);

    const one = await cli(
      ['post', '--action', 'user.login', '--resource-type', 'session', '--severity', 'WARNING', '--metadata', '{"mfa":true}'],
      env,
    );
    expect(one.code).toBe(0);
    expect(JSON.parse(one.stdout)).toMatchObject({ action: 'user.login', severity: 'WARNING', user_id: 'ops', metadata: { mfa: true } });

    const file = join(env.XDG_CONFIG_HOME as string, 'events.ndjson');
    const lines = Array.from({ length: 30 }, (_, index) => JSON.stringify({ action: `batch.${index}`, resource_type: 'doc' }));
    await import('node:fs/promises').then((fs) => fs.writeFile(file, `${lines.join('\n')}\n`));
    const many = await cli(['post', '--file', file], env);
    expect(many.stderr).toContain('stored 30 events');

    const table = await cli(['query', '--resource-type', 'session'], env);
    expect(table.stdout.split('\n')[0]).toMatch(/^TIMESTAMP\s+SEVERITY\s+ACTION\s+RESOURCE\s+USER\s+ID$/);
    expect(table.stdout).toContain('user.login');
    const asJson = JSON.parse((await cli(['query', '--limit', '100', '--output', 'json'], env)).stdout);
    expect(asJson).toHaveLength(31);
    const stats = await cli(['stats'], env);
    expect(stats.stdout).toMatch(/INFO\s+30/);
    expect(stats.stdout).toMatch(/WARNING\s+1/);
  }, 60_000);

  it('says why the server refused, and exits 1', async () => {
    const result = await cli(['query', '--token', 'not-a-jwt'], env);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('logserver: the server answered 401: Unauthorized: malformed token');
    const invalid = await cli(
      [
        'query',
        '--severity',
        'LOUD',
        '--token',
        (await cli(['token', '--tenant', 'cli-a', '--role', 'viewer', '--secret', secret])).stdout.trim(),
      ],
      env,
    );
    expect(invalid.code).toBe(1);
    expect(invalid.stderr).toMatch(/422: Validation error\n {2}query\.severity: /);
  }, 60_000);

  it('verifies the log and checks one event’s proof locally', async () => {
    const admin = (await cli(['token', '--tenant', 'cli-v', '--role', 'admin', '--secret', secret])).stdout.trim();
    const posted = JSON.parse((await cli(['post', '--action', 'sealed', '--resource-type', 'doc', '--token', admin], env)).stdout);
    await server.seal();
    const report = await cli(['verify', '--token', admin], env);
    expect(report.code).toBe(0);
    expect(JSON.parse(report.stdout)).toMatchObject({ status: 'intact', events_verified: 1 });
    const proof = await cli(['verify', '--event', posted.id, '--token', admin], env);
    expect(JSON.parse(proof.stdout)).toMatchObject({
      valid: true,
      format: 'tree',
      checks: { eventHash: true, merklePath: true, checkpoint: true, keyWindow: true, signature: true },
      leaf_index: 0,
    });

    // Keep a checkpoint, let the log grow, and check here that it extends the kept one.
    const dir = mkdtempSync(join(tmpdir(), 'logserver-cli-checkpoint-'));
    const saved = await cli(['checkpoint', '--token', admin], env);
    expect(saved).toMatchObject({ code: 0, stderr: '' });
    expect(JSON.parse(saved.stdout)).toMatchObject({ tree_size: 1, origin: expect.stringMatching(/\/cli-v$/) });
    writeFileSync(join(dir, 'kept.json'), saved.stdout);
    const keys = await new LogserverClient({ baseUrl: server.url, token: admin }).keys();
    writeFileSync(join(dir, 'keys.json'), JSON.stringify(keys));
    await cli(['post', '--action', 'later', '--resource-type', 'doc', '--token', admin], env);
    await server.seal();
    const since = await cli(['verify', '--since', join(dir, 'kept.json'), '--keys', join(dir, 'keys.json'), '--token', admin], env);
    expect(since.code).toBe(0);
    expect(JSON.parse(since.stdout)).toMatchObject({ valid: true, from: 1, to: 2, checks: { consistency: true, signature: true } });
    const old = await cli(['verify', '--event', posted.id, '--checkpoint', '1', '--keys', join(dir, 'keys.json'), '--token', admin], env);
    expect(JSON.parse(old.stdout)).toMatchObject({ valid: true, checkpoint: 1 });

    // A kept checkpoint the log does not extend (another root at size 1): exit code 2, the reason printed.
    const forged = { ...JSON.parse(saved.stdout), root_hash: '00'.repeat(32) };
    writeFileSync(join(dir, 'forged.json'), JSON.stringify(forged));
    const split = await cli(['verify', '--since', join(dir, 'forged.json'), '--token', admin], env);
    expect(split.code).toBe(2);
    expect(JSON.parse(split.stdout)).toMatchObject({ valid: false, checks: { consistency: false } });
    // Keys whose window closed long ago: the checkpoint is refused.
    writeFileSync(
      join(dir, 'closed.json'),
      JSON.stringify({ keys: keys.keys.map((jwk) => ({ ...jwk, not_after: '2000-01-01T00:00:00.000Z' })) }),
    );
    const closed = await cli(['checkpoint', '--keys', join(dir, 'closed.json'), '--token', admin], env);
    expect(closed.code).toBe(2);
    expect(closed.stderr).toMatch(/outside that key's window/);
  }, 60_000);

  it('export of 100 000 events writes exactly the bytes the API’s export gives, with a progress bar', async () => {
    const writer = new LogserverClient({ baseUrl: server.url, token: await server.token('cli-big', 'writer') });
    await writer.bulk(
      Array.from({ length: 100_000 }, (_, index) => ({
        action: ['create', 'update', 'delete'][index % 3] as string,
        resource_type: 'invoice',
        resource_id: String(index),
        severity: index % 97 === 0 ? ('ERROR' as const) : ('INFO' as const),
      })),
    );
    const token = await server.token('cli-big', 'auditor');
    const out = join(env.XDG_CONFIG_HOME as string, 'export.ndjson');
    // The export's own audit record (resource_type logs) is left out by the filter, so both read the same events.
    const result = await cli(['export', '--out', out, '--resource-type', 'invoice', '--token', token], env);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).toContain('100000/100000 events');
    expect(result.stderr).toContain(`wrote 100000 events`);
    const api = Buffer.from(
      await (
        await fetch(`${server.url}/api/v1/logs/export?resource_type=invoice`, { headers: { authorization: `Bearer ${token}` } })
      ).arrayBuffer(),
    );
    const file = readFileSync(out);
    expect(file.length).toBe(api.length);
    expect(file.equals(api)).toBe(true);
    expect(file.toString('utf8').trimEnd().split('\n')).toHaveLength(100_000);
    // A filtered CSV export matches too.
    const csvOut = join(env.XDG_CONFIG_HOME as string, 'errors.csv');
    await cli(
      [
        'export',
        '--out',
        csvOut,
        '--format',
        'csv',
        '--severity',
        'ERROR',
        '--resource-type',
        'invoice',
        '--no-progress',
        '--token',
        token,
      ],
      env,
    );
    const csv = Buffer.from(
      await (
        await fetch(`${server.url}/api/v1/logs/export?format=csv&severity=ERROR&resource_type=invoice`, {
          headers: { authorization: `Bearer ${token}` },
        })
      ).arrayBuffer(),
    );
    expect(readFileSync(csvOut).equals(csv)).toBe(true);
  }, 300_000);

  it('tail resumes after the last cursor: across a server restart while events are stored, and in a new process with --after', async () => {
    const token = await server.token('cli-tail', 'viewer');
    const proxy = await TcpProxy.start(Number(new URL(server.url).port));
    const spawnTail = (extra: string[]) => {
      const child: ChildProcess = spawn(
        'node',
        [
          '--conditions=development',
          '--import',
          'tsx',
          MAIN,
          'tail',
          '--url',
          proxy.url,
          '--token',
          token,
          '--resource-type',
          'job',
          ...extra,
        ],
        { cwd: ROOT, env: { ...process.env, ...env } },
      );
      const output = { stdout: '', stderr: '' };
      child.stdout?.on('data', (chunk: Buffer) => {
        output.stdout += chunk.toString();
      });
      child.stderr?.on('data', (chunk: Buffer) => {
        output.stderr += chunk.toString();
      });
      const lines = () =>
        output.stdout
          .split('\n')
          .filter((line) => line !== '')
          .map((line) => JSON.parse(line) as { id: string; action: string; cursor: string });
      const stop = async () => {
        if (child.exitCode === null) {
          child.kill('SIGINT');
          await new Promise((resolve) => child.once('exit', resolve));
        }
        return child.exitCode;
      };
      return { output, lines, stop };
    };
    const jobs = (label: string) => Array.from({ length: 3 }, (_, index) => ({ action: `${label}.${index}`, resource_type: 'job' }));
    const tail = spawnTail([]);
    try {
      await until('tail to connect', () => tail.output.stderr.includes('[open]'));
      let writer = new LogserverClient({ baseUrl: server.url, token: await server.token('cli-tail', 'writer') });
      const before = await writer.bulk(jobs('before'));
      await until('the first events', () => tail.lines().length >= 3);
      // The restart: tail cannot reach any server while the new one stores events.
      proxy.refuse();
      const dataDir = server.dataDir;
      await server.close();
      await until('tail to notice', () => tail.output.stderr.includes('[reconnecting'));
      server = await startAllInOne({ PORT: String(port), AUTH_SECRET: secret, SEAL_INTERVAL: '0', DATA_DIR: dataDir });
      writer = new LogserverClient({ baseUrl: server.url, token: await server.token('cli-tail', 'writer') });
      const whileDown = await writer.bulk(jobs('while-down'));
      proxy.target = Number(new URL(server.url).port);
      proxy.accept();
      await until('tail to reconnect', () => tail.output.stderr.split('[open]').length >= 3, 30_000);
      const after = await writer.bulk(jobs('after'));
      await until('the later events', () => tail.lines().length >= 9);
      expect(tail.lines().map((line) => line.id)).toEqual([...before, ...whileDown, ...after].map((event) => event.id));
      expect(tail.lines().every((line) => /^[A-Za-z0-9_-]{70}$/.test(line.cursor))).toBe(true);
      expect(await tail.stop()).toBe(0);
      const lastCursor = tail.lines().at(-1)?.cursor as string;
      expect(tail.output.stderr).toContain(`resume with: logserver tail --after ${lastCursor}`);

      // Events stored while no tail runs; a new tail with --after the last line's cursor prints exactly those, then live ones.
      const later = await writer.bulk(jobs('later'));
      const resumed = spawnTail(['--after', lastCursor]);
      try {
        await until('the resumed tail to replay', () => resumed.lines().length >= 3);
        await until('the resumed tail to be live', () => resumed.output.stderr.includes('[live]'));
        const live = await writer.bulk(jobs('live'));
        await until('the live events', () => resumed.lines().length >= 6);
        expect(resumed.lines().map((line) => line.id)).toEqual([...later, ...live].map((event) => event.id));
      } finally {
        expect(await resumed.stop()).toBe(0);
      }

      // A tail stopped before its first event still says where to resume: the head cursor it started with.
      const idle = spawnTail([]);
      await until('the idle tail to be live', () => idle.output.stderr.includes('[live]'));
      expect(await idle.stop()).toBe(0);
      const head = /resume with: logserver tail --after ([A-Za-z0-9_-]{70})\n/.exec(idle.output.stderr)?.[1];
      expect(head, idle.output.stderr).toBeDefined();
      const missed = await writer.bulk(jobs('missed'));
      const caught = spawnTail(['--after', head as string]);
      try {
        await until('the resumed tail to be live', () => caught.output.stderr.includes('[live]'));
        expect(caught.lines().map((line) => line.id)).toEqual(missed.map((event) => event.id));
      } finally {
        expect(await caught.stop()).toBe(0);
      }
    } finally {
      await tail.stop();
      await proxy.close();
    }
  }, 90_000);

  it("tail --after with a cursor that is not one exits 1 with the server's reason", async () => {
    const result = await cli(['tail', '--token', await server.token('cli-tail', 'viewer'), '--after', 'x'.repeat(70)], env);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/422.*query\.after: not a cursor of this stream/);
  }, 30_000);
});
