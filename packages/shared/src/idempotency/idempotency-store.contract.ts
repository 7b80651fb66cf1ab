import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { tenantOf } from '../store/tenant-id.js';
import { newSeed } from './ids.js';
import type { IdempotencyStore, ReserveRequest } from './port.js';

const acme = tenantOf({ tenant: 'acme' });
const globex = tenantOf({ tenant: 'globex' });
const T0 = Date.parse('2026-01-01T00:00:00.000Z');
const TTL = 86_400_000;
const LEASE = 30_000;

const request = (over: Partial<ReserveRequest> = {}): ReserveRequest => ({
  fingerprint: 'f1',
  seed: newSeed(),
  receivedAt: new Date(T0).toISOString(),
  owner: `owner-${Math.random()}`,
  now: T0,
  ttlMs: TTL,
  leaseMs: LEASE,
  ...over,
});

/** The IdempotencyStore contract: every adapter must pass it unchanged. */
export function describeIdempotencyStoreContract(name: string, open: () => Promise<IdempotencyStore>): void {
  describe(`IdempotencyStore contract: ${name}`, () => {
    let store: IdempotencyStore;
    beforeEach(async () => {
      store = await open();
    });
    afterEach(async () => {
      await store.close();
    });

    it('takes a new key, answers in-flight while it is held, replays once complete', async () => {
      const first = request();
      const taken = await store.reserve(acme, 'k1', first);
      expect(taken).toMatchObject({ outcome: 'new', record: { seed: first.seed, state: 'pending' } });
      expect(await store.reserve(acme, 'k1', request({ now: T0 + 1 }))).toEqual({ outcome: 'in-flight' });
      await store.complete(acme, 'k1', first.owner);
      const again = await store.reserve(acme, 'k1', request({ now: T0 + 2 }));
      expect(again).toMatchObject({ outcome: 'replay', record: { seed: first.seed, receivedAt: first.receivedAt, state: 'done' } });
    });

    it('refuses the same key with another fingerprint, held or done', async () => {
      const first = request();
      await store.reserve(acme, 'k1', first);
      expect(await store.reserve(acme, 'k1', request({ fingerprint: 'f2' }))).toEqual({ outcome: 'mismatch' });
      await store.complete(acme, 'k1', first.owner);
      expect(await store.reserve(acme, 'k1', request({ fingerprint: 'f2' }))).toEqual({ outcome: 'mismatch' });
    });

    it('resumes a released attempt, and one whose lease ran out, with the first seed and received_at', async () => {
      const first = request();
      await store.reserve(acme, 'k1', first);
      await store.release(acme, 'k1', first.owner);
      const second = request({ now: T0 + 5 });
      const resumed = await store.reserve(acme, 'k1', second);
      expect(resumed).toMatchObject({
        outcome: 'resumed',
        record: { seed: first.seed, receivedAt: first.receivedAt, owner: second.owner },
      });
      // The first attempt's late complete changes nothing: the key is the second's now.
      await store.complete(acme, 'k1', first.owner);
      expect(await store.reserve(acme, 'k1', request({ now: T0 + 6 }))).toEqual({ outcome: 'in-flight' });
      const third = request({ now: T0 + 5 + LEASE });
      expect(await store.reserve(acme, 'k1', third)).toMatchObject({ outcome: 'resumed', record: { seed: first.seed } });
      await store.complete(acme, 'k1', third.owner);
      expect(await store.reserve(acme, 'k1', request({ now: T0 + 10 + LEASE }))).toMatchObject({ outcome: 'replay' });
    });

    it('forgets a key after its TTL: the same key may then carry a new request', async () => {
      const first = request();
      await store.reserve(acme, 'k1', first);
      await store.complete(acme, 'k1', first.owner);
      const later = request({ fingerprint: 'f2', now: T0 + TTL });
      expect(await store.reserve(acme, 'k1', later)).toMatchObject({ outcome: 'new', record: { fingerprint: 'f2', seed: later.seed } });
    });

    it('scopes keys by tenant: two tenants may use one key for different requests', async () => {
      expect((await store.reserve(acme, 'shared', request())).outcome).toBe('new');
      expect((await store.reserve(globex, 'shared', request({ fingerprint: 'other' }))).outcome).toBe('new');
    });

    it('one of many racing reservations of one key takes it; the rest see it in flight', async () => {
      const outcomes = await Promise.all(Array.from({ length: 20 }, () => store.reserve(acme, 'race', request())));
      expect(outcomes.filter((reservation) => reservation.outcome === 'new')).toHaveLength(1);
      expect(outcomes.filter((reservation) => reservation.outcome === 'in-flight')).toHaveLength(19);
    });

    it('trim deletes expired keys and keeps at most maxKeys of a tenant, the newest, leaving other tenants alone', async () => {
      for (let index = 0; index < 30; index++) {
        const at = request({ now: T0 + index * 1000 });
        await store.reserve(acme, `k${index}`, at);
        await store.complete(acme, `k${index}`, at.owner);
      }
      await store.reserve(globex, 'g', request());
      expect(await store.count(acme, T0 + 29_000)).toBe(30);
      // At T0 + TTL + 4500 ms the keys k0..k4 have expired.
      const removed = await store.trim(acme, 10, T0 + TTL + 4_500);
      expect(removed).toBe(20);
      expect(await store.count(acme, T0 + TTL + 4_500)).toBe(10);
      expect((await store.reserve(acme, 'k29', request({ now: T0 + TTL + 4_500 }))).outcome).toBe('replay');
      expect((await store.reserve(acme, 'k19', request({ fingerprint: 'new', now: T0 + TTL + 4_500 }))).outcome).toBe('new');
      expect(await store.count(globex, T0)).toBe(1);
    });
  });
}
