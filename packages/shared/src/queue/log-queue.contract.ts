import { makeEvent } from '@logserver/testing/events';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { LogEvent } from '../schemas/log-event.js';
import type { LogQueue } from './port.js';

/**
 * The LogQueue contract: every event whose publish resolved reaches the consumer, even when the
 * consumer fails first; an event is acknowledged only by a handler that succeeded.
 */
export function describeLogQueueContract(name: string, open: () => Promise<LogQueue>, deliveryTimeoutMs = 5_000): void {
  describe(`LogQueue contract: ${name}`, () => {
    let queue: LogQueue;
    beforeEach(async () => {
      queue = await open();
    });
    afterEach(async () => {
      await queue.close();
    });

    it('delivers every acknowledged event to the consumer', async () => {
      const handled = new Map<string, LogEvent>();
      await queue.consume(async (events) => {
        for (const event of events) handled.set(event.id, event);
      });
      const batches = Array.from({ length: 10 }, (_, index) =>
        Array.from({ length: 5 }, () => makeEvent(index % 2 ? 'tenant-a' : 'tenant-b')),
      );
      await Promise.all(batches.map((batch) => queue.publish(batch)));
      const published = batches.flat();
      await expect.poll(() => published.every((event) => handled.has(event.id)), { timeout: deliveryTimeoutMs, interval: 20 }).toBe(true);
      for (const event of published) expect(handled.get(event.id)).toEqual(event);
    });

    it('does not lose an acknowledged event when the consumer fails', async () => {
      const handled = new Set<string>();
      let failures = 0;
      await queue.consume(async (events) => {
        if (failures < 1) {
          failures++;
          throw new Error('store is down');
        }
        for (const event of events) handled.add(event.id);
      });
      const acknowledged: LogEvent[] = [];
      for (let attempt = 0; attempt < 3; attempt++) {
        const events = [makeEvent('tenant-a'), makeEvent('tenant-a')];
        try {
          await queue.publish(events);
          acknowledged.push(...events);
        } catch {
          // Not acknowledged: the client is told and may retry; the contract is about what was acknowledged.
        }
      }
      expect(acknowledged.length).toBeGreaterThan(0);
      await expect
        .poll(() => acknowledged.every((event) => handled.has(event.id)), { timeout: deliveryTimeoutMs, interval: 20 })
        .toBe(true);
      expect(acknowledged.filter((event) => !handled.has(event.id))).toEqual([]);
      expect(failures).toBe(1);
    });

    it('answers ping while open and refuses to publish once closed', async () => {
      await queue.consume(async () => {});
      await expect(queue.ping()).resolves.toBeUndefined();
      await queue.close();
      await expect(queue.publish([makeEvent('tenant-a')])).rejects.toMatchObject({ statusCode: 503 });
    });
  });
}
