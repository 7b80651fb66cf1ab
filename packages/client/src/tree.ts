import { ed25519 } from '@noble/curves/ed25519.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex, hexToBytes } from '@noble/hashes/utils.js';
import canonicalize from 'canonicalize';
import type { Checkpoint, Jwks } from './types.js';

/**
 * The tenant tree's checks where the client runs (Node or a browser), with nothing of the server's
 * code: RFC 9162 inclusion (§2.1.3.2) and consistency (§2.1.4.2) proofs, the event's leaf, and the
 * checkpoint as a C2SP signed note (c2sp.org/tlog-checkpoint, c2sp.org/signed-note) under a key of
 * the log's key ring, inside that key's validity window (docs/tamper-evidence.md).
 */

const utf8 = (text: string) => new TextEncoder().encode(text);

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, part) => n + part.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

const hashLeaf = (entry: Uint8Array) => sha256(concat(Uint8Array.of(0), entry));
const hashChildren = (left: Uint8Array, right: Uint8Array) => sha256(concat(Uint8Array.of(1), left, right));
const equal = (a: Uint8Array, b: Uint8Array) => a.length === b.length && a.every((byte, index) => byte === b[index]);
const half = (n: number) => Math.floor(n / 2);

export const fromBase64 = (text: string): Uint8Array => Uint8Array.from(atob(text), (char) => char.charCodeAt(0));
const toBase64 = (bytes: Uint8Array): string => btoa(String.fromCharCode(...bytes));
const fromBase64Url = (text: string): Uint8Array =>
  fromBase64(
    text
      .replace(/-/g, '+')
      .replace(/_/g, '/')
      .padEnd(Math.ceil(text.length / 4) * 4, '='),
  );

function jcs(value: unknown): string {
  const text = canonicalize(value);
  if (text === undefined) throw new Error('value has no JSON form');
  return text;
}

/** The tree leaf of an event: SHA-256(0x00 || RFC 8785 JSON of {hash, timestamp}). */
export function eventLeafHash(eventHash: string, timestamp: string): Uint8Array {
  return hashLeaf(utf8(jcs({ hash: eventHash, timestamp })));
}

/** RFC 9162 §2.1.3.2: true when the audit path leads from the leaf at `index` to `root` of a tree of `size`. */
export function verifyInclusion(index: number, size: number, leafHash: Uint8Array, path: readonly Uint8Array[], root: Uint8Array): boolean {
  if (!Number.isInteger(index) || index < 0 || index >= size) return false;
  let fn = index;
  let sn = size - 1;
  let r = leafHash;
  for (const p of path) {
    if (p.length !== 32 || sn === 0) return false;
    if (fn % 2 === 1 || fn === sn) {
      r = hashChildren(p, r);
      while (fn % 2 === 0 && fn !== 0) {
        fn = half(fn);
        sn = half(sn);
      }
    } else {
      r = hashChildren(r, p);
    }
    fn = half(fn);
    sn = half(sn);
  }
  return sn === 0 && equal(r, root);
}

/** RFC 9162 §2.1.4.2: true when the tree of size `second` and root `root2` extends the one of size `first` and root `root1`. */
export function verifyConsistency(
  first: number,
  second: number,
  root1: Uint8Array,
  root2: Uint8Array,
  proof: readonly Uint8Array[],
): boolean {
  if (!Number.isInteger(first) || !Number.isInteger(second) || first < 0 || second < first) return false;
  if (first === second) return proof.length === 0 && equal(root1, root2);
  if (first === 0) return proof.length === 0;
  if (proof.length === 0 || proof.some((p) => p.length !== 32)) return false;
  const path = (first & (first - 1)) === 0 ? [root1, ...proof] : [...proof];
  let fn = first - 1;
  let sn = second - 1;
  while (fn % 2 === 1) {
    fn = half(fn);
    sn = half(sn);
  }
  let fr = path[0] as Uint8Array;
  let sr = path[0] as Uint8Array;
  for (const c of path.slice(1)) {
    if (sn === 0) return false;
    if (fn % 2 === 1 || fn === sn) {
      fr = hashChildren(c, fr);
      sr = hashChildren(c, sr);
      while (fn % 2 === 0 && fn !== 0) {
        fn = half(fn);
        sn = half(sn);
      }
    } else {
      sr = hashChildren(sr, c);
    }
    fn = half(fn);
    sn = half(sn);
  }
  return sn === 0 && equal(fr, root1) && equal(sr, root2);
}

// --- keys and signed notes --------------------------------------------------------------------

const SPKI_ED25519_PREFIX = hexToBytes('302a300506032b6570032100');

/** A key the caller trusts: raw Ed25519 bytes, the kid the server names it by, and its window. */
export interface TrustedKey {
  kid: string;
  raw: Uint8Array;
  /** The key name in checkpoint signature lines (the JWK's note_key); any name when absent. */
  name: string | null;
  notBefore: string | null;
  notAfter: string | null;
}

/** The kid the server gives a key: the first 16 bytes of SHA-256 over its SPKI DER, hex. */
export const kidOf = (raw: Uint8Array): string => bytesToHex(sha256(concat(SPKI_ED25519_PREFIX, raw))).slice(0, 32);

