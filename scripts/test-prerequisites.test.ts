import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const SCRIPT = new URL('./test-prerequisites.sh', import.meta.url).pathname;
const HIDDEN = ['nginx', 'chromium', 'kubectl'];

/** A PATH holding every program of this one but nginx, chromium and kubectl: a machine that has never had them. */
function pathWithout(names: string[]): string {
  const dir = mkdtempSync(join(tmpdir(), 'prereq-path-'));
  const linked = new Set(names);
  for (const folder of new Set([...(process.env.PATH ?? '').split(delimiter), '/usr/sbin', '/usr/bin', '/bin'])) {
    if (!folder || !existsSync(folder) || folder.includes('.tools')) continue;
    for (const entry of readdirSync(folder)) {
      if (linked.has(entry)) continue;
      linked.add(entry);
      symlinkSync(join(folder, entry), join(dir, entry));
    }
  }
  return dir;
}

const hidden = pathWithout(HIDDEN);
afterAll(() => rmSync(hidden, { recursive: true, force: true }));

describe('make test prerequisites (scripts/test-prerequisites.sh)', () => {
  it('finds nginx, chromium and a kubectl with kustomize v5 on this machine and installs nothing', () => {
    const result = spawnSync('bash', [SCRIPT], { encoding: 'utf8' });
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    expect(result.stdout).toMatch(/nginx: \S+; chromium: \S+/);
    expect(result.stdout).toMatch(/kubectl: .*Kustomize Version: v5|kubectl: \.tools\/bin\/kubectl/);
    expect(result.stdout).not.toMatch(/apt-get|unpacking/);
  });

  it('without root, on a machine without them, stops at once with the exact install command', () => {
    const home = mkdtempSync(join(tmpdir(), 'prereq-home-'));
    mkdirSync(join(home, 'x'), { recursive: true });
    const started = Date.now();
    // uid 65534 (nobody): the same script, as a user who cannot apt-get.
    const result = spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', 'bash', SCRIPT], {
      encoding: 'utf8',
      env: { PATH: hidden, HOME: home },
      cwd: home,
    });
    rmSync(home, { recursive: true, force: true });
    expect(result.status).toBe(1);
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(result.stderr).toContain('sudo apt-get update && sudo apt-get install -y --no-install-recommends nginx chromium');
    expect(result.stdout).toBe('');
  });
});
