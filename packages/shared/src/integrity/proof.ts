import { NotFound } from '../errors/catalogue.js';
import type { TenantId } from '../store/tenant-id.js';
import type { Digest } from './digest.js';
import { merklePath } from './merkle.js';
import type { IntegrityStore } from './port.js';

export interface InclusionProof {
  /** RFC 6962 audit path: leaf = SHA-256(0x00 || event hash), node = SHA-256(0x01 || left || right). */
  algorithm: 'RFC6962-SHA256';
  digest: Digest;
  leaf_index: number;
  tree_size: number;
  /** Sibling hashes from the leaf up, hex. */
  path: string[];
}

/**
 * The Merkle path that ties a sealed event to its signed digest, or null when the event is not
 * sealed yet. Throws NotFound when the tenant has no such event.
 */
export async function proveInclusion(store: IntegrityStore, tenant: TenantId, id: string): Promise<InclusionProof | null> {
  const position = await store.positionOf(tenant, id);
  if (position === null) throw new NotFound('Log');
  const digest = await store.digestCovering(tenant, position);
  if (digest === null) return null;
  const leaves = await store.digestLeaves(tenant, digest.seq);
  const index = leaves?.ids.indexOf(id) ?? -1;
  // Stored in a sealed range but not sealed there: verify reports it; there is no proof to give.
  if (leaves === null || index < 0) throw new NotFound('Proof for this log');
  const entries = leaves.hashes.map((hash) => Buffer.from(hash, 'hex'));
  return {
    algorithm: 'RFC6962-SHA256',
    digest,
    leaf_index: index,
    tree_size: entries.length,
    path: merklePath(index, entries).map((hash) => hash.toString('hex')),
  };
}
