import { makeEvent } from '@logserver/testing/events';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { LogEvent } from '../schemas/log-event.js';
import type { LogStore } from '../store/port.js';
import { tenantOf } from '../store/tenant-id.js';
import { sealDigest } from './digest.js';
import { KeyRing } from './keyring.js';
import type { IntegrityStore } from './port.js';
import { Sealer } from './sealer.js';
import { generateSigningKeyPem, signingKeyFromPem } from './signing-key.js';
import { verifyTenantLog } from './verify.js';

const A = tenantOf({ tenant: 'tenant-a' });
const B = tenantOf({ tenant: 'tenant-b' });
const key = signingKeyFromPem(generateSigningKeyPem());
const publicKey = KeyRing.single('logserver', key.publicKeyPem);

export interface IntegrityFixture {
  logs: LogStore;
  integrity: IntegrityStore;
  close(): Promise<void>;
}

/**
 * The IntegrityStore contract: every adapter must pass it unchanged. The expected answers come
 * from what the test appended and from the pure digest and Merkle functions, not from the store.
 */
export function describeIntegrityStoreContract(name: string, open: () => Promise<IntegrityFixture>): void {
  describe(`IntegrityStore contract: ${name}`, () => {
    let fixture: IntegrityFixture;
    beforeEach(async () => {
      fixture = await open();
    });
    afterEach(async () => {
      await fixture.close();
    });

    const append = async (tenant: typeof A, count: number): Promise<LogEvent[]> => {
      const events = Array.from({ length: count }, () => makeEvent(tenant));
      await fixture.logs.append(tenant, events);
      return events;
    };

    it('hands out a tenant’s events in commit order, after a position, with their hashes', async () => {
      const first = await append(A, 3);
      await append(B, 2);
      const second = await append(A, 2);
      const all = await fixture.integrity.sealable(A, null, 100);
      expect(all.map((event) => event.id)).toEqual([...first, ...second].map((event) => event.id));
      expect(all.map((event) => event.hash)).toEqual([...first, ...second].map((event) => event.hash));
      const rest = await fixture.integrity.sealable(A, all[2]?.position ?? null, 100);
      expect(rest.map((event) => event.id)).toEqual(second.map((event) => event.id));
      expect(await fixture.integrity.sealable(A, null, 2)).toHaveLength(2);
    });

    it('names the tenants with events after a position', async () => {
      await append(A, 1);
      const { tenants, through } = await fixture.integrity.tenantsWithEventsAfter(null);
      expect(tenants).toEqual([A]);
      await append(B, 1);
      expect((await fixture.integrity.tenantsWithEventsAfter(through)).tenants).toEqual([B]);
    });

    it('keeps the sealed-through watermark, which only moves forward', async () => {
      expect(await fixture.integrity.loadWatermark()).toBeNull();
      await append(A, 3);
      const [, second, third] = await fixture.integrity.sealable(A, null, 10);
      await fixture.integrity.saveWatermark(third?.position as string);
      await fixture.integrity.saveWatermark(second?.position as string);
      expect(await fixture.integrity.loadWatermark()).toBe(third?.position);
      await append(B, 1);
      expect((await fixture.integrity.tenantsWithEventsAfter(await fixture.integrity.loadWatermark())).tenants).toEqual([B]);
    });

    it('appends a digest only where it follows the head, so two sealers cannot fork the chain', async () => {
      const events = await append(A, 2);
      const leaves = { ids: events.map((event) => event.id), hashes: events.map((event) => event.hash as string) };
      const batch = await fixture.integrity.sealable(A, null, 10);
      const make = (previous: Awaited<ReturnType<IntegrityStore['latestDigest']>>) =>
        sealDigest({
          tenant: A,
          previous,
          leaves,
          firstPosition: batch[0]?.position as string,
          lastPosition: batch[1]?.position as string,
          now: new Date(),
          key,
        });
      const one = make(null);
      const rival = make(null);
      expect(await fixture.integrity.appendDigest(A, one, leaves)).toBe(true);
      expect(await fixture.integrity.appendDigest(A, rival, leaves)).toBe(false);
      expect(await fixture.integrity.latestDigest(A)).toEqual(one);
      expect(await fixture.integrity.digestLeaves(A, 1)).toEqual(leaves);
      expect(await fixture.integrity.digestCovering(A, batch[0]?.position as string)).toEqual(one);
      expect(await fixture.integrity.latestDigest(B)).toBeNull();
      expect(await fixture.integrity.digests(B, 0, 10)).toEqual([]);
    });

    it('gives a tenant’s sealer lease to one holder until it is released or runs out', async () => {
      expect(await fixture.integrity.acquireLease(A, 'one', 60_000)).toBe(true);
      expect(await fixture.integrity.acquireLease(A, 'two', 60_000)).toBe(false);
      expect(await fixture.integrity.acquireLease(B, 'two', 60_000)).toBe(true);
      expect(await fixture.integrity.acquireLease(A, 'one', 60_000)).toBe(true);
      await fixture.integrity.releaseLease(A, 'one');
      expect(await fixture.integrity.acquireLease(A, 'two', 0)).toBe(true);
      // A lease of 0 ms is already over: anyone may take it.
      expect(await fixture.integrity.acquireLease(A, 'three', 60_000)).toBe(true);
    });

    it('seals, verifies intact, and reports a cleanup as cleanup, not tampering', async () => {
      const events = await append(A, 40);
      await append(B, 5);
      const sealer = new Sealer({ store: fixture.integrity, key, maxEventsPerDigest: 16, format: 'digest-v1' });
      expect(await sealer.sealAll()).toEqual({ digests: 4, events: 45, skipped: 0 });
      const report = await verifyTenantLog(fixture.integrity, publicKey, A);
      expect(report).toMatchObject({ status: 'intact', digests_checked: 3, events_sealed: 40, events_verified: 40, events_unsealed: 0 });
      const cutoff = [...events].sort((x, y) => x.timestamp.localeCompare(y.timestamp))[10]?.timestamp as string;
      const deleted = await fixture.logs.deleteOlderThan(A, cutoff, { auditEventId: 'audit-1' });
      expect(deleted).toBeGreaterThan(0);
      const after = await verifyTenantLog(fixture.integrity, publicKey, A);
      expect(after.status).toBe('intact');
      expect(after.deleted_by_cleanup).toBe(deleted);
      expect(after.cleanups).toEqual([expect.objectContaining({ before: cutoff, deleted_count: deleted, audit_event_id: 'audit-1' })]);
      expect((await verifyTenantLog(fixture.integrity, publicKey, B)).status).toBe('intact');
    });
  });
}
