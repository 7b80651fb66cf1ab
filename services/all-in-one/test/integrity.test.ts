import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import Database from 'better-sqlite3';
import canonicalize from 'canonicalize';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
// The standalone verifier: node:crypto and canonicalize only, nothing of the server.
import * as tlog from '../../../scripts/tlog.mjs';
import { call, type RunningServer, startAllInOne } from '../../../test/support/all-in-one.js';

const rotateScript = join(import.meta.dirname, '../../../scripts/rotate-signing-key.ts');
const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

describe('tamper evidence over HTTP', () => {
  let server: RunningServer;
  let admin: string;
  let auditor: string;
  let viewer: string;
  let events: { id: string; hash: string }[];

  beforeAll(async () => {
    server = await startAllInOne({ SEAL_INTERVAL: '0' });
    admin = await server.token('acme', 'admin');
    auditor = await server.token('acme', 'auditor');
    viewer = await server.token('acme', 'viewer');
    const body = Array.from({ length: 30 }, (_, index) => ({
      action: 'update',
      resource_type: 'invoice',
      resource_id: String(index),
      after: { total: index * 1.5 },
    }));
    events = (await call(`${server.url}/api/v1/logs/bulk`, { token: admin, body })).body.data;
    await call(`${server.url}/api/v1/logs/bulk`, { token: await server.token('globex', 'writer'), body: body.slice(0, 5) });
  });
  afterAll(() => server.close());

  it('returns each stored event with the SHA-256 of its RFC 8785 form', async () => {
    const { body } = await call(`${server.url}/api/v1/logs/${events[0]?.id}`, { token: viewer });
    const { hash, ...content } = body.data;
    expect(hash).toBe(sha256(canonicalize(content) as string));
    expect(hash).toBe(events[0]?.hash);
  });

  it('answers 409 for the proof of an event that is not sealed yet', async () => {
    const response = await call(`${server.url}/api/v1/logs/${events[0]?.id}/proof`, { token: viewer });
    expect(response.status).toBe(409);
    expect(response.body).toEqual({ code: 409, msg: `Log ${events[0]?.id} is not sealed yet: sealing is off on this server`, data: null });
  });

  it('proves a sealed event against a checkpoint with code that imports nothing of the server', async () => {
    await server.seal();
    const jwks = (await call(`${server.url}/api/v1/integrity/keys`, { token: await server.token('acme', 'writer') })).body;
    expect(jwks.keys).toEqual([expect.objectContaining({ kty: 'OKP', crv: 'Ed25519', alg: 'EdDSA', not_before: null, not_after: null })]);
    const { body, status } = await call(`${server.url}/api/v1/logs/${events[7]?.id}/proof`, { token: viewer });
    expect(status).toBe(200);
    const { event, checkpoint, leaf_index, tree_size, path, leaf_hash } = body.data;
    expect([leaf_index, tree_size, body.data.algorithm]).toEqual([7, 30, 'RFC9162-SHA256']);
    const { hash, ...content } = event;
    expect(sha256(canonicalize(content) as string)).toBe(hash);
    expect(tlog.eventLeafHash(hash, event.timestamp).toString('hex')).toBe(leaf_hash);
    const checked = tlog.checkCheckpointNote(checkpoint.note, jwks, 'logserver');
    if ('problem' in checked) throw new Error(checked.problem);
    expect(checked.checkpoint).toMatchObject({ origin: 'logserver/acme', size: 30 });
    expect(checkpoint.note.split('\n').slice(0, 3)).toEqual([
      'logserver/acme',
      '30',
      Buffer.from(checkpoint.root_hash, 'hex').toString('base64'),
    ]);
    const leaf = tlog.eventLeafHash(hash, event.timestamp);
    expect(tlog.verifyInclusion(leaf_index, tree_size, leaf, tlog.fromHex(path), checked.checkpoint.root)).toBe(true);
    expect(tlog.verifyInclusion(leaf_index + 1, tree_size, leaf, tlog.fromHex(path), checked.checkpoint.root)).toBe(false);
    const forged = checkpoint.note.replace('\n30\n', '\n31\n');
    expect('problem' in tlog.checkCheckpointNote(forged, jwks, 'logserver')).toBe(true);
  });

  it('lists checkpoints, gives the latest, and proves consistency between two sizes, for that tenant only', async () => {
    await call(`${server.url}/api/v1/logs/bulk`, { token: admin, body: [{ action: 'late', resource_type: 'invoice' }] });
    await server.seal();
    const list = await call(`${server.url}/api/v1/integrity/checkpoints?size=1&page=2`, { token: viewer });
    expect(list.body.meta).toEqual({ total: 2, page: 2, size: 1, pages: 2 });
    expect(list.body.data).toEqual([expect.objectContaining({ tenant_id: 'acme', tree_size: 31, count: 1, cosignatures: [] })]);
    expect(list.body.data[0].frontier).toBeUndefined();
    const latest = (await call(`${server.url}/api/v1/integrity/checkpoints/latest`, { token: viewer })).body.data;
    expect(latest.tree_size).toBe(31);
    const first = (await call(`${server.url}/api/v1/integrity/checkpoints`, { token: viewer })).body.data[0];
    const consistency = await call(`${server.url}/api/v1/integrity/consistency?from=30`, { token: viewer });
    expect(consistency.body.data).toMatchObject({ from: 30, to: 31 });
    expect(
      tlog.verifyConsistency(
        30,
        31,
        Buffer.from(first.root_hash, 'hex'),
        Buffer.from(latest.root_hash, 'hex'),
        tlog.fromHex(consistency.body.data.proof),
      ),
    ).toBe(true);
    expect(
      tlog.verifyConsistency(
        29,
        31,
        Buffer.from(first.root_hash, 'hex'),
        Buffer.from(latest.root_hash, 'hex'),
        tlog.fromHex(consistency.body.data.proof),
      ),
    ).toBe(false);
    const old = await call(`${server.url}/api/v1/logs/${events[3]?.id}/proof?checkpoint=30`, { token: viewer });
    expect(old.body.data).toMatchObject({ tree_size: 30, leaf_index: 3 });
    expect((await call(`${server.url}/api/v1/logs/${events[3]?.id}/proof?checkpoint=29`, { token: viewer })).status).toBe(404);
    expect((await call(`${server.url}/api/v1/integrity/consistency?from=32`, { token: viewer })).status).toBe(409);
    expect((await call(`${server.url}/api/v1/integrity/consistency?from=3&to=2`, { token: viewer })).status).toBe(422);
    const globex = (await call(`${server.url}/api/v1/integrity/checkpoints/latest`, { token: await server.token('globex', 'viewer') })).body
      .data;
    expect(globex).toMatchObject({ tenant_id: 'globex', origin: 'logserver/globex', tree_size: 5 });
  });

  it('refuses a cosignature from a key that is not a configured witness', async () => {
    const response = await call(`${server.url}/api/v1/integrity/checkpoints/30/cosignatures`, {
      token: auditor,
      body: { cosignature: '\u2014 witness AAAA' },
    });
    expect(response.status).toBe(422);
    expect(response.body.data[0].msg).toContain('INTEGRITY_WITNESS_KEYS');
    expect(
      (await call(`${server.url}/api/v1/integrity/checkpoints/30/cosignatures`, { token: viewer, body: { cosignature: 'x' } })).status,
    ).toBe(403);
  });

  it('lists only the caller’s tenant’s digest-v1 digests (none on a log that began with checkpoints)', async () => {
    const acme = await call(`${server.url}/api/v1/integrity/digests`, { token: viewer });
    expect(acme.body.meta).toEqual({ total: 0, page: 1, size: 20, pages: 0 });
    const proof = await call(`${server.url}/api/v1/logs/${events[0]?.id}/proof`, { token: await server.token('globex', 'viewer') });
    expect(proof.status).toBe(404);
    expect(proof.body).toEqual({ code: 404, msg: 'Log not found', data: null });
  });

  it('refuses bad parameters with a 422 that says what is wrong', async () => {
    const badTime = await call(`${server.url}/api/v1/logs/verify?from=yesterday`, { token: auditor });
    expect(badTime.status).toBe(422);
    expect(badTime.body.data[0].loc).toContain('from');
    expect((await call(`${server.url}/api/v1/integrity/digests?size=500`, { token: viewer })).status).toBe(422);
    expect((await call(`${server.url}/api/v1/integrity/digests?leaves=true&size=50`, { token: viewer })).status).toBe(422);
    expect((await call(`${server.url}/api/v1/logs/verify?tenant=globex`, { token: auditor })).status).toBe(422);
  });

  it('verifies intact, then names an event changed in the store behind its back', async () => {
    const intact = await call(`${server.url}/api/v1/logs/verify`, { token: auditor });
    expect(intact.body.data).toMatchObject({
      status: 'intact',
      checkpoints_checked: 2,
      tree_size: 31,
      events_verified: 31,
      events_unsealed: 0,
    });
    if (server.mongoDatabase) {
      // The MongoDB pass of make test: the change is made in the logs collection, past the API.
      const changed = await server.mongoDatabase
        .collection('logs')
        .updateOne({ id: { $eq: events[12]?.id } }, { $set: { after: { total: 0 } } });
      expect(changed.modifiedCount).toBe(1);
    } else {
      const raw = new Database(join(server.dataDir, 'logserver.db'));
      raw.prepare('UPDATE logs SET after = \'{"total":0}\' WHERE id = ?').run(events[12]?.id);
      raw.close();
    }
    const tampered = await call(`${server.url}/api/v1/logs/verify`, { token: admin });
    expect(tampered.body.data).toMatchObject({
      status: 'tampered',
      first_problem: { kind: 'changed', event_id: events[12]?.id, leaf_index: 12 },
    });
    expect((await call(`${server.url}/api/v1/logs/verify`, { token: await server.token('globex', 'auditor') })).body.data.status).toBe(
      'intact',
    );
  });
});