/** The raw 32-byte Ed25519 key inside an SPKI PEM (the server's /api/v1/integrity/public-key). */
export function ed25519KeyFromPem(pem: string): Uint8Array {
  const der = fromBase64(pem.replace(/-----(BEGIN|END) PUBLIC KEY-----/g, '').replace(/\s+/g, ''));
  if (der.length !== 44 || !equal(der.subarray(0, 12), SPKI_ED25519_PREFIX)) throw new Error('not an Ed25519 public key (SPKI PEM)');
  return der.subarray(12);
}

/**
 * The keys to check against: a JWKS as GET /api/v1/integrity/keys gives it (every key with its
 * window), or one PEM, valid for all time. A JWK whose kid is not its key's is refused.
 */
export function trustedKeys(keys: string | Jwks): TrustedKey[] {
  if (typeof keys === 'string') {
    const raw = ed25519KeyFromPem(keys);
    return [{ kid: kidOf(raw), raw, name: null, notBefore: null, notAfter: null }];
  }
  return keys.keys.map((jwk) => {
    const raw = fromBase64Url(jwk.x);
    if (raw.length !== 32) throw new Error(`key ${jwk.kid} is not a 32-byte Ed25519 key`);
    if (kidOf(raw) !== jwk.kid) throw new Error(`key ${jwk.kid} is named by a kid that is not its own (${kidOf(raw)})`);
    return { kid: jwk.kid, raw, name: jwk.note_key.split('+')[0] ?? null, notBefore: jwk.not_before, notAfter: jwk.not_after };
  });
}

/** c2sp.org/signed-note: SHA-256(name || 0x0A || type || key)[:4]; type 0x01 is Ed25519. */
const noteKeyHash = (name: string, raw: Uint8Array) => sha256(concat(utf8(`${name}\n`), Uint8Array.of(1), raw)).subarray(0, 4);

export interface CheckpointCheck {
  /** The note is a checkpoint that states the tree size, root and time it is served with. */
  note: boolean;
  /** Its kid names a trusted key, and its time is inside that key's [not_before, not_after) window. */
  keyWindow: boolean;
  /** The key's Ed25519 signature line over the note's body verifies. */
  signature: boolean;
  problem: string | null;
}

/** Checks a checkpoint on its own: what the note says, whose key signed it, when, and the signature. */
export function checkCheckpoint(
  checkpoint: Pick<Checkpoint, 'note' | 'tree_size' | 'root_hash' | 'time' | 'key_id'>,
  keys: readonly TrustedKey[],
): CheckpointCheck {
  const note = checkpoint.note;
  const at = note.lastIndexOf('\n\n');
  const body = at < 0 ? '' : note.slice(0, at + 1);
  const [origin, size, root, ...extensions] = body.split('\n');
  const time = extensions.find((line) => line.startsWith('time '))?.slice(5);
  let rootOk = false;
  try {
    rootOk = root !== undefined && root === toBase64(hexToBytes(checkpoint.root_hash));
  } catch {
    rootOk = false;
  }
  const noteOk = at >= 0 && !!origin && size === String(checkpoint.tree_size) && rootOk && time === checkpoint.time;
  const key = keys.find((candidate) => candidate.kid === checkpoint.key_id);
  const inWindow =
    key !== undefined &&
    time !== undefined &&
    (key.notBefore === null || time >= key.notBefore) &&
    (key.notAfter === null || time < key.notAfter);
  let signatureOk = false;
  if (key && at >= 0) {
    for (const line of note.slice(at + 2).split('\n')) {
      const match = /^\u2014 (\S+) (\S+)$/.exec(line);
      if (!match || (key.name !== null && match[1] !== key.name)) continue;
      let bytes: Uint8Array;
      try {
        bytes = fromBase64(match[2] as string);
      } catch {
        continue;
      }
      if (bytes.length !== 68 || !equal(bytes.subarray(0, 4), noteKeyHash(match[1] as string, key.raw))) continue;
      try {
        signatureOk = ed25519.verify(bytes.subarray(4), utf8(body), key.raw);
      } catch {
        signatureOk = false;
      }
      if (signatureOk) break;
    }
  }
  const problem = !noteOk
    ? `checkpoint ${checkpoint.tree_size}: its note does not state the size, root and time it is served with`
    : key === undefined
      ? `checkpoint ${checkpoint.tree_size} names key ${checkpoint.key_id}, which is not one of the trusted keys`
      : !inWindow
        ? `checkpoint ${checkpoint.tree_size} is signed by key ${key.kid} at ${time}, outside that key's window [${key.notBefore ?? '-∞'}, ${key.notAfter ?? '∞'})`
        : !signatureOk
          ? `checkpoint ${checkpoint.tree_size}: its signature does not verify under key ${key.kid}`
          : null;
  return { note: noteOk, keyWindow: inWindow, signature: signatureOk, problem };
}

/** A hex list as bytes; null when an entry is not 32 bytes of hex. */
export function hashesOf(list: readonly string[]): Uint8Array[] | null {
  try {
    const bytes = list.map((text) => hexToBytes(text));
    return bytes.every((hash) => hash.length === 32) ? bytes : null;
  } catch {
    return null;
  }
}
