import { createHash, verify as verifySignature } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { verifyMerklePath } from '@logserver/shared/integrity/merkle';
import Database from 'better-sqlite3';
import canonicalize from 'canonicalize';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { call, type RunningServer, startAllInOne } from '../../../test/support/all-in-one.js';

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

  it('proves a sealed event: its hash, Merkle path, digest and signature all check out without the server', async () => {
    await server.seal();
    const key = (await call(`${server.url}/api/v1/integrity/public-key`, { token: await server.token('acme', 'writer') })).body.data;
    expect(key.algorithm).toBe('Ed25519');
    const { body, status } = await call(`${server.url}/api/v1/logs/${events[7]?.id}/proof`, { token: viewer });
    expect(status).toBe(200);
    const { event, digest, leaf_index, tree_size, path } = body.data;
    const { hash, ...content } = event;
    expect(sha256(canonicalize(content) as string)).toBe(hash);
    expect([leaf_index, tree_size]).toEqual([7, 30]);
    const root = Buffer.from(digest.merkle_root, 'hex');
    expect(
      verifyMerklePath(
        Buffer.from(hash, 'hex'),
        leaf_index,
        tree_size,
        path.map((p: string) => Buffer.from(p, 'hex')),
        root,
      ),
    ).toBe(true);
    const { hash: digestHash, signature, ...digestBody } = digest;
    const signed = canonicalize(digestBody) as string;
    expect(sha256(signed)).toBe(digestHash);
    expect(verifySignature(null, Buffer.from(signed), key.public_key_pem, Buffer.from(signature, 'base64'))).toBe(true);
    expect(
      verifySignature(null, Buffer.from(signed.replace('"count":30', '"count":31')), key.public_key_pem, Buffer.from(signature, 'base64')),
    ).toBe(false);
  });

  it('lists only the caller’s tenant’s digests, paged, with leaves on request', async () => {
    const acme = await call(`${server.url}/api/v1/integrity/digests`, { token: viewer });
    expect(acme.body.meta).toEqual({ total: 1, page: 1, size: 20, pages: 1 });
    expect(acme.body.data).toEqual([expect.objectContaining({ tenant_id: 'acme', seq: 1, count: 30, prev_hash: null })]);
    expect(acme.body.data[0].leaves).toBeUndefined();
    const globex = await call(`${server.url}/api/v1/integrity/digests?leaves=true&size=5`, {
      token: await server.token('globex', 'auditor'),
    });
    expect(globex.body.data).toEqual([expect.objectContaining({ tenant_id: 'globex', count: 5 })]);
    expect(globex.body.data[0].leaves.ids).toHaveLength(5);
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
    expect(intact.body.data).toMatchObject({ status: 'intact', digests_checked: 1, events_verified: 30, events_unsealed: 0 });
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
      first_problem: { kind: 'changed', event_id: events[12]?.id, digest_seq: 1 },
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
      (await call(`${running.url}/api/v1/integrity/digests`, { token: await running.token('acme', 'auditor') })).body.data;
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
    expect(chain[1].prev_hash).toBe(chain[0].hash);
    expect(chain[1].key_id).toBe(chain[0].key_id);
    const report = (await call(`${second.url}/api/v1/logs/verify`, { token: await second.token('acme', 'auditor') })).body.data;
    expect(report).toMatchObject({ status: 'intact', digests_checked: 2, events_verified: 2 });
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
