import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as tlog from '../../../scripts/tlog.mjs';
import { call, type RunningServer, startAllInOne } from '../../../test/support/all-in-one.js';
import { forgeUnsignedCleanup, interleavedOldAndRecent } from '../../../test/support/forge-cleanup.js';

const script = resolve(import.meta.dirname, '../../../scripts/verify-offline.mjs');
const dir = mkdtempSync(join(tmpdir(), 'logserver-manifest-'));
let files = 0;

/** scripts/verify-offline.mjs check-export on this export text, as an auditor runs it: a separate process, no server. */
async function checkExport(text: string, ...args: string[]) {
  const file = join(dir, `export-${files++}.ndjson`);
  writeFileSync(file, text);
  try {
    const { stdout } = await promisify(execFile)(process.execPath, [
      script,
      'check-export',
      file,
      '--keys',
      join(dir, 'keys.json'),
      ...args,
    ]);
    return { code: 0, report: JSON.parse(stdout) };
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string };
    return { code: failed.code, report: failed.stdout ? JSON.parse(failed.stdout) : null, stderr: failed.stderr };
  }
}

const split = (text: string) => {
  const lines = text.trimEnd().split('\n');
  return { events: lines.slice(0, -1).map((line) => JSON.parse(line)), manifest: JSON.parse(lines.at(-1) as string).manifest };
};
const join_ = (events: unknown[], manifest: unknown) =>
  `${[...events.map((e) => JSON.stringify(e)), JSON.stringify({ manifest })].join('\n')}\n`;

