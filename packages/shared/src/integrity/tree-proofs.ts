import { Conflict, NotFound } from '../errors/catalogue.js';
import type { TenantId } from '../store/tenant-id.js';
import type { Checkpoint, IntegrityStore } from './port.js';
import { consistencyProof, type Hash, inclusionProof, rangeHash, rootOfLeafHashes, type SubtreeHash, TILE_LEAVES } from './tree.js';

/**
 * The hash of a perfect, aligned subtree of the tenant's tree: from its leaves when it is smaller
 * than a tile, else from the stored level-8 tiles. A proof thus reads O(log n) small ranges and
 * at most size/256 tiles, never the whole tree.
 */
export function storedSubtree(store: IntegrityStore, tenant: TenantId): SubtreeHash {
  return async (start, end) => {
    if (end - start >= TILE_LEAVES) return rootOfLeafHashes(await store.tiles(tenant, start / TILE_LEAVES, end / TILE_LEAVES));
    return rootOfLeafHashes(await store.leafHashes(tenant, start, end));
  };
}

export const hex = (hashes: readonly Hash[]): string[] => hashes.map((h) => h.toString('hex'));

/** The checkpoint at that size (the newest when undefined); NotFound when there is none. */
export async function checkpointOrLatest(store: IntegrityStore, tenant: TenantId, size: number | undefined): Promise<Checkpoint> {
  const checkpoint = size === undefined ? await store.latestCheckpoint(tenant) : await store.checkpointAt(tenant, size);
  if (checkpoint === null) throw new NotFound(size === undefined ? 'Checkpoint' : `Checkpoint of size ${size}`);
  return checkpoint;
}

export interface TreeInclusion {
  algorithm: 'RFC9162-SHA256';
  leaf_index: number;
  /** SHA-256(0x00 || entry), hex: the entry is RFC 8785 JSON {"hash": event hash, "timestamp": event timestamp}. */
  leaf_hash: string;
  tree_size: number;
  path: string[];
  checkpoint: Checkpoint;
}

/**
 * Where the event sits in the tenant's tree and its audit path to the checkpoint of that size
 * (default: the newest). Null when the event is not in the tree yet. Conflict when the checkpoint
 * asked for is older than the event.
 */
export async function proveInTree(store: IntegrityStore, tenant: TenantId, id: string, size?: number): Promise<TreeInclusion | null> {
  const position = await store.positionOf(tenant, id);
  if (position === null) throw new NotFound('Log');
  const batch = await store.checkpointCovering(tenant, position);
  if (batch === null) return null;
  const leaves = await store.checkpointLeaves(tenant, batch.tree_size);
  const offset = leaves?.ids.indexOf(id) ?? -1;
  if (leaves === null || offset < 0) throw new NotFound('Proof for this log');
  const leafIndex = batch.tree_size - batch.count + offset;
  const checkpoint = await checkpointOrLatest(store, tenant, size);
  if (checkpoint.tree_size <= leafIndex)
    throw new Conflict(`the checkpoint of size ${checkpoint.tree_size} is older than this log (leaf ${leafIndex}); ask for a later one`);
  const path = await inclusionProof(leafIndex, checkpoint.tree_size, storedSubtree(store, tenant));
  return {
    algorithm: 'RFC9162-SHA256',
    leaf_index: leafIndex,
    leaf_hash: leaves.hashes[offset] as string,
    tree_size: checkpoint.tree_size,
    path: hex(path),
    checkpoint,
  };
}

/** The RFC 9162 consistency proof between two sizes of the tenant's tree (to: the newest checkpoint's size). */
export async function proveConsistency(
  store: IntegrityStore,
  tenant: TenantId,
  from: number,
  to: number | undefined,
): Promise<{ from: number; to: number; proof: string[]; checkpoint: Checkpoint }> {
  const checkpoint = await checkpointOrLatest(store, tenant, to);
  if (from > checkpoint.tree_size) throw new Conflict(`from=${from} is beyond the checkpoint of size ${checkpoint.tree_size}`);
  const proof = await consistencyProof(from, checkpoint.tree_size, storedSubtree(store, tenant));
  return { from, to: checkpoint.tree_size, proof: hex(proof), checkpoint };
}

/** The root of the tenant's tree at any size up to the newest, from what is stored. */
export async function storedRoot(store: IntegrityStore, tenant: TenantId, size: number): Promise<Hash> {
  return rangeHash(0, size, storedSubtree(store, tenant));
}
