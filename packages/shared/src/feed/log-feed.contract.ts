import { makeEvent } from '@logserver/testing/events';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { LogEvent } from '../schemas/log-event.js';
import { tenantOf } from '../store/tenant-id.js';
import type { LogFeed } from './port.js';

export interface FeedHarness {
  feed: LogFeed;
  /** Stores events the way production does, so that the feed learns of them its own way. */
  store(events: LogEvent[]): Promise<void>;
  close(): Promise<void>;
}

/**
 * The LogFeed contract: each subscriber sees its own tenant's stored events, in order, and nothing
 * else, each with a position above the one before (`positions: false` for a feed that only wakes another).
 */
export function describeLogFeedContract(
  name: string,
  open: () => Promise<FeedHarness>,
  timeoutMs = 5_000,
  options: { positions?: boolean } = {},
): void {
  describe(`LogFeed contract: ${name}`, () => {
    let harness: FeedHarness;
    beforeEach(async () => {
      harness = await open();
      await harness.feed.start();
    });
    afterEach(async () => {
      await harness.feed.close();
      await harness.close();
    });

    it('delivers a tenant’s stored events to its subscribers only, in order', async () => {
      const seenA: string[] = [];
      const seenA2: string[] = [];
      const seenB: string[] = [];
      const positions: number[] = [];
      harness.feed.subscribe(tenantOf({ tenant: 'tenant-a' }), (event, position) => {
        seenA.push(event.id);
        positions.push(position);
      });
      harness.feed.subscribe(tenantOf({ tenant: 'tenant-a' }), (event) => seenA2.push(event.id));
      harness.feed.subscribe(tenantOf({ tenant: 'tenant-b' }), (event) => seenB.push(event.id));
      const eventsA = Array.from({ length: 20 }, () => makeEvent('tenant-a'));
      const eventsB = Array.from({ length: 3 }, () => makeEvent('tenant-b'));
      await harness.store(eventsA.slice(0, 10));
      await harness.store(eventsB);
      await harness.store(eventsA.slice(10));
      await expect
        .poll(() => seenA.length >= 20 && seenA2.length >= 20 && seenB.length >= 3, { timeout: timeoutMs, interval: 20 })
        .toBe(true);
      expect(seenA).toEqual(eventsA.map((event) => event.id));
      expect(seenA2).toEqual(seenA);
      expect(seenB).toEqual(eventsB.map((event) => event.id));
      if (options.positions !== false) {
        expect(positions.every((position, index) => Number.isSafeInteger(position) && position > (positions[index - 1] ?? 0))).toBe(true);
      }
    });

    it('stops delivering once unsubscribed', async () => {
      const seen: string[] = [];
      const stop = harness.feed.subscribe(tenantOf({ tenant: 'tenant-a' }), (event) => seen.push(event.id));
      const first = makeEvent('tenant-a');
      await harness.store([first]);
      await expect.poll(() => seen.length === 1, { timeout: timeoutMs, interval: 20 }).toBe(true);
      stop();
      await harness.store([makeEvent('tenant-a')]);
      const marker = makeEvent('tenant-a');
      const after: string[] = [];
      harness.feed.subscribe(tenantOf({ tenant: 'tenant-a' }), (event) => after.push(event.id));
      await harness.store([marker]);
      await expect.poll(() => after.includes(marker.id), { timeout: timeoutMs, interval: 20 }).toBe(true);
      expect(seen).toEqual([first.id]);
    });
  });
}