describe('sealing on the timer and across restarts of the server', () => {
  it('seals on SEAL_INTERVAL and keeps chaining after a restart on the same data folder', async () => {
    const first = await startAllInOne({ SEAL_INTERVAL: '0.05' });
    const env = { SEAL_INTERVAL: '0.05', DATA_DIR: first.dataDir };
    const post = async (running: RunningServer) =>
      call(`${running.url}/api/v1/logs`, {
        token: await running.token('acme', 'writer'),
        body: { action: 'login', resource_type: 'session' },
      });
    const digests = async (running: RunningServer) =>
      (await call(`${running.url}/api/v1/integrity/checkpoints`, { token: await running.token('acme', 'auditor') })).body.data;
    const waitForDigests = (running: RunningServer, count: number) =>
      vi.waitFor(
        async () => {
          const list = await digests(running);
          expect(list.length).toBeGreaterThanOrEqual(count);
          return list;
        },
        { timeout: 30_000, interval: 20 },
      );
    await post(first);
    await waitForDigests(first, 1);
    const signingKey = readFileSync(join(first.dataDir, 'integrity-signing-key.pem'), 'utf8');
    await first.close();

    // AUTH_SECRET differs per start in the test helper; the signing key stays in the data folder.
    // On the MongoDB pass the restarted server gets the same database, as a restart against one server would.
    const second = await startAllInOne(
      first.mongoDatabase ? { ...env, STORE: 'mongodb', MONGODB_URI: 'mongodb://127.0.0.1:9/never-dialled' } : env,
      first.mongoDatabase ? { mongoDatabase: first.mongoDatabase } : {},
    );
    expect(readFileSync(join(second.dataDir, 'integrity-signing-key.pem'), 'utf8')).toBe(signingKey);
    await post(second);
    const chain = await waitForDigests(second, 2);
    expect(chain.map((checkpoint: { tree_size: number }) => checkpoint.tree_size)).toEqual([1, 2]);
    expect(chain[1].key_id).toBe(chain[0].key_id);
    const report = (await call(`${second.url}/api/v1/logs/verify`, { token: await second.token('acme', 'auditor') })).body.data;
    expect(report).toMatchObject({ status: 'intact', checkpoints_checked: 2, events_verified: 2 });
    await second.close();
  });
});

