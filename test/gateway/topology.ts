import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import getPort from 'get-port';
import { expect, vi } from 'vitest';
import { renderGatewayConf } from '../../scripts/deploy/gateway-routes.js';

const run = promisify(execFile);
export const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));

export interface Gateway {
  url: string;
  stop(): Promise<void>;
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Debian puts nginx in /usr/sbin, which is on root's PATH but often not on a developer's. */
const NGINX = existsSync('/usr/sbin/nginx') ? '/usr/sbin/nginx' : 'nginx';

/** nginx's command line for a prefix of our own: no root-owned paths, the current user. */
function nginxArgs(prefix: string, conf: string, extra: string): string[] {
  // As root, nginx would hand its workers to `nobody`, who cannot write our temp folder.
  const user = process.getuid?.() === 0 ? `user ${userInfo().username};` : '';
  return ['-p', prefix, '-c', conf, '-g', `pid ${join(prefix, 'nginx.pid')}; error_log ${join(prefix, 'error.log')} info; ${user}${extra}`];
}

/** `nginx -t` on a config file: resolves with nginx's output, rejects with it when the test fails. */
export async function nginxTest(conf: string): Promise<string> {
  const prefix = mkdtempSync(join(tmpdir(), 'logserver-nginx-t-'));
  try {
    const { stderr } = await run(NGINX, ['-t', ...nginxArgs(prefix, conf, '')]);
    return stderr;
  } finally {
    rmSync(prefix, { recursive: true, force: true });
  }
}

/**
 * Runs Debian's nginx with the gateway config rendered for these upstreams. nginx daemonizes
 * only once it has bound its port, so when the command returns the gateway takes requests.
 */
export async function startGateway(upstreams: { auth: string; log: string; tenant: string }): Promise<Gateway> {
  const prefix = mkdtempSync(join(tmpdir(), 'logserver-gateway-'));
  const port = await getPort({ host: '127.0.0.1' });
  const conf = join(prefix, 'gateway.conf');
  writeFileSync(conf, renderGatewayConf({ listen: `127.0.0.1:${port}`, upstreams, tempDir: prefix, websocketTimeout: 60 }));
  await run(NGINX, nginxArgs(prefix, conf, ''));
  return {
    url: `http://127.0.0.1:${port}`,
    stop: async () => {
      const pid = Number(readFileSync(join(prefix, 'nginx.pid'), 'utf8'));
      // Fast shutdown closes the WebSockets too; quit (graceful) would wait for them.
      process.kill(pid, 'SIGTERM');
      // nginx daemonized, so it is not our child to wait for: watch its pid go, then tidy up.
      // Teardown goes on when nginx is slow to exit; the folder goes either way.
      await vi.waitFor(() => expect(isRunning(pid)).toBe(false), { timeout: 5_000, interval: 100 }).catch(() => {});
      rmSync(prefix, { recursive: true, force: true });
    },
  };
}
