import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, type RunningServer, startAllInOne } from '../test/support/all-in-one.js';
import { forgeUnsignedCleanup, interleavedOldAndRecent } from '../test/support/forge-cleanup.js';
import * as tlog from './tlog.mjs';

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

/** `verify-offline fetch` of acme as its auditor into a new folder: the folder, and what the script wrote to stderr. */
async function fetchBundle(server: RunningServer): Promise<{ out: string; stderr: string }> {
  const out = mkdtempSync(join(tmpdir(), 'logserver-audit-'));
  const { stderr } = await promisify(execFile)(process.execPath, [
    script,
    'fetch',
    '--url',
    server.url,
    '--token',
    await server.token('acme', 'auditor'),
    '--out',
    out,
  ]);
  return { out, stderr };
}

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
    const fetched = await fetchBundle(server);
    bundle = fetched.out;
    expect(fetched.stderr).toContain('wrote 121 events, 0 digests, 3 checkpoints');
    lines = readFileSync(join(bundle, 'events.ndjson'), 'utf8').trim().split('\n');
    await server.close();
  });
  afterAll(() => server.close());

  /** A copy of the bundle with the events file replaced. */
  const withEvents = (events: string[]) => {
    const copy = mkdtempSync(join(tmpdir(), 'logserver-audit-'));
    writeFileSync(join(copy, 'events.ndjson'), `${events.join('\n')}\n`);
    for (const file of ['digests.json', 'public-key.pem', 'checkpoints.json', 'keys.json'])
      writeFileSync(join(copy, file), readFileSync(join(bundle, file)));
    return copy;
  };

  it('accepts an intact export, with the server stopped', async () => {
    const { code, report } = await run('check', bundle);
    expect(code).toBe(0);
    expect(report).toMatchObject({
      status: 'intact',
      checkpoints_checked: 3,
      tree_size: 120,
      events_in_export: 121,
      events_verified: 120,
      events_unsealed: 1,
    });
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

  it('rejects a checkpoint that was edited, or whose leaves were', async () => {
    const copy = withEvents(lines);
    const checkpoints = JSON.parse(readFileSync(join(copy, 'checkpoints.json'), 'utf8'));
    checkpoints[1].note = checkpoints[1].note.replace('\n80\n', '\n81\n');
    writeFileSync(join(copy, 'checkpoints.json'), JSON.stringify(checkpoints));
    const { code, report } = await run('check', copy);
    expect(code).toBe(1);
    expect(report.tree.first_break).toMatchObject({ tree_size: 80 });
    const leaves = withEvents(lines);
    const again = JSON.parse(readFileSync(join(leaves, 'checkpoints.json'), 'utf8'));
    again[0].leaves.hashes[3] = 'ab'.repeat(32);
    writeFileSync(join(leaves, 'checkpoints.json'), JSON.stringify(again));
    expect((await run('check', leaves)).report.tree.first_break).toEqual({
      tree_size: 40,
      reason: 'its leaves, appended to the tree before it, do not give its root',
    });
  });

  it('pins a trusted checkpoint: a bundle that rolled back or forked from it is refused', async () => {
    const checkpoints = JSON.parse(readFileSync(join(bundle, 'checkpoints.json'), 'utf8'));
    const trusted = join(mkdtempSync(join(tmpdir(), 'logserver-trusted-')), 'note.txt');
    writeFileSync(trusted, checkpoints[2].note);
    expect((await run('check', bundle, '--trusted-checkpoint', trusted)).code).toBe(0);
    const rolledBack = withEvents(lines);
    writeFileSync(join(rolledBack, 'checkpoints.json'), JSON.stringify(checkpoints.slice(0, 2)));
    const { code, report } = await run('check', rolledBack, '--trusted-checkpoint', trusted, '--partial');
    expect(code).toBe(1);
    expect(report.tree.first_break.reason).toBe("rolled back: the trusted checkpoint has size 120, the bundle's tree 80");
  });

  it('fails with usage help on bad arguments', async () => {
    expect((await run('nonsense')).code).toBe(2);
  });
});