describe('cleanup through the API, then verify', () => {
  it('reports events deleted by DELETE /api/v1/logs/cleanup as cleanup, naming its logs.cleanup audit event', async () => {
    const server = await startAllInOne({ SEAL_INTERVAL: '0' });
    const admin = await server.token('acme', 'admin');
    const old = Array.from({ length: 10 }, (_, index) => ({
      action: 'update',
      resource_type: 'invoice',
      timestamp: `2020-01-0${1 + (index % 9)}T00:00:00Z`,
    }));
    const recent = Array.from({ length: 5 }, () => ({ action: 'update', resource_type: 'invoice' }));
    await call(`${server.url}/api/v1/logs/bulk`, { token: admin, body: [...old, ...recent] });
    await server.seal();
    const cleanup = await call(`${server.url}/api/v1/logs/cleanup?before=2021-01-01T00:00:00Z`, { method: 'DELETE', token: admin });
    expect(cleanup.body.data).toEqual({ deleted_count: 10 });
    const audit = await call(`${server.url}/api/v1/logs?action=logs.cleanup`, { token: admin });
    expect(audit.body.data).toHaveLength(1);
    const report = (await call(`${server.url}/api/v1/logs/verify`, { token: admin })).body.data;
    expect(report).toMatchObject({ status: 'intact', deleted_by_cleanup: 10, events_verified: 5, events_unsealed: 1 });
    expect(report.cleanups).toEqual([expect.objectContaining({ deleted_count: 10, audit_event_id: audit.body.data[0].id })]);
    await server.seal();
    expect((await call(`${server.url}/api/v1/logs/verify`, { token: admin })).body.data).toMatchObject({
      status: 'intact',
      events_verified: 6,
      events_unsealed: 0,
    });
    await server.close();
  });
});

