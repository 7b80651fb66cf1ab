import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { makeEvent, seededRandom } from '@logserver/testing/events';
import { expectOneChain } from '@logserver/testing/one-chain';
import { describe, expect, it } from 'vitest';
import { KeyRing } from '../../src/integrity/keyring.js';
import { Sealer } from '../../src/integrity/sealer.js';
import { generateSigningKeyPem, signingKeyFromPem } from '../../src/integrity/signing-key.js';
import { verifyTenantLog } from '../../src/integrity/verify.js';
import { SqliteIntegrityStore } from '../../src/sqlite/integrity-store.js';
import { SqliteLogStore } from '../../src/sqlite/log-store.js';
import { tenantOf } from '../../src/store/tenant-id.js';

const A = tenantOf({ tenant: 'tenant-a' });
const B = tenantOf({ tenant: 'tenant-b' });
const pem = generateSigningKeyPem();
const key = signingKeyFromPem(pem);
const publicKey = KeyRing.single('logserver', key.publicKeyPem);
const freshFile = () => join(mkdtempSync(join(tmpdir(), 'logserver-sealing-')), 'logserver.db');

async function open(path: string) {
  const logs = SqliteLogStore.open(path);
  const integrity = SqliteIntegrityStore.open(path);
  const close = async () => {
    await integrity.close();
    await logs.close();
  };
  return { logs, integrity, close };
}

describe('sealing', () => {
  it('verifies an untouched log of 100 000 events', async () => {
    const store = await open(freshFile());
    const random = seededRandom(7);
    for (let batch = 0; batch < 20; batch++) {
      await store.logs.append(
        A,
        Array.from({ length: 5_000 }, () => makeEvent(A, {}, random)),
      );
    }
    const sealed = await new Sealer({ store: store.integrity, key }).sealAll();
    expect(sealed).toEqual({ digests: 10, events: 100_000, skipped: 0 });
    const report = await verifyTenantLog(store.integrity, publicKey, A);
    expect(report).toMatchObject({
      status: 'intact',
      checkpoints_checked: 10,
      events_sealed: 100_000,
      events_verified: 100_000,
      problems: { changed: 0, removed: 0, inserted: 0, reordered: 0 },
    });
    await store.close();
  }, 120_000);

  it('seals an event committed after a round in the next round', async () => {
    const store = await open(freshFile());
    const sealer = new Sealer({ store: store.integrity, key });
    await store.logs.append(A, [makeEvent(A), makeEvent(A)]);
    await store.logs.append(B, [makeEvent(B)]);
    expect(await sealer.sealAll()).toEqual({ digests: 2, events: 3, skipped: 0 });
    expect(await sealer.sealAll()).toEqual({ digests: 0, events: 0, skipped: 0 });
    const late = makeEvent(A, { timestamp: '2020-01-01T00:00:00.000Z' });
    await store.logs.append(A, [late]);
    expect(await sealer.sealAll()).toEqual({ digests: 1, events: 1, skipped: 0 });
    const [, second] = await expectOneChain(store.integrity, A, 3);
    expect(second).toMatchObject({ tree_size: 3, count: 1, first_event_id: late.id, last_event_id: late.id });
    await store.close();
  });

  it('keeps one chain across restarts', async () => {
    const path = freshFile();
    for (let restart = 0; restart < 3; restart++) {
      const store = await open(path);
      await store.logs.append(
        A,
        Array.from({ length: 7 }, () => makeEvent(A)),
      );
      await new Sealer({ store: store.integrity, key }).sealAll();
      await store.close();
    }
    const store = await open(path);
    const digests = await expectOneChain(store.integrity, A, 21);
    expect(digests).toHaveLength(3);
    expect(await verifyTenantLog(store.integrity, publicKey, A)).toMatchObject({
      status: 'intact',
      checkpoints_checked: 3,
      events_verified: 21,
    });
    await store.close();
  });

  it('keeps one chain when two sealers in one process race, even with leases that never hold', async () => {
    const path = freshFile();
    const store = await open(path);
    const other = SqliteIntegrityStore.open(path);
    // leaseMs 0: every lease is expired at once, so only the compare-and-append stands between them.
    const sealers = [
      new Sealer({ store: store.integrity, key, leaseMs: 0, maxEventsPerDigest: 7 }),
      new Sealer({ store: other, key, leaseMs: 0, maxEventsPerDigest: 7 }),
    ];
    let appended = 0;
    for (let round = 0; round < 30; round++) {
      const count = 1 + (round % 9);
      await store.logs.append(
        A,
        Array.from({ length: count }, () => makeEvent(A)),
      );
      appended += count;
      await Promise.all(sealers.map((sealer) => sealer.sealAll()));
    }
    await sealers[0]?.sealAll();
    await expectOneChain(store.integrity, A, appended);
    expect((await verifyTenantLog(store.integrity, publicKey, A)).status).toBe('intact');
    await other.close();
    await store.close();
  });

  it('keeps one chain when two worker processes seal the same file while events arrive', async () => {
    const path = freshFile();
    const store = await open(path);
    const script = join(import.meta.dirname, 'fixtures', 'seal-loop.ts');
    const workers = [0, 1].map(() => {
      const child = spawn(process.execPath, ['--conditions=development', '--import', 'tsx', script, path], {
        env: { ...process.env, INTEGRITY_SIGNING_KEY: pem },
        stdio: ['pipe', 'pipe', 'inherit'],
      });
      const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
      return { child, lines };
    });
    for (const worker of workers) expect((await worker.lines.next()).value).toBe('ready');
    // Each batch waits until one of the workers sealed it, so both get turns at the lease.
    let appended = 0;
    for (let round = 0; round < 30; round++) {
      await store.logs.append(
        A,
        Array.from({ length: 13 }, () => makeEvent(A)),
      );
      await store.logs.append(
        B,
        Array.from({ length: 3 }, () => makeEvent(B)),
      );
      appended += 13;
      const unsealed = async (tenant: typeof A) =>
        (await store.integrity.sealable(tenant, (await store.integrity.latestCheckpoint(tenant))?.last_position ?? null, 1)).length;
      while ((await unsealed(A)) + (await unsealed(B)) > 0) await new Promise((resolve) => setTimeout(resolve, 2));
    }
    const results = await Promise.all(
      workers.map(async (worker) => {
        worker.child.stdin.end();
        return JSON.parse((await worker.lines.next()).value as string) as { digests: number; events: number };
      }),
    );
    await expectOneChain(store.integrity, A, appended);
    expect(results.reduce((sum, result) => sum + result.events, 0)).toBe(appended + 90);
    expect(results.map((result) => result.digests > 0)).toEqual([true, true]);
    expect((await verifyTenantLog(store.integrity, publicKey, A)).status).toBe('intact');
    expect((await verifyTenantLog(store.integrity, publicKey, B)).status).toBe('intact');
    await store.close();
  }, 60_000);
});
