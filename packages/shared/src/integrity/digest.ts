import { canonicalJson, sha256Hex } from './event-hash.js';
import { merkleRoot } from './merkle.js';
import type { SigningKey, VerifyingKey } from './signing-key.js';

export const DIGEST_VERSION = 1;

/** What a digest states about one tenant's events; this, canonicalised, is what is hashed and signed. */
export interface DigestBody {
  version: number;
  tenant_id: string;
  /** 1, 2, 3, … per tenant, without gaps. */
  seq: number;
  count: number;
  first_event_id: string;
  last_event_id: string;
  /** Commit positions in the store (SQLite: the logs row seq) of the first and last sealed event. */
  first_position: string;
  last_position: string;
  /** RFC 6962 root over the event hashes, in commit order, hex. */
  merkle_root: string;
  /** The previous digest's hash, or null for the tenant's first digest. */
  prev_hash: string | null;
  sealed_at: string;
  key_id: string;
}

export interface Digest extends DigestBody {
  /** SHA-256 of the canonical body, hex; the next digest's prev_hash. */
  hash: string;
  /** Ed25519 over the canonical body, base64. */
  signature: string;
}

/** The sealed events of one digest, in commit order: the Merkle leaves and whose they are. */
export interface DigestLeaves {
  ids: string[];
  hashes: string[];
}

function bodyOf(digest: DigestBody): DigestBody {
  return {
    version: digest.version,
    tenant_id: digest.tenant_id,
    seq: digest.seq,
    count: digest.count,
    first_event_id: digest.first_event_id,
    last_event_id: digest.last_event_id,
    first_position: digest.first_position,
    last_position: digest.last_position,
    merkle_root: digest.merkle_root,
    prev_hash: digest.prev_hash,
    sealed_at: digest.sealed_at,
    key_id: digest.key_id,
  };
}

export const rootOfHashes = (hashes: readonly string[]): string =>
  merkleRoot(hashes.map((hash) => Buffer.from(hash, 'hex'))).toString('hex');

/** Builds and signs the digest that follows `previous` over these leaves (at least one). */
export function sealDigest(options: {
  tenant: string;
  previous: Digest | null;
  leaves: DigestLeaves;
  firstPosition: string;
  lastPosition: string;
  now: Date;
  key: SigningKey;
}): Digest {
  const { leaves, previous } = options;
  const body: DigestBody = {
    version: DIGEST_VERSION,
    tenant_id: options.tenant,
    seq: (previous?.seq ?? 0) + 1,
    count: leaves.ids.length,
    first_event_id: leaves.ids[0] as string,
    last_event_id: leaves.ids.at(-1) as string,
    first_position: options.firstPosition,
    last_position: options.lastPosition,
    merkle_root: rootOfHashes(leaves.hashes),
    prev_hash: previous?.hash ?? null,
    sealed_at: options.now.toISOString(),
    key_id: options.key.keyId,
  };
  const text = canonicalJson(body);
  return { ...body, hash: sha256Hex(text), signature: options.key.sign(text) };
}

/** Why a digest on its own does not hold up, or null when its hash and signature are right. */
export function checkDigest(digest: Digest, key: VerifyingKey): string | null {
  const text = canonicalJson(bodyOf(digest));
  if (sha256Hex(text) !== digest.hash) return 'its hash does not match its contents';
  if (digest.key_id !== key.keyId) return `it is signed by key ${digest.key_id}, not by ${key.keyId}`;
  if (!key.verify(text, digest.signature)) return 'its signature does not verify';
  return null;
}

/** Why the leaves do not belong to the digest (count, ends, Merkle root), or null when they do. */
export function checkLeaves(digest: Digest, leaves: DigestLeaves): string | null {
  if (leaves.ids.length !== digest.count || leaves.hashes.length !== digest.count) return 'its sealed event list has the wrong length';
  if (leaves.ids[0] !== digest.first_event_id || leaves.ids.at(-1) !== digest.last_event_id)
    return 'its sealed event list has the wrong ends';
  if (rootOfHashes(leaves.hashes) !== digest.merkle_root) return 'its sealed event hashes do not give its Merkle root';
  return null;
}
