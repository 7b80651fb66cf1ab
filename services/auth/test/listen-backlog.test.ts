import { execFileSync } from 'node:child_process';
import { afterAll, describe, expect, it } from 'vitest';
import { type ServiceProcess, startService } from '../../../test/support/processes.js';

let auth: ServiceProcess | undefined;
afterAll(async () => {
  await auth?.stop();
});

/** The accept queue the kernel gave a listening socket: `ss -ltn` shows it as Send-Q. */
function listenBacklog(port: number): number {
  const line = execFileSync('ss', ['-Hltn', `sport = :${port}`], { encoding: 'utf8' }).trim();
  const [, , sendQ] = line.split(/\s+/);
  return Number(sendQ);
}

describe('LISTEN_BACKLOG (docs/configuration.md)', () => {
  it('is the backlog the service listens with', async () => {
    auth = await startService('auth', { AUTH_SECRET: 'backlog-test-secret', LISTEN_BACKLOG: '1234' }, { ready: false });
    expect(listenBacklog(Number(new URL(auth.url).port))).toBe(1234);
  });
});
