import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { mintToken } from '@logserver/shared/auth/jwt-verifier';
import { afterAll, describe, expect, it } from 'vitest';
import { type ServiceProcess, startAllInOneProcess } from '../support/processes.js';

// Acknowledged means durable (DESIGN §7): a 200 is sent only after the SQLite commit with
// synchronous=FULL. A SIGKILL in the middle of a stream of POSTs is the closest a test gets to a
// power cut for the process: nothing it acknowledged may be missing after a restart on the same file.
const dataDir = mkdtempSync(join(tmpdir(), 'logserver-sigkill-'));
const settings = {
  secret: randomBytes(24).toString('hex'),
  scheme: 'hmac-sha256' as const,
  audience: 'logserver',
  issuer: 'issuer',
  requireExp: true,
};
const env = {
  DATA_DIR: dataDir,
  AUTH_SECRET: settings.secret,
  // The demo tenant is registered at start; its writer and auditor tokens are minted here.
  DEMO_TENANT: 'demo',
  LOG_LEVEL: 'warn',
  // The default, written out: appends on the writer thread (#15), whose commit the 200 waits for.
  SQLITE_APPEND_THREAD: 'true',
};
let server: ServiceProcess | undefined;

afterAll(async () => {
  await server?.stop('SIGKILL');
  rmSync(dataDir, { recursive: true, force: true });
});

const event = (n: number) => ({ action: 'sigkill.probe', resource_type: 'probe', resource_id: String(n), severity: 'INFO' });

describe('SIGKILL during a stream of acknowledged POSTs (all-in-one, SQLite on disk)', () => {
  it('finds every acknowledged event after a restart on the same SQLite file', async () => {
    server = await startAllInOneProcess(env);
    const writer = await mintToken({ ...settings, tenant: 'demo', role: 'writer', sub: 'probe', ttlSeconds: 600 });
    const acknowledged: string[] = [];
    let sent = 0;
    let refusedOrCut = 0;
    let stop = false;
    let beforeKill = -1;
    const url = server.url;
    const child = server.process;
    // 16 clients POST as fast as they can; each 200 is recorded with the id the server answered.
    const client = async () => {
      while (!stop) {
        const n = sent++;
        try {
          const request = fetch(`${url}/api/v1/logs`, {
            method: 'POST',
            headers: { authorization: `Bearer ${writer}`, 'content-type': 'application/json' },
            body: JSON.stringify(event(n)),
          });
          // Kill once a good number is acknowledged, just after a request went out, so at least that
          // one is in flight: the writer thread answers a whole batch at once, and a kill from a timer
          // could land when every client had its answer and none had sent the next request yet.
          if (beforeKill < 0 && acknowledged.length >= 200) {
            beforeKill = acknowledged.length;
            setImmediate(() => {
              child.kill('SIGKILL');
              stop = true;
            });
          }
          const response = await request;
          const body = (await response.json()) as { data?: { id?: string } };
          if (response.status === 200 && body.data?.id) acknowledged.push(body.data.id);
          else refusedOrCut++;
        } catch {
          // The kill cut this request: it was never acknowledged, so it may or may not be stored.
          refusedOrCut++;
        }
      }
    };
    const clients = Array.from({ length: 16 }, client);
    await expect.poll(() => stop, { timeout: 20_000, interval: 20 }).toBe(true);
    await Promise.all(clients);
    await server.stop('SIGKILL');
    // Requests were in flight at the kill (cut ones are counted), so it did not land between bursts.
    expect(sent).toBeGreaterThan(beforeKill);

    server = await startAllInOneProcess(env);
    const auditor = await mintToken({ ...settings, tenant: 'demo', role: 'auditor', sub: 'probe', ttlSeconds: 600 });
    const exported = await fetch(`${server.url}/api/v1/logs/export?format=ndjson&action=sigkill.probe`, {
      headers: { authorization: `Bearer ${auditor}` },
    });
    expect(exported.status).toBe(200);
    const stored = (await exported.text())
      .split('\n')
      .filter((line) => line.trim() !== '')
      .map((line) => JSON.parse(line) as { id?: string; action?: string })
      // Any line besides the events (a trailer) has no action of ours.
      .flatMap((line) => (line.action === 'sigkill.probe' && line.id ? [line.id] : []));
    const storedSet = new Set(stored);
    const missing = acknowledged.filter((id) => !storedSet.has(id));
    expect(missing, `${missing.length} of ${acknowledged.length} acknowledged events missing after SIGKILL`).toEqual([]);
    // Stored at most once each, and nothing beyond what was sent.
    expect(storedSet.size).toBe(stored.length);
    expect(stored.length).toBeLessThanOrEqual(sent);
    expect(refusedOrCut).toBeGreaterThan(0);
    // Two process starts (tsx) and 200 acknowledged POSTs: 15–20 s alone, over 30 s on a loaded machine.
  }, 120_000);
});
