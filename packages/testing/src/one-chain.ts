import type { IntegrityStore } from '@logserver/shared/integrity/port';
import type { TenantId } from '@logserver/shared/store/tenant-id';
import { expect } from 'vitest';

/** No fork: seqs 1..n, each prev_hash the hash before it, and every event sealed exactly once. */
export async function expectOneChain(store: IntegrityStore, tenant: TenantId, events: number) {
  const digests = await store.digests(tenant, 0, 1_000_000);
  expect(digests.map((digest) => digest.seq)).toEqual(digests.map((_, index) => index + 1));
  expect(digests.map((digest) => digest.prev_hash)).toEqual([null, ...digests.slice(0, -1).map((digest) => digest.hash)]);
  const sealed: string[] = [];
  for (const digest of digests) sealed.push(...((await store.digestLeaves(tenant, digest.seq))?.ids ?? []));
  expect(sealed).toHaveLength(events);
  expect(new Set(sealed).size).toBe(events);
  return digests;
}
