import { randomBytes } from 'node:crypto';
import { makeEvent, seededRandom } from '@logserver/testing/events';
import { MingoMongoDatabase } from '@logserver/testing/mingo-mongo-database';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { deliveryProblems, Receiver } from '../../../../test/support/stream-receivers.js';
import { openMongoStores } from '../../src/mongo/stores.js';
import { tenantOf } from '../../src/store/tenant-id.js';
import { type Stores, storeSettings } from '../../src/stores.js';
import { AddressPolicy } from '../../src/streams/address-policy.js';
import { DEFAULT_STREAM_SETTINGS, type StreamSettings } from '../../src/streams/config.js';
import { StreamDeliverer } from '../../src/streams/deliverer.js';
import { StreamAdmin } from '../../src/streams/destinations.js';
import { SecretBox } from '../../src/streams/secret-box.js';

// Delivery end to end on the MongoDB store (the mingo double): the commit log's `position`, the
// checkpoint, the lease and the dead-letter counter are the MongoDB adapters', not SQLite's.
const acme = tenantOf({ tenant: 'acme' });
const globex = tenantOf({ tenant: 'globex' });
const TOKEN = 'hec-token';
const random = seededRandom(2121);
const box = new SecretBox(randomBytes(32));
const policy = AddressPolicy.fromSetting('127.0.0.1');
const settings: StreamSettings = {
  ...DEFAULT_STREAM_SETTINGS,
  leaseMs: 5000,
  intervalMs: 20,
  retries: 30,
  retryMinMs: 5,
  retryMaxMs: 20,
  batchMaxEvents: 20,
};

const db = new MingoMongoDatabase();
const mongo = storeSettings.parse({ STORE: 'mongodb', MONGODB_URI: 'mongodb://127.0.0.1:9/never-dialled' });
/** One process's stores on the shared database: a restart opens a new set. */
const openProcess = () => openMongoStores(mongo, { log: pino({ level: 'silent' }), mongoDatabase: db });

let first: Stores;
let receiver: Receiver;

beforeAll(async () => {
  first = await openProcess();
  receiver = await Receiver.start('splunk_hec', TOKEN);
});
afterAll(async () => {
  await receiver.close();
});

async function commitOrder(stores: Stores): Promise<string[]> {
  return (await stores.streamLog.after(acme, 0, {}, 1_000_000)).map((row) => row.event.id);
}

describe('StreamDeliverer on the MongoDB store (mingo double)', () => {
  it('delivers in commit order, and after a restart goes on from the checkpoint: none lost, duplicates only for lost answers', async () => {
    const admin = new StreamAdmin({
      store: first.streams,
      streamLog: first.streamLog,
      box,
      policy,
      settings,
      newId: () => `dest-${Math.random().toString(36).slice(2)}`,
      now: () => new Date(),
    });
    const made = await admin.create(acme, { kind: 'splunk_hec', name: 'hec', url: receiver.url, token: TOKEN, start: 'beginning' });
    const before = new StreamDeliverer({ store: first.streams, streamLog: first.streamLog, box, policy, settings, holder: 'process-1' });
    before.start();
    await first.logs.append(
      acme,
      Array.from({ length: 60 }, () => makeEvent(acme, {}, random)),
    );
    // Another tenant's events never reach acme's destination.
    await first.logs.append(
      globex,
      Array.from({ length: 10 }, () => makeEvent(globex, {}, random)),
    );
    await vi.waitFor(() => expect(receiver.uniqueEvents).toBe(60), { timeout: 10_000 });
    await before.stop();
    // Stopped after its last batch was answered (up: every answer arrives): the checkpoint covers all 60.
    expect((await first.streams.progress(made.id))?.delivered).toBe(60);
    expect(deliveryProblems(receiver.batches, await commitOrder(first))).toEqual([]);

    // The process restarts: new stores on the same database, a new deliverer, while the receiver
    // fails 30 % of the requests (half of them after taking the batch: a lost answer).
    await first.logs.append(
      acme,
      Array.from({ length: 80 }, () => makeEvent(acme, {}, random)),
    );
    receiver.mode = 'flaky';
    const second = await openProcess();
    const after = new StreamDeliverer({ store: second.streams, streamLog: second.streamLog, box, policy, settings, holder: 'process-2' });
    after.start();
    try {
      const committed = await commitOrder(second);
      expect(committed).toHaveLength(140);
      // Caught up: the checkpoint reached the last event (every event taken once is not enough: its
      // batch's last answer may have been lost, and then it is sent again).
      const head = await second.streamLog.head();
      await vi.waitFor(async () => expect((await second.streams.progress(made.id))?.position).toBe(head), { timeout: 20_000 });
      expect(receiver.uniqueEvents).toBe(140);
      // Every batch taken once plus once per lost answer, and the distinct batches in commit order.
      expect(deliveryProblems(receiver.batches, committed)).toEqual([]);
      expect(receiver.eventIds.every((id) => committed.includes(id))).toBe(true);
    } finally {
      await after.stop();
    }
  });
});
