import { ed25519 } from '@noble/curves/ed25519.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex, hexToBytes } from '@noble/hashes/utils.js';
import canonicalize from 'canonicalize';
import {
  checkCheckpoint,
  eventLeafHash,
  fromBase64,
  hashesOf,
  type TrustedKey,
  trustedKeys,
  verifyConsistency,
  verifyInclusion,
} from './tree.js';
import type { Checkpoint, Consistency, Digest, Jwks, Proof } from './types.js';

/**
 * Checks an inclusion proof where the client runs (Node or a browser), trusting nothing but the
 * keys you give. A tree proof (algorithm RFC9162-SHA256): the event's hash from its own fields, its
 * leaf, the RFC 9162 path from the leaf to the checkpoint's root, the checkpoint's note, its key and
 * that key's window, and the Ed25519 signature (tree.ts). A digest-v1 proof (data sealed before
 * checkpoints): the RFC 6962 path to the digest's root, the digest's hash and its signature.
 */
export interface ProofCheck {
  valid: boolean;
  format: 'tree' | 'digest-v1';
  /** Each check by name: true when it held. `checkpoint`/`keyWindow` for tree proofs, `digestHash` for digest-v1. */
  checks: { eventHash: boolean; merklePath: boolean; signature: boolean; checkpoint?: boolean; keyWindow?: boolean; digestHash?: boolean };
  /** Why it is not valid, in words; null when it is. */
  problem: string | null;
}

export interface ConsistencyCheck {
  valid: boolean;
  checks: { checkpoint: boolean; keyWindow: boolean; signature: boolean; consistency: boolean };
  problem: string | null;
}

const DIGEST_FIELDS = [
  'version',
  'tenant_id',
  'seq',
  'count',
  'first_event_id',
  'last_event_id',
  'first_position',
  'last_position',
  'merkle_root',
  'prev_hash',
  'sealed_at',
  'key_id',
] as const;

const utf8 = (text: string) => new TextEncoder().encode(text);

function canonical(value: unknown): string {
  const text = canonicalize(value);
  if (text === undefined) throw new Error('value has no JSON form');
  return text;
}

/** SHA-256 of the event's RFC 8785 JSON without its hash: what the server stored as `hash`. */
export function eventHashOf(event: object): string {
  const { hash: _hash, ...content } = event as { hash?: unknown };
  return bytesToHex(sha256(utf8(canonical(content))));
}

export function digestBodyText(digest: Digest): string {
  return canonical(Object.fromEntries(DIGEST_FIELDS.map((field) => [field, digest[field]])));
}

const concat = (prefix: number, ...parts: Uint8Array[]) => {
  const out = new Uint8Array(1 + parts.reduce((n, part) => n + part.length, 0));
  out[0] = prefix;
  let at = 1;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
};
const leafHash = (entry: Uint8Array) => sha256(concat(0, entry));
const nodeHash = (left: Uint8Array, right: Uint8Array) => sha256(concat(1, left, right));

/** RFC 9162 §2.1.3.2: the root from one leaf and its audit path. */
export function rootFromPath(entry: Uint8Array, index: number, size: number, path: readonly Uint8Array[]): Uint8Array | null {
  if (index < 0 || index >= size) return null;
  let fn = index;
  let sn = size - 1;
  let r = leafHash(entry);
  for (const p of path) {
    if (sn === 0) return null;
    if (fn % 2 === 1 || fn === sn) {
      r = nodeHash(p, r);
      if (fn % 2 === 0) {
        while (fn % 2 === 0 && fn !== 0) {
          fn >>= 1;
          sn >>= 1;
        }
      }
    } else {
      r = nodeHash(r, p);
    }
    fn >>= 1;
    sn >>= 1;
  }
  return sn === 0 ? r : null;
}

const treeEventHashProblem = 'the event does not match its hash: it was changed after it was stored';