describe('GET /api/v1/logs/export?manifest=true, checked by scripts/verify-offline.mjs check-export', () => {
  let server: RunningServer;
  let admin: string;
  let before: { tree_size: number; root_hash: string; note: string };
  let full: string;

  beforeAll(async () => {
    server = await startAllInOne({ SEAL_INTERVAL: '0' });
    admin = await server.token('mf', 'admin');
    // Half of the tenant is old (2020) and sits between the recent events in the tree.
    const body = Array.from({ length: 60 }, (_, index) =>
      index % 2 === 0
        ? { action: 'recent', resource_type: 'r', resource_id: String(index) }
        : { action: 'old', resource_type: 'r', timestamp: `2020-01-${String(1 + (index % 28)).padStart(2, '0')}T00:00:00Z` },
    );
    await call(`${server.url}/api/v1/logs/bulk`, { token: admin, body });
    await server.seal();
    before = (await call(`${server.url}/api/v1/integrity/checkpoints/latest`, { token: admin })).body.data;
    writeFileSync(join(dir, 'trusted.txt'), before.note);
    expect(
      (await call(`${server.url}/api/v1/logs/cleanup?before=2021-01-01T00:00:00Z`, { method: 'DELETE', token: admin })).body.data,
    ).toEqual({ deleted_count: 30 });
    await call(`${server.url}/api/v1/logs/bulk`, {
      token: admin,
      body: Array.from({ length: 10 }, (_, index) => ({ action: 'later', resource_type: 'r', resource_id: `l${index}` })),
    });
    await server.seal();
    const keys = await call(`${server.url}/api/v1/integrity/keys`, { token: admin });
    writeFileSync(join(dir, 'keys.json'), keys.text);
    const exported = await call(`${server.url}/api/v1/logs/export?manifest=true&sort=asc&trusted_size=${before.tree_size}`, {
      token: admin,
    });
    expect(exported.status).toBe(200);
    full = exported.text;
  });
  afterAll(() => server?.close());

  it('ends the NDJSON with a manifest: count, body SHA-256, the covering checkpoint, leaf indexes, tombstones and cleanups, signed', () => {
    const { events, manifest } = split(full);
    expect(events).toHaveLength(41); // 30 recent + the cleanup's audit event + 10 later
    const bodyText = full.slice(0, full.trimEnd().lastIndexOf('\n') + 1);
    expect(manifest).toMatchObject({
      version: 1,
      tenant_id: 'mf',
      count: 41,
      body_sha256: createHash('sha256').update(bodyText).digest('hex'),
      unsealed: [],
      consistency: { from: before.tree_size },
    });
    expect(manifest.checkpoint.tree_size).toBe(71);
    expect(manifest.leaf_indexes).toHaveLength(41);
    expect(manifest.tombstones).toHaveLength(30);
    expect(manifest.tombstones.every((tomb: { leaf_index: number }) => tomb.leaf_index % 2 === 1)).toBe(true);
    expect(manifest.cleanups).toHaveLength(1);
    expect(manifest.cleanups[0]).toMatchObject({ deleted_count: 30, audit_event: { action: 'logs.cleanup' }, audit_leaf_index: 60 });
    expect(manifest.signed_note).toMatch(/^logserver\/mf\nexport-manifest\n/);
  });

  it('says intact after the cleanup of half the tenant, against the checkpoint taken before it too', async () => {
    const { code, report } = await checkExport(full, '--trusted-checkpoint', join(dir, 'trusted.txt'));
    expect(report).toMatchObject({
      status: 'intact',
      checkpoint: 71,
      events_in_export: 41,
      events_verified: 41,
      events_unsealed: 0,
      tombstones_honoured: 30,
      manifest_signed: true,
      problem_count: 0,
    });
    expect(code).toBe(0);
    // Without trusted_size the manifest carries no consistency proof, and the auditor is told how to get one.
    await server.seal(); // the export above is recorded as an audit event: sealed, so the next export proves it too
    const plain = (await call(`${server.url}/api/v1/logs/export?manifest=true`, { token: admin })).text;
    const missing = await checkExport(plain, '--trusted-checkpoint', join(dir, 'trusted.txt'));
    expect(missing.report.first_problem).toMatchObject({ kind: 'consistency' });
    expect(await checkExport(plain)).toMatchObject({ code: 0, report: { status: 'intact' } });
  });

  it('proves a filtered export (its events sparse in the tree) and a newest-first one', async () => {
    for (const query of ['action=recent&resource_id=4', 'action=later', 'sort=desc', 'resource_type=r&from=2025-01-01T00:00:00Z']) {
      await server.seal(); // each export's own audit event, so that sort=desc (everything) is covered
      const text = (await call(`${server.url}/api/v1/logs/export?manifest=true&${query}`, { token: admin })).text;
      const { code, report } = await checkExport(text);
      expect({ query, code, status: report.status, problems: report.problems }).toEqual({ query, code: 0, status: 'intact', problems: [] });
    }
  });

  it('reports a changed event, a re-hashed one, a line left out, an edited tombstone and a forged cleanup', async () => {
    const { events, manifest } = split(full);
    // A field changed, its hash kept.
    const changed = events.map((event, at) => (at === 5 ? { ...event, resource_id: 'forged' } : event));
    const one = await checkExport(join_(changed, manifest));
    expect(one.code).toBe(1);
    expect(one.report.problems.map((p: { kind: string }) => p.kind)).toEqual(expect.arrayContaining(['body', 'changed', 'tree']));
    // A field changed and the hash, body SHA-256 and count redone: the tree and the manifest's signature still say no.
    const rehashed = { ...events[5], resource_id: 'forged' };
    rehashed.hash = tlog.eventHash(rehashed);
    const edited = events.map((event, at) => (at === 5 ? rehashed : event));
    const editedBody = `${edited.map((e) => JSON.stringify(e)).join('\n')}\n`;
    const two = await checkExport(join_(edited, { ...manifest, body_sha256: createHash('sha256').update(editedBody).digest('hex') }));
    expect(two.report.status).toBe('tampered');
    expect(two.report.problems.map((p: { kind: string }) => p.kind).sort()).toEqual(['manifest', 'tree']);
    // A line left out.
    const three = await checkExport(join_(events.slice(1), manifest));
    expect(three.report.problems.map((p: { kind: string }) => p.kind)).toContain('body');
    // A tombstone moved outside its cleanup's time range.
    const tombstones = manifest.tombstones.map((tomb: object, at: number) =>
      at === 0 ? { ...tomb, timestamp: '2022-01-01T00:00:00.000Z' } : tomb,
    );
    const four = await checkExport(join_(events, { ...manifest, tombstones }));
    expect(four.report.problems.find((p: { kind: string }) => p.kind === 'removed').detail).toContain('deleted before 2021-01-01');
    // A cleanup whose record was edited to cover more than its audit event says.
    const cleanups = [{ ...manifest.cleanups[0], before: '2030-01-01T00:00:00.000Z' }];
    const five = await checkExport(join_(events, { ...manifest, cleanups }));
    expect(five.report.problems.find((p: { kind: string }) => p.kind === 'removed').detail).toContain('does not record it');
    // The checkpoint rolled back to a size before the trusted one.
    const six = await checkExport(
      join_(events, { ...manifest, consistency: { from: before.tree_size, proof: [] } }),
      '--trusted-checkpoint',
      join(dir, 'trusted.txt'),
    );
    expect(six.report.problems.map((p: { kind: string }) => p.kind)).toEqual(expect.arrayContaining(['split view']));
  });

  it('signs its cleanups, and reports one written straight into the store (unsigned) by verify and by verify-offline', async () => {
    const tenant = 'mf-forged';
    const token = await server.token(tenant, 'admin');
    await call(`${server.url}/api/v1/logs/bulk`, { token, body: interleavedOldAndRecent() });
    await server.seal();
    const real = await call(`${server.url}/api/v1/logs/cleanup?before=2020-01-04T00:00:00Z`, { method: 'DELETE', token });
    expect(real.body.data).toEqual({ deleted_count: 3 });
    expect(await forgeUnsignedCleanup(server, tenant, '2020-01-08T00:00:00.000Z')).toBe(4);
    await server.seal();
    const text = (await call(`${server.url}/api/v1/logs/export?manifest=true&sort=asc`, { token })).text;
    const { manifest } = split(text);
    const signed = manifest.cleanups.find((cleanup: { deleted_count: number }) => cleanup.deleted_count === 3);
    expect(signed.audit_event.metadata.signature).toMatchObject({ kid: expect.any(String), sig: expect.any(String) });

    const offline = await checkExport(text);
    expect(offline.code).toBe(1);
    const removed = offline.report.problems.filter((p: { kind: string }) => p.kind === 'removed');
    expect(removed).toHaveLength(4);
    expect(removed[0].detail).toContain('is not signed, but the server has signed its request cleanups since leaf');
    expect(offline.report.tombstones_honoured).toBe(3);

    const verify = (await call(`${server.url}/api/v1/logs/verify`, { token })).body.data;
    expect(verify).toMatchObject({ status: 'tampered', deleted_by_cleanup: 3, problems: { removed: 4 } });
    expect(verify.cleanup_problems).toEqual([
      { cleanup_id: expect.any(Number), reason: expect.stringContaining('is not signed, but the server has signed its request cleanups') },
    ]);
  });

  it('lists an event not sealed yet as unsealed: verify-offline says unproven', async () => {
    const late = (await call(`${server.url}/api/v1/logs`, { token: admin, body: { action: 'unsealed', resource_type: 'r' } })).body.data;
    const text = (await call(`${server.url}/api/v1/logs/export?manifest=true&action=unsealed`, { token: admin })).text;
    expect(split(text).manifest.unsealed).toEqual([late.id]);
    const { code, report } = await checkExport(text);
    expect({ code, status: report.status, events_unsealed: report.events_unsealed }).toEqual({
      code: 1,
      status: 'unproven',
      events_unsealed: 1,
    });
    await server.seal();
  });

  it('refuses what it cannot serve with a reason: CSV, trusted_size alone or beyond the log, more than 10 000 events', async () => {
    const csv = await call(`${server.url}/api/v1/logs/export?manifest=true&format=csv`, { token: admin });
    expect(csv.status).toBe(422);
    expect(csv.text).toContain('manifest=true needs format=ndjson');
    expect((await call(`${server.url}/api/v1/logs/export?trusted_size=3`, { token: admin })).status).toBe(422);
    const beyond = await call(`${server.url}/api/v1/logs/export?manifest=true&trusted_size=100000`, { token: admin });
    expect(beyond.status).toBe(409);
    expect(beyond.body.msg).toContain('beyond the newest checkpoint');
    const big = await server.token('mf-big', 'admin');
    for (let batch = 0; batch < 11; batch++)
      await call(`${server.url}/api/v1/logs/bulk`, {
        token: big,
        body: Array.from({ length: 1000 }, () => ({ action: 'a', resource_type: 'r' })),
      });
    const tooMany = await call(`${server.url}/api/v1/logs/export?manifest=true`, { token: big });
    expect(tooMany.status).toBe(422);
    expect(tooMany.text).toContain('at most 10000');
    expect((await call(`${server.url}/api/v1/logs/export?manifest=true&to=2000-01-01T00:00:00Z`, { token: big })).status).toBe(200);
  }, 60_000);
});
