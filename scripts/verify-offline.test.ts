import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, type RunningServer, startAllInOne } from '../test/support/all-in-one.js';

const script = join(import.meta.dirname, 'verify-offline.mjs');
const run = async (...args: string[]) => {
  try {
    const { stdout } = await promisify(execFile)(process.execPath, [script, ...args]);
    return { code: 0, report: stdout ? JSON.parse(stdout) : null };
  } catch (error) {
    const failed = error as { code: number; stdout: string };
    return { code: failed.code, report: failed.stdout ? JSON.parse(failed.stdout) : null };
  }
};

describe('scripts/verify-offline.mjs', () => {
  let server: RunningServer;
  let bundle: string;
  let lines: string[];

  beforeAll(async () => {
    server = await startAllInOne({ SEAL_INTERVAL: '0' });
    const writer = await server.token('acme', 'writer');
    for (let batch = 0; batch < 3; batch++) {
      const body = Array.from({ length: 40 }, (_, index) => ({
        action: 'update',
        resource_type: 'invoice',
        resource_id: `${batch}-${index}`,
        metadata: { n: index },
      }));
      await call(`${server.url}/api/v1/logs/bulk`, { token: writer, body });
      await server.seal();
    }
    await call(`${server.url}/api/v1/logs`, { token: writer, body: { action: 'late', resource_type: 'invoice' } });
    bundle = mkdtempSync(join(tmpdir(), 'logserver-audit-'));
    const fetched = await promisify(execFile)(process.execPath, [
      script,
      'fetch',
      '--url',
      server.url,
      '--token',
      await server.token('acme', 'auditor'),
      '--out',
      bundle,
    ]);
    expect(fetched.stderr).toContain('wrote 121 events, 3 digests');
    lines = readFileSync(join(bundle, 'events.ndjson'), 'utf8').trim().split('\n');
    await server.close();
  });
  afterAll(() => server.close());

  /** A copy of the bundle with the events file replaced. */
  const withEvents = (events: string[]) => {
    const copy = mkdtempSync(join(tmpdir(), 'logserver-audit-'));
    writeFileSync(join(copy, 'events.ndjson'), `${events.join('\n')}\n`);
    writeFileSync(join(copy, 'digests.json'), readFileSync(join(bundle, 'digests.json')));
    writeFileSync(join(copy, 'public-key.pem'), readFileSync(join(bundle, 'public-key.pem')));
    return copy;
  };

  it('accepts an intact export, with the server stopped', async () => {
    const { code, report } = await run('check', bundle);
    expect(code).toBe(0);
    expect(report).toMatchObject({ status: 'intact', digests_checked: 3, events_in_export: 121, events_verified: 120, events_unsealed: 1 });
  });

  it('rejects an export with one field changed and names the event', async () => {
    const event = JSON.parse(lines[17] as string);
    const tampered = [...lines];
    tampered[17] = JSON.stringify({ ...event, resource_id: 'someone-else' });
    const { code, report } = await run('check', withEvents(tampered));
    expect(code).toBe(1);
    expect(report.first_problem).toMatchObject({ kind: 'changed', event_id: event.id });
  });

  it('rejects an export with an event left out, unless told the export is partial', async () => {
    const dropped = JSON.parse(lines[50] as string);
    const copy = withEvents(lines.filter((_, index) => index !== 50));
    const { code, report } = await run('check', copy);
    expect(code).toBe(1);
    expect(report.first_problem).toMatchObject({ kind: 'removed', event_id: dropped.id });
    expect((await run('check', copy, '--partial')).code).toBe(0);
  });

  it('rejects an event slipped in with a time before the last seal', async () => {
    const template = lines.map((line) => JSON.parse(line)).find((event) => event.action === 'update');
    const forged = { ...template, id: '01900000-0000-7000-8000-000000000000', action: 'backdated' };
    const { code, report } = await run('check', withEvents([...lines, JSON.stringify(forged)]));
    expect(code).toBe(1);
    expect(report.first_problem).toMatchObject({ kind: 'inserted', event_id: forged.id });
  });

  it('rejects a digest that was edited', async () => {
    const copy = withEvents(lines);
    const digests = JSON.parse(readFileSync(join(copy, 'digests.json'), 'utf8'));
    digests[1].count = 39;
    writeFileSync(join(copy, 'digests.json'), JSON.stringify(digests));
    const { code, report } = await run('check', copy);
    expect(code).toBe(1);
    expect(report.chain.first_break).toEqual({ digest_seq: 2, reason: 'its hash does not match its contents' });
  });

  it('fails with usage help on bad arguments', async () => {
    expect((await run('nonsense')).code).toBe(2);
  });
});
