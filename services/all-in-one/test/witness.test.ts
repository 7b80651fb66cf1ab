import { execFile } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { signCheckpoint } from '@logserver/shared/integrity/checkpoint';
import { signingKeyFromPem } from '@logserver/shared/integrity/signing-key';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, type RunningServer, startAllInOne } from '../../../test/support/all-in-one.js';

const script = join(import.meta.dirname, '../../../scripts/witness.mjs');
const run = async (...args: string[]) => {
  try {
    const { stdout } = await promisify(execFile)(process.execPath, [script, ...args]);
    return { code: 0, out: JSON.parse(stdout) };
  } catch (error) {
    const failed = error as { code: number; stdout: string };
    return { code: failed.code, out: JSON.parse(failed.stdout) };
  }
};

describe('scripts/witness.mjs against a running server', () => {
  let server: RunningServer;
  let dir: string;
  let args: string[];
  let writer: string;
  const post = async (count: number) => {
    const body = Array.from({ length: count }, (_, index) => ({ action: 'update', resource_type: 'invoice', resource_id: String(index) }));
    await call(`${server.url}/api/v1/logs/bulk`, { token: writer, body });
    await server.seal();
  };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'logserver-witness-'));
    const keyPath = join(dir, 'witness.pem');
    writeFileSync(keyPath, generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }));
    const vkey = (
      await promisify(execFile)(process.execPath, [script, 'vkey', '--key', keyPath, '--name', 'witness.example'])
    ).stdout.trim();
    expect(vkey).toMatch(/^witness\.example\+[0-9a-f]{8}\+/);
    // SQLite only: the split view is staged by rewriting the checkpoint in the file.
    server = await startAllInOne({ SEAL_INTERVAL: '0', INTEGRITY_WITNESS_KEYS: vkey, STORE: 'sqlite' });
    writer = await server.token('acme', 'writer');
    args = [
      '--url',
      server.url,
      '--token',
      await server.token('acme', 'auditor'),
      '--key',
      keyPath,
      '--name',
      'witness.example',
      '--state',
      join(dir, 'state.json'),
    ];
  });
  afterAll(() => server.close());

  it('cosigns the first checkpoint, then one consistent with it; the server stores both cosignatures and verify stays intact', async () => {
    await post(10);
    const first = await run(...args);
    expect(first).toEqual({
      code: 0,
      out: expect.objectContaining({ status: 'cosigned', origin: 'logserver/acme', size: 10, previous: null }),
    });
    await post(7);
    const second = await run(...args);
    expect(second.out).toMatchObject({ status: 'cosigned', size: 17, previous: 10 });
    const latest = (await call(`${server.url}/api/v1/integrity/checkpoints/latest`, { token: await server.token('acme', 'viewer') })).body
      .data;
    expect(latest.cosignatures).toHaveLength(1);
    expect(latest.cosignatures[0]).toMatch(/^\u2014 witness\.example /);
    expect(latest.signed_note.endsWith(`${latest.cosignatures[0]}\n`)).toBe(true);
    const report = (await call(`${server.url}/api/v1/logs/verify`, { token: await server.token('acme', 'auditor') })).body.data;
    expect(report).toMatchObject({ status: 'intact', tree_size: 17 });
  });

  it('refuses a split view (a checkpoint not consistent with the one it cosigned), and verify names it too', async () => {
    await post(5);
    // The log, signing key in hand, serves a newest checkpoint over another tree.
    const raw = new Database(join(server.dataDir, 'logserver.db'));
    const row = raw
      .prepare("SELECT checkpoint FROM integrity_checkpoints WHERE tenant_id = 'acme' ORDER BY tree_size DESC LIMIT 1")
      .get() as {
      checkpoint: string;
    };
    const checkpoint = JSON.parse(row.checkpoint);
    const key = signingKeyFromPem(readFileSync(join(server.dataDir, 'integrity-signing-key.pem'), 'utf8'));
    const otherRoot = Buffer.alloc(32, 7);
    const note = signCheckpoint(
      { name: 'logserver', rawPublicKey: key.rawPublicKey, sign: (data) => key.signBytes(data) },
      { origin: 'logserver/acme', treeSize: checkpoint.tree_size, rootHash: otherRoot, time: checkpoint.time },
    );
    raw
      .prepare("UPDATE integrity_checkpoints SET checkpoint = ? WHERE tenant_id = 'acme' AND tree_size = ?")
      .run(JSON.stringify({ ...checkpoint, note, root_hash: otherRoot.toString('hex') }), checkpoint.tree_size);
    raw.close();
    const refused = await run(...args);
    expect(refused.code).toBe(1);
    expect(refused.out).toEqual({
      status: 'refused',
      reason: 'split view: logserver/acme at size 22 is not consistent with size 17 that this witness cosigned',
    });
    const report = (await call(`${server.url}/api/v1/logs/verify`, { token: await server.token('acme', 'auditor') })).body.data;
    expect(report.status).toBe('tampered');
    expect(report.tree.first_break).toMatchObject({
      tree_size: 22,
      reason: 'its leaves, appended to the tree before it, do not give its root',
    });
  });

  it('refuses a rollback below the size it cosigned', async () => {
    const raw = new Database(join(server.dataDir, 'logserver.db'));
    raw.prepare("DELETE FROM integrity_checkpoints WHERE tenant_id = 'acme' AND tree_size > 10").run();
    raw.close();
    const refused = await run(...args);
    expect(refused.out).toEqual({ status: 'refused', reason: 'rollback: logserver/acme is at size 10, this witness cosigned size 17' });
    // verify knows the cosigned size 17 from the cosignature the witness left: the rollback shows there too.
    const report = (await call(`${server.url}/api/v1/logs/verify`, { token: await server.token('acme', 'auditor') })).body.data;
    expect(report.status).toBe('tampered');
    expect(report.tree.first_break.reason).toContain('rolled back');
  });
});
