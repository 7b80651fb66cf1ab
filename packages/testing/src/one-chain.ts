import type { Checkpoint, IntegrityStore } from '@logserver/shared/integrity/port';
import type { TenantId } from '@logserver/shared/store/tenant-id';
import { expect } from 'vitest';

/**
 * No fork: each checkpoint grows the tree from exactly the size before it (never two heads of one
 * size), and every event is a leaf exactly once.
 */
export async function expectOneChain(store: IntegrityStore, tenant: TenantId, events: number): Promise<Checkpoint[]> {
  const checkpoints = await store.checkpoints(tenant, 0, 1_000_000);
  expect(checkpoints.map((checkpoint) => checkpoint.tree_size - checkpoint.count)).toEqual([
    0,
    ...checkpoints.slice(0, -1).map((checkpoint) => checkpoint.tree_size),
  ]);
  const sealed: string[] = [];
  for (const checkpoint of checkpoints) sealed.push(...((await store.checkpointLeaves(tenant, checkpoint.tree_size))?.ids ?? []));
  expect(sealed).toHaveLength(events);
  expect(new Set(sealed).size).toBe(events);
  return checkpoints;
}
