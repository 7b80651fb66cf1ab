import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { makeEvent, seededRandom } from '@logserver/testing/events';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { deliveryProblems, Receiver } from '../../../../test/support/stream-receivers.js';
import { openSqliteStores } from '../../src/sqlite/stores.js';
import { tenantOf } from '../../src/store/tenant-id.js';
import type { Stores } from '../../src/stores.js';
import { AddressPolicy } from '../../src/streams/address-policy.js';
import { DEFAULT_STREAM_SETTINGS, type StreamSettings } from '../../src/streams/config.js';
import { StreamDeliverer } from '../../src/streams/deliverer.js';
import { StreamAdmin } from '../../src/streams/destinations.js';
import { SecretBox } from '../../src/streams/secret-box.js';

const acme = tenantOf({ tenant: 'acme' });
const TOKEN = 'hec-token';
const random = seededRandom(21);
const box = new SecretBox(randomBytes(32));
const policy = AddressPolicy.fromSetting('127.0.0.1');

let stores: Stores;
let receiver: Receiver;
const running: StreamDeliverer[] = [];

const settings = (over: Partial<StreamSettings> = {}): StreamSettings => ({
  ...DEFAULT_STREAM_SETTINGS,
  // Long enough that a busy machine's timers still renew it: a lapsed lease hands a batch in flight to the other replica (a duplicate).
  leaseMs: 5000,
  intervalMs: 20,
  retries: 5,
  retryMinMs: 5,
  retryMaxMs: 20,
  batchMaxEvents: 25,
  ...over,
});

const deliverer = (holder: string, over: Partial<StreamSettings> = {}) => {
  const started = new StreamDeliverer({
    store: stores.streams,
    streamLog: stores.streamLog,
    box,
    policy,
    settings: settings(over),
    holder,
  });
  running.push(started);
  started.start();
  return started;
};

const admin = () =>
  new StreamAdmin({
    store: stores.streams,
    streamLog: stores.streamLog,
    box,
    policy,
    settings: settings(),
    newId: () => `dest-${Math.random().toString(36).slice(2)}`,
    now: () => new Date(),
  });

async function append(n: number): Promise<string[]> {
  const events = Array.from({ length: n }, () => makeEvent(acme, {}, random));
  await stores.logs.append(acme, events);
  const committed = await stores.streamLog.after(acme, 0, {}, 1_000_000);
  return committed.map((row) => row.event.id);
}

beforeAll(async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'logserver-deliverer-'));
  stores = await openSqliteStores({ store: 'sqlite', dataDir, mongodbDb: 'unused' });
  receiver = await Receiver.start('splunk_hec', TOKEN);
});
afterEach(async () => {
  await Promise.all(running.splice(0).map((started) => started.stop()));
});
afterAll(async () => {
  await receiver.close();
  await stores.streams.close();
  await stores.streamLog.close();
  await stores.logs.close();
});

describe('StreamDeliverer', () => {
  it('delivers each destination from one replica at a time (its lease), and another carries on from the checkpoint when it stops', async () => {
    const a = deliverer('replica-a');
    const b = deliverer('replica-b');
    const made = await admin().create(acme, { kind: 'splunk_hec', name: 'hec', url: receiver.url, token: TOKEN });
    let committed = await append(120);
    await vi.waitFor(() => expect(receiver.uniqueEvents).toBe(120), { timeout: 10_000 });
    const holders = [a, b].filter((one) => one.statuses().some((status) => status.destinationId === made.id));
    expect(holders).toHaveLength(1);
    expect(deliveryProblems(receiver.batches, committed)).toEqual([]);

    // The holder stops (a restart, a scale-down): the other replica takes the lease and goes on from the saved position.
    const [holder] = holders as [StreamDeliverer];
    await holder.stop();
    const other = holder === a ? b : a;
    committed = await append(80);
    await vi.waitFor(() => expect(receiver.uniqueEvents).toBe(200), { timeout: 10_000 });
    expect(other.statuses().map((status) => status.destinationId)).toContain(made.id);
    // Nothing lost, nothing sent twice: the checkpoint covered exactly what was delivered.
    expect(deliveryProblems(receiver.batches, committed)).toEqual([]);
    expect(receiver.eventIds).toHaveLength(200);
    await admin().remove(acme, made.id);
  });

  it('keeps every batch within STREAM_BATCH_MAX_BYTES and STREAM_BATCH_MAX_EVENTS', async () => {
    receiver.batches.length = 0;
    const start = await stores.streamLog.head();
    deliverer('replica-c', { batchMaxBytes: 4096, batchMaxEvents: 1000 });
    const made = await admin().create(acme, { kind: 'splunk_hec', name: 'small batches', url: receiver.url, token: TOKEN });
    const ids = (await append(60)).slice(-60);
    await vi.waitFor(() => expect(new Set(receiver.eventIds.filter((id) => ids.includes(id))).size).toBe(60), { timeout: 10_000 });
    const byId = new Map((await stores.streamLog.after(acme, start, {}, 1000)).map((row) => [row.event.id, row.event]));
    expect(receiver.batches.length).toBeGreaterThan(1);
    for (const batch of receiver.batches) {
      const bytes = batch.eventIds.reduce((sum, id) => sum + Buffer.byteLength(JSON.stringify(byId.get(id))) + 1, 0);
      expect(bytes).toBeLessThanOrEqual(4096);
    }
    await admin().remove(acme, made.id);
  });

  it('holds at most STREAM_MAX_ACTIVE destinations in one process; another replica delivers the rest', async () => {
    const tenant = tenantOf({ tenant: 'capped' });
    const receivers = await Promise.all([0, 1, 2].map(() => Receiver.start('splunk_hec', TOKEN)));
    try {
      const capped = deliverer('replica-capped', { maxActive: 2 });
      const made = [];
      for (const [index, one] of receivers.entries()) {
        made.push(await admin().create(tenant, { kind: 'splunk_hec', name: `hec ${index}`, url: one.url, token: TOKEN }));
      }
      await stores.logs.append(
        tenant,
        Array.from({ length: 30 }, () => makeEvent(tenant, {}, random)),
      );
      await vi.waitFor(() => expect(receivers.filter((one) => one.uniqueEvents === 30)).toHaveLength(2), { timeout: 10_000 });
      // Many discovery rounds later (every 20 ms) the capped process still holds two and the third waits.
      await sleep(300);
      expect(capped.statuses()).toHaveLength(2);
      expect(receivers.map((one) => one.uniqueEvents).sort((a, b) => a - b)).toEqual([0, 30, 30]);
      const waiting = made[receivers.findIndex((one) => one.uniqueEvents === 0)];

      const other = deliverer('replica-other');
      await vi.waitFor(() => expect(receivers.map((one) => one.uniqueEvents)).toEqual([30, 30, 30]), { timeout: 10_000 });
      expect(other.statuses().map((status) => status.destinationId)).toEqual([waiting?.id]);
      expect(capped.statuses()).toHaveLength(2);
      for (const one of made) await admin().remove(tenant, one.id);
    } finally {
      await Promise.all(receivers.map((one) => one.close()));
    }
  });
});