describe('scripts/verify-offline.mjs after a cleanup of half the tenant', () => {
  it('honours the cleanup: intact, and the pre-cleanup checkpoint still holds; a deletion no cleanup covers is caught', async () => {
    const server = await startAllInOne({ SEAL_INTERVAL: '0' });
    const admin = await server.token('acme', 'admin');
    const old = Array.from({ length: 40 }, (_, index) => ({
      action: 'old',
      resource_type: 'r',
      timestamp: `2020-01-${String(1 + (index % 28)).padStart(2, '0')}T00:00:00Z`,
    }));
    const recent = Array.from({ length: 40 }, () => ({ action: 'recent', resource_type: 'r' }));
    await call(`${server.url}/api/v1/logs/bulk`, { token: admin, body: [...old, ...recent] });
    await server.seal();
    const before = (await call(`${server.url}/api/v1/integrity/checkpoints/latest`, { token: admin })).body.data;
    const kept = (await call(`${server.url}/api/v1/logs?action=recent&size=100`, { token: admin })).body.data;
    expect(
      (await call(`${server.url}/api/v1/logs/cleanup?before=2021-01-01T00:00:00Z`, { method: 'DELETE', token: admin })).body.data,
    ).toEqual({ deleted_count: 40 });
    await server.seal();
    // Every remaining event's inclusion proof verifies against the checkpoint taken before the cleanup.
    for (const event of kept) {
      const proof = (await call(`${server.url}/api/v1/logs/${event.id}/proof?checkpoint=${before.tree_size}`, { token: admin })).body.data;
      const leaf = tlog.eventLeafHash(event.hash, event.timestamp);
      expect(
        tlog.verifyInclusion(proof.leaf_index, before.tree_size, leaf, tlog.fromHex(proof.path), Buffer.from(before.root_hash, 'hex')),
      ).toBe(true);
    }
    const { out } = await fetchBundle(server);
    await server.close();
    const trusted = join(out, 'trusted.txt');
    writeFileSync(trusted, before.note);
    const { code, report } = await run('check', out, '--trusted-checkpoint', trusted);
    expect(code).toBe(0);
    expect(report).toMatchObject({ status: 'intact', tree_size: 81, deleted_by_cleanup: 40, events_verified: 41 });

    const events = readFileSync(join(out, 'events.ndjson'), 'utf8').trim().split('\n');
    const dropped = JSON.parse(events.find((line) => line.includes('"recent"')) as string);
    writeFileSync(join(out, 'events.ndjson'), `${events.filter((line) => !line.includes(dropped.id)).join('\n')}\n`);
    const caught = await run('check', out);
    expect(caught.code).toBe(1);
    expect(caught.report.problem_count).toBe(1);
    expect(caught.report.first_problem).toMatchObject({ kind: 'removed', event_id: dropped.id });

    // A tombstone whose cleanup does not cover it (its time range edited) is a removal too.
    writeFileSync(join(out, 'events.ndjson'), `${events.join('\n')}\n`);
    const checkpoints = JSON.parse(readFileSync(join(out, 'checkpoints.json'), 'utf8'));
    checkpoints[0].leaves.tombstones[0].cleanup_before = '2019-01-01T00:00:00.000Z';
    writeFileSync(join(out, 'checkpoints.json'), JSON.stringify(checkpoints));
    const forged = await run('check', out);
    expect(forged.code).toBe(1);
    expect(forged.report.first_problem.detail).toContain('deleted before 2019-01-01');
  });

  it('reports a cleanup written straight into the store, unsigned, after the server signed one', async () => {
    const server = await startAllInOne({ SEAL_INTERVAL: '0' });
    const admin = await server.token('acme', 'admin');
    await call(`${server.url}/api/v1/logs/bulk`, { token: admin, body: interleavedOldAndRecent() });
    await server.seal();
    expect(
      (await call(`${server.url}/api/v1/logs/cleanup?before=2020-01-04T00:00:00Z`, { method: 'DELETE', token: admin })).body.data,
    ).toEqual({ deleted_count: 3 });
    expect(await forgeUnsignedCleanup(server, 'acme', '2020-01-08T00:00:00.000Z')).toBe(4);
    await server.seal();
    const { out } = await fetchBundle(server);
    await server.close();
    const { code, report } = await run('check', out);
    expect(code).toBe(1);
    expect(report).toMatchObject({ status: 'tampered', deleted_by_cleanup: 3, problem_count: 4 });
    expect(report.first_problem.detail).toContain('is not signed, but the server has signed its request cleanups since leaf');
  });
});
