import { ed25519 } from '@noble/curves/ed25519.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex, hexToBytes } from '@noble/hashes/utils.js';
import canonicalize from 'canonicalize';
import type { Digest, Proof } from './types.js';

/**
 * Checks an inclusion proof where the client runs (Node or a browser), trusting nothing but
 * the public key: the event's hash from its own fields, the Merkle path from that hash to the
 * digest's root (RFC 6962), the digest's hash from its fields, and its Ed25519 signature.
 */
export interface ProofCheck {
  valid: boolean;
  /** Each check by name: true when it held. */
  checks: { eventHash: boolean; merklePath: boolean; digestHash: boolean; signature: boolean };
  /** Why it is not valid, in words; null when it is. */
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

/** The raw 32-byte Ed25519 key inside an SPKI PEM (the server's /api/v1/integrity/public-key). */
export function ed25519KeyFromPem(pem: string): Uint8Array {
  const base64 = pem.replace(/-----(BEGIN|END) PUBLIC KEY-----/g, '').replace(/\s+/g, '');
  const der = Uint8Array.from(atob(base64), (char) => char.charCodeAt(0));
  const prefix = '302a300506032b6570032100';
  if (der.length !== 44 || bytesToHex(der.subarray(0, 12)) !== prefix) throw new Error('not an Ed25519 public key (SPKI PEM)');
  return der.subarray(12);
}

export function checkProof(proof: Proof, publicKeyPem: string): ProofCheck {
  const eventHash = eventHashOf(proof.event);
  const eventHashOk = proof.event.hash === undefined || proof.event.hash === eventHash;
  const root = rootFromPath(hexToBytes(eventHash), proof.leaf_index, proof.tree_size, proof.path.map(hexToBytes));
  const merkleOk = root !== null && bytesToHex(root) === proof.digest.merkle_root && proof.tree_size === proof.digest.count;
  const body = digestBodyText(proof.digest);
  const digestHashOk = bytesToHex(sha256(utf8(body))) === proof.digest.hash;
  let signatureOk = false;
  try {
    const signature = Uint8Array.from(atob(proof.digest.signature), (char) => char.charCodeAt(0));
    signatureOk = ed25519.verify(signature, utf8(body), ed25519KeyFromPem(publicKeyPem));
  } catch {
    signatureOk = false;
  }
  const checks = { eventHash: eventHashOk, merklePath: merkleOk, digestHash: digestHashOk, signature: signatureOk };
  const problem = !eventHashOk
    ? 'the event does not match its hash: it was changed after it was stored'
    : !merkleOk
      ? 'the Merkle path does not lead from the event to the digest’s root'
      : !digestHashOk
        ? 'the digest does not match its hash'
        : !signatureOk
          ? 'the digest’s signature does not verify with this public key'
          : null;
  return { valid: problem === null, checks, problem };
}
