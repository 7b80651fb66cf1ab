import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { LogEvent } from '../schemas/log-event.js';
import { tenantOf } from '../store/tenant-id.js';
import type { DestinationRecord } from './destination.js';
import { initialProgress, type StreamStore } from './port.js';

const acme = tenantOf({ tenant: 'acme' });
const globex = tenantOf({ tenant: 'globex' });

let counter = 0;
const destination = (tenant = acme): DestinationRecord => {
  counter++;
  return {
    id: `d${counter}-${Math.random().toString(36).slice(2)}`,
    tenant,
    name: `destination ${counter}`,
    kind: 'webhook',
    enabled: true,
    settings: { url: 'https://siem.example.com/hook' },
    filter: { severity: 'ERROR' },
    secret: 'v1.sealed',
    createdAt: new Date(Date.UTC(2026, 0, 1, 0, 0, counter)).toISOString(),
    updatedAt: new Date(Date.UTC(2026, 0, 1, 0, 0, counter)).toISOString(),
  };
};

const letter = (first: number, events: LogEvent[] = []) => ({
  firstPosition: first,
  lastPosition: first + 9,
  events,
  error: 'HTTP 503',
  failedAt: '2026-01-01T00:00:00.000Z',
  attempts: 9,
  replayRequested: false,
});