function checkTreeProof(proof: Proof, checkpoint: Checkpoint, keys: readonly TrustedKey[]): ProofCheck {
  const eventHash = eventHashOf(proof.event);
  const eventHashOk = proof.event.hash === eventHash;
  const leaf = eventLeafHash(eventHash, proof.event.timestamp);
  const path = hashesOf(proof.path);
  const root = hashesOf([checkpoint.root_hash]);
  const merkleOk =
    path !== null &&
    root !== null &&
    proof.tree_size === checkpoint.tree_size &&
    (proof.leaf_hash === undefined || proof.leaf_hash === bytesToHex(leaf)) &&
    verifyInclusion(proof.leaf_index, proof.tree_size, leaf, path, root[0] as Uint8Array);
  const signed = checkCheckpoint(checkpoint, keys);
  const checks = {
    eventHash: eventHashOk,
    merklePath: merkleOk,
    checkpoint: signed.note,
    keyWindow: signed.keyWindow,
    signature: signed.signature,
  };
  const problem = !eventHashOk
    ? treeEventHashProblem
    : !merkleOk
      ? `the inclusion proof does not lead from the event's leaf ${proof.leaf_index} to the root of checkpoint ${checkpoint.tree_size}`
      : signed.problem;
  return { valid: problem === null, format: 'tree', checks, problem };
}

function checkDigestProof(proof: Proof, digest: Digest, keys: readonly TrustedKey[]): ProofCheck {
  const eventHash = eventHashOf(proof.event);
  const eventHashOk = proof.event.hash === undefined || proof.event.hash === eventHash;
  const root = rootFromPath(hexToBytes(eventHash), proof.leaf_index, proof.tree_size, proof.path.map(hexToBytes));
  const merkleOk = root !== null && bytesToHex(root) === digest.merkle_root && proof.tree_size === digest.count;
  const body = digestBodyText(digest);
  const digestHashOk = bytesToHex(sha256(utf8(body))) === digest.hash;
  // Digest-v1 digests predate key windows: any trusted key with the digest's kid.
  const key = keys.find((candidate) => candidate.kid === digest.key_id);
  let signatureOk = false;
  try {
    signatureOk = key !== undefined && ed25519.verify(fromBase64(digest.signature), utf8(body), key.raw);
  } catch {
    signatureOk = false;
  }
  const checks = { eventHash: eventHashOk, merklePath: merkleOk, digestHash: digestHashOk, signature: signatureOk };
  const problem = !eventHashOk
    ? treeEventHashProblem
    : !merkleOk
      ? 'the Merkle path does not lead from the event to the digest’s root'
      : !digestHashOk
        ? 'the digest does not match its hash'
        : !signatureOk
          ? 'the digest’s signature does not verify with this public key'
          : null;
  return { valid: problem === null, format: 'digest-v1', checks, problem };
}

/**
 * Checks one proof. `keys` is what you trust: the JWKS of GET /api/v1/integrity/keys (every key with
 * its window; pin a copy you got out of band) or one PEM public key, valid for all time.
 */
export function checkProof(proof: Proof, keys: string | Jwks): ProofCheck {
  const trusted = trustedKeys(keys);
  if (proof.checkpoint) return checkTreeProof(proof, proof.checkpoint, trusted);
  if (proof.digest) return checkDigestProof(proof, proof.digest, trusted);
  return {
    valid: false,
    format: 'tree',
    checks: { eventHash: false, merklePath: false, signature: false },
    problem: 'the proof names neither a checkpoint nor a digest',
  };
}

/**
 * Checks that the log today extends a checkpoint you kept (RFC 9162 §2.1.4): the consistency proof
 * from `trusted` (its size and root) to the answer's checkpoint, and that checkpoint's signature
 * under `keys`. A log that rewrote or dropped anything before `trusted.tree_size` cannot pass.
 */
export function checkConsistency(
  trusted: Pick<Checkpoint, 'tree_size' | 'root_hash'>,
  answer: Consistency,
  keys: string | Jwks,
): ConsistencyCheck {
  const signed = checkCheckpoint(answer.checkpoint, trustedKeys(keys));
  const proof = hashesOf(answer.proof);
  const roots = hashesOf([trusted.root_hash, answer.checkpoint.root_hash]);
  const consistent =
    proof !== null &&
    roots !== null &&
    answer.from === trusted.tree_size &&
    answer.to === answer.checkpoint.tree_size &&
    verifyConsistency(trusted.tree_size, answer.checkpoint.tree_size, roots[0] as Uint8Array, roots[1] as Uint8Array, proof);
  const checks = { checkpoint: signed.note, keyWindow: signed.keyWindow, signature: signed.signature, consistency: consistent };
  const problem =
    signed.problem ??
    (consistent
      ? null
      : `checkpoint ${answer.checkpoint.tree_size} does not extend the trusted checkpoint ${trusted.tree_size}: the log was rewritten, or it shows different views (split view)`);
  return { valid: problem === null, checks, problem };
}
