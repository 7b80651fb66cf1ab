import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeEvent, seededRandom } from '@logserver/testing/events';
import { describe, expect, it } from 'vitest';
// The standalone verifier: it must accept the same checkpoints across the rotation, and refuse the same one.
import * as tlog from '../../../../scripts/tlog.mjs';
import { IntegrityGate } from '../../src/integrity/integrity-gate.js';
import { KeyRing, rotateJwks } from '../../src/integrity/keyring.js';
import { Sealer } from '../../src/integrity/sealer.js';
import { generateSigningKeyPem, type SigningKey, signingKeyFromPem } from '../../src/integrity/signing-key.js';
import { verifyTenantLog } from '../../src/integrity/verify.js';
import { SqliteIntegrityStore } from '../../src/sqlite/integrity-store.js';
import { SqliteLogStore } from '../../src/sqlite/log-store.js';
import { tenantOf } from '../../src/store/tenant-id.js';

const A = tenantOf({ tenant: 'tenant-a' });

describe('key rotation in the middle of 10 000 events', () => {
  it('verifies every checkpoint across the rotation, and refuses one signed by the old key after its window', async () => {
    const path = join(mkdtempSync(join(tmpdir(), 'logserver-rotation-')), 'logserver.db');
    const logs = SqliteLogStore.open(path);
    const integrity = SqliteIntegrityStore.open(path);
    const oldKey = signingKeyFromPem(generateSigningKeyPem());
    const newKey = signingKeyFromPem(generateSigningKeyPem());
    let current: SigningKey = oldKey;
    let clock = Date.parse('2026-01-01T00:00:00.000Z');
    const sealer = new Sealer({ store: integrity, key: () => current, maxEventsPerDigest: 1_000, now: () => new Date(clock) });
    const random = seededRandom(19);
    const append = async (count: number) => {
      for (let done = 0; done < count; done += 500) {
        await logs.append(
          A,
          Array.from({ length: 500 }, () => makeEvent(A, {}, random)),
        );
        clock += 1_000;
        await sealer.sealAll();
      }
    };
    await append(5_000);
    clock += 1_000;
    const rotatedAt = new Date(clock);
    const jwks = rotateJwks('logserver', null, oldKey, newKey, rotatedAt, 0);
    current = newKey;
    await append(5_000);
    const ring = KeyRing.fromJwks('logserver', jwks);
    const report = await verifyTenantLog(integrity, ring, A);
    expect(report).toMatchObject({ status: 'intact', tree_size: 10_000, events_verified: 10_000, checkpoints_checked: 20 });
    const checkpoints = await integrity.checkpoints(A, 0, 100);
    expect(new Set(checkpoints.map((checkpoint) => checkpoint.key_id))).toEqual(new Set([oldKey.keyId, newKey.keyId]));
    for (const checkpoint of checkpoints) expect('problem' in tlog.checkCheckpointNote(checkpoint.note, jwks, 'logserver')).toBe(false);

    // The old key leaks after the rotation and signs the next checkpoint: refused by verify and by the standalone code.
    await logs.append(A, [makeEvent(A, {}, random)]);
    clock += 60_000;
    current = oldKey;
    await sealer.sealAll();
    const forged = (await integrity.latestCheckpoint(A)) as NonNullable<Awaited<ReturnType<typeof integrity.latestCheckpoint>>>;
    expect(forged.key_id).toBe(oldKey.keyId);
    const refused = await verifyTenantLog(integrity, ring, A);
    expect(refused.status).toBe('tampered');
    expect(refused.tree.first_break).toEqual({
      tree_size: 10_001,
      reason: `it is signed by key ${oldKey.keyId} at ${forged.time}, after that key's window closed (${rotatedAt.toISOString()})`,
    });
    const offline = tlog.checkCheckpointNote(forged.note, jwks, 'logserver');
    expect('problem' in offline && offline.problem).toContain('after its window closed');

    await integrity.close();
    await logs.close();
  }, 120_000);
});

describe('IntegrityGate (DESIGN §9): what proof, consistency and verify requests may hold', () => {
  it('refuses a tenant over its bound at once, leaves other tenants their slots, and bounds the process', async () => {
    const gate = new IntegrityGate({ perTenant: 2, perProcess: 3, retryAfterSeconds: 1 });
    const release: (() => void)[] = [];
    const hold = (tenant: string) => gate.run(tenant, () => new Promise<void>((resolve) => release.push(resolve)));
    const a1 = hold('a');
    const a2 = hold('a');
    await expect(hold('a')).rejects.toMatchObject({
      statusCode: 429,
      message: 'Too many proof or verify requests for this tenant: retry in 1 s',
    });
    const b1 = hold('b');
    await expect(hold('c')).rejects.toMatchObject({
      statusCode: 429,
      message: 'Too many proof or verify requests on this server: retry in 1 s',
    });
    expect([gate.inUse(), gate.inUse('a'), gate.inUse('b')]).toEqual([3, 2, 1]);
    for (const done of release) done();
    await Promise.all([a1, a2, b1]);
    expect(gate.inUse()).toBe(0);
    // A failing request gives its slot back too.
    await expect(gate.run('a', async () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    expect(gate.inUse('a')).toBe(0);
  });
});