/** The StreamStore contract: every adapter must pass it unchanged. */
export function describeStreamStoreContract(name: string, open: () => Promise<StreamStore>): void {
  describe(`StreamStore contract: ${name}`, () => {
    let store: StreamStore;
    beforeEach(async () => {
      store = await open();
    });
    afterEach(async () => {
      await store.close();
    });

    it('keeps each tenant’s destinations to itself', async () => {
      const mine = destination(acme);
      expect(await store.create(acme, mine, 7, 10)).toBe(true);
      expect(await store.get(acme, mine.id)).toEqual(mine);
      expect(await store.get(globex, mine.id)).toBeNull();
      expect(await store.list(globex)).toEqual([]);
      expect(await store.update(globex, mine.id, { name: 'taken', updatedAt: 'x' })).toBeNull();
      expect(await store.remove(globex, mine.id)).toBe(false);
      expect(await store.deadLetters(globex, mine.id, 10)).toBeNull();
      expect(await store.requestReplay(globex, mine.id)).toBeNull();
      expect((await store.progress(mine.id))?.position).toBe(7);
      expect((await store.list(acme)).map((record) => record.id)).toEqual([mine.id]);
    });

    it('refuses a destination past the tenant’s bound, also when created at once, and counts again after a removal', async () => {
      const results = await Promise.all(Array.from({ length: 6 }, () => store.create(acme, destination(acme), 0, 4)));
      expect(results.filter(Boolean)).toHaveLength(4);
      expect(await store.list(acme)).toHaveLength(4);
      expect(await store.create(globex, destination(globex), 0, 4)).toBe(true);
      const [first] = await store.list(acme);
      expect(await store.remove(acme, (first as DestinationRecord).id)).toBe(true);
      expect(await store.create(acme, destination(acme), 0, 4)).toBe(true);
      expect(await store.create(acme, destination(acme), 0, 4)).toBe(false);
    });

    it('updates what the patch names and lists only enabled destinations for delivery', async () => {
      const one = destination();
      const two = destination();
      await store.create(acme, one, 0, 10);
      await store.create(acme, two, 0, 10);
      const updated = await store.update(acme, two.id, { enabled: false, name: 'off', updatedAt: '2026-02-01T00:00:00.000Z' });
      expect(updated).toMatchObject({ enabled: false, name: 'off', secret: two.secret, updatedAt: '2026-02-01T00:00:00.000Z' });
      expect((await store.enabledDestinations(100)).map((record) => record.id)).toContain(one.id);
      expect((await store.enabledDestinations(100)).map((record) => record.id)).not.toContain(two.id);
    });

    it('lists every tenant’s destinations by id, enabled or not, a page at a time, and replaces a secret only if it is unchanged', async () => {
      const made = [destination(acme), destination(globex), destination(acme)];
      for (const record of made) await store.create(record.tenant, record, 0, 10);
      await store.update(acme, (made[2] as DestinationRecord).id, { enabled: false, updatedAt: '2026-03-01T00:00:00.000Z' });
      const ids = made.map((record) => record.id).sort();
      const first = await store.allDestinations(null, 2);
      const rest = await store.allDestinations((first.at(-1) as DestinationRecord).id, 2);
      expect([...first, ...rest].map((record) => record.id)).toEqual(ids);
      expect(await store.allDestinations(ids.at(-1) as string, 2)).toEqual([]);
      const target = made[0] as DestinationRecord;
      expect(await store.replaceSecret(target.id, 'v1.stale', 'v1.other')).toBe(false);
      expect(await store.replaceSecret(target.id, target.secret, 'v1.resealed')).toBe(true);
      expect(await store.get(acme, target.id)).toEqual({ ...target, secret: 'v1.resealed' });
      expect(await store.replaceSecret(target.id, target.secret, 'v1.again')).toBe(false);
      expect((await store.get(acme, target.id))?.secret).toBe('v1.resealed');
    });

    it('never moves a destination’s position back', async () => {
      const one = destination();
      await store.create(acme, one, 0, 10);
      await store.saveProgress(one.id, { ...initialProgress(50), delivered: 50 });
      await store.saveProgress(one.id, { ...initialProgress(20), delivered: 20 });
      expect(await store.progress(one.id)).toMatchObject({ position: 50, delivered: 50 });
    });

    it('holds at most `max` dead letters, replays the ones asked for, and forgets them with their destination', async () => {
      const one = destination();
      await store.create(acme, one, 0, 10);
      const event = { id: 'e1', action: 'login' } as LogEvent;
      expect(await store.addDeadLetter(one.id, letter(1, [event]), 2)).toBe(true);
      expect(await store.addDeadLetter(one.id, letter(11), 2)).toBe(true);
      expect(await store.addDeadLetter(one.id, letter(21), 2)).toBe(false);
      expect(await store.deadLetterCount(one.id)).toBe(2);
      const listed = (await store.deadLetters(acme, one.id, 10)) ?? [];
      expect(listed.map((entry) => [entry.firstPosition, entry.eventCount, entry.replayRequested])).toEqual([
        [1, 1, false],
        [11, 0, false],
      ]);
      expect(await store.replayable(one.id, 10)).toEqual([]);
      expect(await store.requestReplay(acme, one.id, [(listed[0] as { id: number }).id])).toBe(1);
      const [replay] = await store.replayable(one.id, 10);
      expect(replay).toMatchObject({ firstPosition: 1, events: [event], replayRequested: true });
      await store.replayFailed(one.id, (replay as { id: number }).id, 'HTTP 500', '2026-01-02T00:00:00.000Z');
      expect(await store.replayable(one.id, 10)).toEqual([]);
      expect((await store.deadLetters(acme, one.id, 10))?.[0]).toMatchObject({ error: 'HTTP 500', attempts: 10, replayRequested: false });
      expect(await store.requestReplay(acme, one.id)).toBe(2);
      await store.removeDeadLetter(one.id, (replay as { id: number }).id);
      expect(await store.deadLetterCount(one.id)).toBe(1);
      expect(await store.addDeadLetter(one.id, letter(31), 2)).toBe(true);
      expect(await store.remove(acme, one.id)).toBe(true);
      expect(await store.deadLetterCount(one.id)).toBe(0);
    });

    it('prunes the copies of deleted events from the tenant’s dead letters, page after page, and drops the letters left empty', async () => {
      const mine = destination(acme);
      const theirs = destination(globex);
      await store.create(acme, mine, 0, 10);
      await store.create(globex, theirs, 0, 10);
      const copy = (id: string, timestamp: string) => ({ id, timestamp, action: 'login' }) as LogEvent;
      const OLD = '2020-01-01T00:00:00.000Z';
      const NEW = '2026-01-01T00:00:00.000Z';
      // 12 letters, more than one page: the even ones hold only an old event, the odd ones an old and a new one.
      for (let n = 0; n < 12; n++) {
        const events = n % 2 === 0 ? [copy(`old-${n}`, OLD)] : [copy(`old-${n}`, OLD), copy(`new-${n}`, NEW)];
        expect(await store.addDeadLetter(mine.id, letter(n * 10 + 1, events), 12)).toBe(true);
      }
      expect(await store.addDeadLetter(theirs.id, letter(1, [copy('globex-old', OLD)]), 12)).toBe(true);
      const expired = (event: LogEvent) => event.timestamp < '2025-01-01';

      expect(await store.pruneDeadLetters(acme, expired)).toBe(12);
      const odd = [1, 3, 5, 7, 9, 11];
      const listed = (await store.deadLetters(acme, mine.id, 100)) ?? [];
      expect(listed.map((entry) => [entry.firstPosition, entry.eventCount])).toEqual(odd.map((n) => [n * 10 + 1, 1]));
      expect(await store.deadLetterCount(mine.id)).toBe(6);
      expect(await store.requestReplay(acme, mine.id)).toBe(6);
      expect((await store.replayable(mine.id, 100)).flatMap((entry) => entry.events.map((event) => event.id))).toEqual(
        odd.map((n) => `new-${n}`),
      );
      // The letters that went free their places under the cap: 6 more fit, the 7th does not.
      for (let n = 0; n < 6; n++) expect(await store.addDeadLetter(mine.id, letter(200 + n * 10), 12)).toBe(true);
      expect(await store.addDeadLetter(mine.id, letter(300), 12)).toBe(false);
      // Another tenant's letters are not touched; a second prune finds nothing.
      expect((await store.deadLetters(globex, theirs.id, 10))?.map((entry) => entry.eventCount)).toEqual([1]);
      expect(await store.pruneDeadLetters(acme, expired)).toBe(0);
    });

    it('gives a destination’s lease to one holder until it is released or runs out', async () => {
      const one = destination();
      await store.create(acme, one, 0, 10);
      expect(await store.acquireLease(one.id, 'a', 60_000)).toBe(true);
      expect(await store.acquireLease(one.id, 'b', 60_000)).toBe(false);
      expect(await store.acquireLease(one.id, 'a', 60_000)).toBe(true);
      await store.releaseLease(one.id, 'b');
      expect(await store.acquireLease(one.id, 'b', 60_000)).toBe(false);
      await store.releaseLease(one.id, 'a');
      expect(await store.acquireLease(one.id, 'b', 0)).toBe(true);
      // b's lease ran out at once (ttl 0): a takes it back.
      expect(await store.acquireLease(one.id, 'a', 60_000)).toBe(true);
    });
  });
}
