import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { type ServiceProcess, startAllInOneProcess } from '../support/processes.js';

// Issue 13, item 11: the banner printed a 24-hour platform-admin token to stdout also when stdout
// was not a terminal, so a container's log held a platform key.

const started: { server: ServiceProcess; dataDir: string }[] = [];
afterAll(async () => {
  for (const { server, dataDir } of started) {
    await server.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
});

async function bannerOf(env: Record<string, string>): Promise<string> {
  const dataDir = mkdtempSync(join(tmpdir(), 'logserver-banner-'));
  const server = await startAllInOneProcess({ DATA_DIR: dataDir, LOG_LEVEL: 'warn', ...env });
  started.push({ server, dataDir });
  return server.output.join('\n');
}

describe('the all-in-one banner', () => {
  it('prints no token when stdout is not a terminal, and says how to get one', async () => {
    const output = await bannerOf({});
    expect(output).toContain('listening on http://127.0.0.1:');
    expect(output).toContain('Tokens are printed only to a terminal');
    expect(output).not.toMatch(/eyJ[\w-]+\.eyJ[\w-]+/);
  }, 60_000);

  it('prints them with BANNER_TOKENS=true', async () => {
    const output = await bannerOf({ BANNER_TOKENS: 'true' });
    expect(output).toMatch(/Platform admin token[^\n]*\n\s+eyJ[\w-]+\.eyJ[\w-]+\.[\w-]+/);
  }, 60_000);
});