describe('make rotate-signing-key on a running server', () => {
  it('signs with the new key from the next seal, publishes both windows, and everything verifies', async () => {
    const server = await startAllInOne({ SEAL_INTERVAL: '0' });
    const admin = await server.token('acme', 'admin');
    await call(`${server.url}/api/v1/logs/bulk`, { token: admin, body: [{ action: 'a', resource_type: 'r' }] });
    await server.seal();
    const rotated = await promisify(execFile)(process.execPath, ['--conditions=development', '--import', 'tsx', rotateScript], {
      env: { ...process.env, DATA_DIR: server.dataDir },
    });
    expect(rotated.stdout).toContain('signs from now');
    await call(`${server.url}/api/v1/logs/bulk`, { token: admin, body: [{ action: 'b', resource_type: 'r' }] });
    await server.seal();
    const jwks = (await call(`${server.url}/api/v1/integrity/keys`, { token: admin })).body;
    expect(jwks.keys).toHaveLength(2);
    expect(jwks.keys[0].not_after).not.toBeNull();
    expect(jwks.keys[1]).toMatchObject({ not_after: null, not_before: expect.any(String) });
    const checkpoints = (await call(`${server.url}/api/v1/integrity/checkpoints`, { token: admin })).body.data;
    expect(checkpoints.map((checkpoint: { key_id: string }) => checkpoint.key_id)).toEqual([jwks.keys[0].kid, jwks.keys[1].kid]);
    for (const checkpoint of checkpoints) expect('problem' in tlog.checkCheckpointNote(checkpoint.note, jwks, 'logserver')).toBe(false);
    expect((await call(`${server.url}/api/v1/logs/verify`, { token: admin })).body.data).toMatchObject({ status: 'intact', tree_size: 2 });
    await server.close();
  });
});
