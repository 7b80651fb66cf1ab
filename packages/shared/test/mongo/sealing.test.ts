import { makeEvent } from '@logserver/testing/events';
import { MingoMongoDatabase } from '@logserver/testing/mingo-mongo-database';
import { expectOneChain } from '@logserver/testing/one-chain';
import { describe, expect, it } from 'vitest';
import { KeyRing } from '../../src/integrity/keyring.js';
import { Sealer } from '../../src/integrity/sealer.js';
import { generateSigningKeyPem, signingKeyFromPem } from '../../src/integrity/signing-key.js';
import { verifyTenantLog } from '../../src/integrity/verify.js';
import { MongoIntegrityStore } from '../../src/mongo/integrity-store.js';
import { MongoLogStore } from '../../src/mongo/log-store.js';
import { tenantOf } from '../../src/store/tenant-id.js';

const A = tenantOf({ tenant: 'tenant-a' });
const B = tenantOf({ tenant: 'tenant-b' });
const key = signingKeyFromPem(generateSigningKeyPem());
const publicKey = KeyRing.single('logserver', key.publicKeyPem);
const options = { queryTimeoutMs: 5_000, pingTimeoutMs: 1_000 };

/** A process's stores on a shared database: a second open is a second worker, or the same one restarted. */
async function open(db: MingoMongoDatabase) {
  return { logs: await MongoLogStore.open(db, options), integrity: await MongoIntegrityStore.open(db) };
}

describe('sealing on MongoDB (mingo double)', () => {
  it('seals an event committed after a round, with an old timestamp, in the next round', async () => {
    const { logs, integrity } = await open(new MingoMongoDatabase());
    const sealer = new Sealer({ store: integrity, key });
    await logs.append(A, [makeEvent(A), makeEvent(A)]);
    await logs.append(B, [makeEvent(B)]);
    expect(await sealer.sealAll()).toEqual({ digests: 2, events: 3, skipped: 0 });
    expect(await sealer.sealAll()).toEqual({ digests: 0, events: 0, skipped: 0 });
    const late = makeEvent(A, { timestamp: '2020-01-01T00:00:00.000Z' });
    await logs.append(A, [late]);
    expect(await sealer.sealAll()).toEqual({ digests: 1, events: 1, skipped: 0 });
    const [, second] = await expectOneChain(integrity, A, 3);
    expect(second).toMatchObject({ tree_size: 3, count: 1, first_event_id: late.id, last_event_id: late.id });
  });

  it('keeps one chain across restarts and verifies 5 000 untouched events', async () => {
    const db = new MingoMongoDatabase();
    for (let restart = 0; restart < 3; restart++) {
      const { logs, integrity } = await open(db);
      await logs.append(
        A,
        Array.from({ length: restart === 0 ? 4_979 : 7 }, () => makeEvent(A)),
      );
      await new Sealer({ store: integrity, key }).sealAll();
      await integrity.close();
    }
    const { integrity } = await open(db);
    expect(await expectOneChain(integrity, A, 4_993)).toHaveLength(3);
    expect(await verifyTenantLog(integrity, publicKey, A)).toMatchObject({
      status: 'intact',
      checkpoints_checked: 3,
      events_verified: 4_993,
    });
    // The mingo double gives positions one updateOne at a time (about 30 s for 5 000 on a loaded 2-core machine).
  }, 120_000);

  it('keeps one chain when two workers race on one database, even with leases that never hold', async () => {
    const db = new MingoMongoDatabase();
    const one = await open(db);
    const two = await open(db);
    // leaseMs 0: every lease is expired at once, so only the unique (tenant_id, prev_size) index stands between them.
    const sealers = [
      new Sealer({ store: one.integrity, key, leaseMs: 0, maxEventsPerDigest: 7 }),
      new Sealer({ store: two.integrity, key, leaseMs: 0, maxEventsPerDigest: 7 }),
    ];
    let appended = 0;
    for (let round = 0; round < 30; round++) {
      const count = 1 + (round % 9);
      await (round % 2 === 0 ? one : two).logs.append(
        A,
        Array.from({ length: count }, () => makeEvent(A)),
      );
      appended += count;
      await Promise.all(sealers.map((sealer) => sealer.sealAll()));
    }
    await sealers[0]?.sealAll();
    await expectOneChain(one.integrity, A, appended);
    expect((await verifyTenantLog(two.integrity, publicKey, A)).status).toBe('intact');
  });

  it('names an event removed from, or slipped into, a sealed range of the logs collection', async () => {
    const db = new MingoMongoDatabase();
    const { logs, integrity } = await open(db);
    const events = Array.from({ length: 10 }, () => makeEvent(A));
    await logs.append(A, events);
    await new Sealer({ store: integrity, key }).sealAll();
    const collection = db.collection('logs');
    await collection.deleteMany({ id: { $eq: events[3]?.id } });
    expect(await verifyTenantLog(integrity, publicKey, A)).toMatchObject({
      status: 'tampered',
      first_problem: { kind: 'removed', event_id: events[3]?.id, digest_seq: null, leaf_index: 3 },
    });
    // A forged document placed inside the sealed range, position and all.
    const [fifth] = await collection.find({ id: { $eq: events[5]?.id } }).toArray();
    const intruder = makeEvent(A);
    await collection.insertMany(
      [
        {
          ...intruder,
          timestamp: new Date(intruder.timestamp),
          received_at: new Date(intruder.received_at),
          search_text: [],
          position: (fifth?.position as number) + 0.5,
        },
      ],
      { ordered: false },
    );
    const report = await verifyTenantLog(integrity, publicKey, A);
    expect(report.status).toBe('tampered');
    expect(report.problems).toMatchObject({ removed: 1, inserted: 1 });
  });
});
