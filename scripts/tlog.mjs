// Transparency-log checks an auditor can read in one file: RFC 9162 inclusion and consistency
// proofs, C2SP checkpoints (signed notes) and witness cosignatures, the event leaf, and the key
// ring's validity windows. It imports nothing from the server: node:crypto and canonicalize only,
// so what it accepts does not depend on the code being checked. scripts/verify-offline.mjs and
// scripts/witness.mjs use it; docs: tamper evidence.
import { createHash, createPublicKey, sign, verify } from 'node:crypto';
import canonicalize from 'canonicalize';

const sha256 = (...parts) => {
  const hash = createHash('sha256');
  for (const part of parts) hash.update(part);
  return hash.digest();
};

export const hashLeaf = (entry) => sha256(Buffer.from([0]), entry);
export const hashChildren = (left, right) => sha256(Buffer.from([1]), left, right);

/** SHA-256 of the event's RFC 8785 JSON without "hash". */
export function eventHash(event) {
  const { hash: _hash, ...content } = event;
  return createHash('sha256').update(canonicalize(content)).digest('hex');
}

/** The tree leaf of an event: RFC 8785 JSON of its hash and timestamp, leaf-hashed. */
export const eventLeafHash = (hash, timestamp) => hashLeaf(Buffer.from(canonicalize({ hash, timestamp })));

const isPowerOfTwo = (n) => n > 0 && (n & (n - 1)) === 0;
const half = (n) => Math.floor(n / 2);

/** RFC 9162 §2.1.3.2. */
export function verifyInclusion(index, size, leafHash, proof, root) {
  if (index < 0 || index >= size) return false;
  let fn = index;
  let sn = size - 1;
  let r = Buffer.from(leafHash);
  for (const p of proof) {
    if (p.length !== 32 || sn === 0) return false;
    if (fn % 2 === 1 || fn === sn) {
      r = hashChildren(p, r);
      if (fn % 2 === 0) while (fn % 2 === 0 && fn !== 0) [fn, sn] = [half(fn), half(sn)];
    } else r = hashChildren(r, p);
    [fn, sn] = [half(fn), half(sn)];
  }
  return sn === 0 && r.equals(Buffer.from(root));
}

/** RFC 9162 §2.1.4.2. */
export function verifyConsistency(first, second, root1, root2, proof) {
  if (first < 0 || second < first) return false;
  if (first === second) return proof.length === 0 && Buffer.from(root1).equals(Buffer.from(root2));
  if (first === 0) return proof.length === 0;
  if (proof.length === 0 || proof.some((p) => p.length !== 32)) return false;
  const path = isPowerOfTwo(first) ? [Buffer.from(root1), ...proof] : [...proof];
  let fn = first - 1;
  let sn = second - 1;
  while (fn % 2 === 1) [fn, sn] = [half(fn), half(sn)];
  let fr = Buffer.from(path[0]);
  let sr = Buffer.from(path[0]);
  for (const c of path.slice(1)) {
    if (sn === 0) return false;
    if (fn % 2 === 1 || fn === sn) {
      fr = hashChildren(c, fr);
      sr = hashChildren(c, sr);
      if (fn % 2 === 0) while (fn % 2 === 0 && fn !== 0) [fn, sn] = [half(fn), half(sn)];
    } else sr = hashChildren(sr, c);
    [fn, sn] = [half(fn), half(sn)];
  }
  return sn === 0 && fr.equals(Buffer.from(root1)) && sr.equals(Buffer.from(root2));
}

/** MTH over leaf hashes (RFC 9162 §2.1.1), split at the largest power of two below n. */
export function rootOfLeafHashes(leaves) {
  if (leaves.length === 0) return sha256();
  if (leaves.length === 1) return Buffer.from(leaves[0]);
  let k = 1;
  while (k * 2 < leaves.length) k *= 2;
  return hashChildren(rootOfLeafHashes(leaves.slice(0, k)), rootOfLeafHashes(leaves.slice(k)));
}

/**
 * The root from a multi-leaf proof: `known` maps leaf index to leaf hash, `hashes` are the MTHs of
 * the maximal subtrees with no known leaf, left to right (as the server's manifest lists them).
 * Returns null when the hashes run short or are left over.
 */
export function rootFromMultiProof(size, known, hashes) {
  const indexes = [...known.keys()].sort((a, b) => a - b);
  let next = 0;
  const anyIn = (start, end) => {
    let lo = 0;
    let hi = indexes.length;
    while (lo < hi) {
      const mid = half(lo + hi);
      if (indexes[mid] < start) lo = mid + 1;
      else hi = mid;
    }
    return lo < indexes.length && indexes[lo] < end;
  };
  const walk = (start, end) => {
    if (!anyIn(start, end)) {
      if (next >= hashes.length) throw new Error('short');
      return Buffer.from(hashes[next++]);
    }
    if (end - start === 1) return Buffer.from(known.get(start));
    let k = 1;
    while (k * 2 < end - start) k *= 2;
    const left = walk(start, start + k);
    return hashChildren(left, walk(start + k, end));
  };
  try {
    if (size === 0) return hashes.length === 0 ? sha256() : null;
    const root = walk(0, size);
    return next === hashes.length ? root : null;
  } catch {
    return null;
  }
}

// --- signed notes (c2sp.org/signed-note, tlog-checkpoint, tlog-cosignature) ---------------------

const SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');
export const publicKeyFromRaw = (raw) => createPublicKey({ key: Buffer.concat([SPKI_PREFIX, raw]), format: 'der', type: 'spki' });
export const rawOf = (key) => {
  const der = key.export({ type: 'spki', format: 'der' });
  return der.subarray(der.length - 32);
};
export const noteKeyHash = (name, type, raw) => sha256(Buffer.from(`${name}\n`), Buffer.from([type]), raw).subarray(0, 4);

/** `name+hash+base64(type||key)` → { name, type, keyHash, key }; throws when malformed. */
export function parseVerifierKey(text) {
  // The key is base64, which may itself hold '+': only the first two '+' separate.
  const match = /^([^+\s]+)\+([0-9a-f]{8})\+(\S+)$/.exec(text.trim());
  if (!match) throw new Error(`"${text}" is not a verifier key (name+hash+key)`);
  const [, name, hashHex, keyB64] = match;
  const bytes = Buffer.from(keyB64, 'base64');
  if (bytes.length !== 33 || (bytes[0] !== 1 && bytes[0] !== 4)) throw new Error(`verifier key ${name} is not an Ed25519 key`);
  const keyHash = noteKeyHash(name, bytes[0], bytes.subarray(1));
  if (keyHash.toString('hex') !== hashHex) throw new Error(`verifier key ${name} has the wrong key hash`);
  return { name, type: bytes[0], keyHash, key: publicKeyFromRaw(bytes.subarray(1)), raw: bytes.subarray(1) };
}

export function verifierKeyOf(name, type, raw) {
  return `${name}+${noteKeyHash(name, type, raw).toString('hex')}+${Buffer.concat([Buffer.from([type]), raw]).toString('base64')}`;
}

/** { body, signatures: [{ name, keyHash, payload, line }] } or null. */
export function splitNote(note) {
  const at = note.lastIndexOf('\n\n');
  if (at < 0 || !note.endsWith('\n')) return null;
  const signatures = [];
  for (const line of note.slice(at + 2, -1).split('\n')) {
    const match = /^\u2014 (\S+) (\S+)$/.exec(line);
    if (!match) return null;
    const bytes = Buffer.from(match[2], 'base64');
    if (bytes.length < 5) return null;
    signatures.push({ name: match[1], keyHash: bytes.subarray(0, 4), payload: bytes.subarray(4), line });
  }
  return signatures.length ? { body: note.slice(0, at + 1), signatures } : null;
}

/** { origin, size, root (Buffer), time } or null. */
export function parseCheckpoint(body) {
  const lines = body.split('\n');
  if (lines.at(-1) !== '' || lines.length < 4) return null;
  const [origin, size, root, ...rest] = lines.slice(0, -1);
  if (!origin || !/^(0|[1-9][0-9]*)$/.test(size)) return null;
  const rootHash = Buffer.from(root, 'base64');
  if (rootHash.length !== 32 || rootHash.toString('base64') !== root) return null;
  const time = rest.find((line) => line.startsWith('time '))?.slice(5);
  if (!time || Number.isNaN(Date.parse(time))) return null;
  return { origin, size: Number(size), root: rootHash, time };
}

/**
 * Checks a checkpoint note against a JWKS key ring (with windows) for the log name; returns
 * { checkpoint, kid } or { problem }.
 */
export function checkCheckpointNote(note, jwks, logName) {
  const split = splitNote(note);
  if (!split) return { problem: 'not a signed note' };
  const checkpoint = parseCheckpoint(split.body);
  if (!checkpoint) return { problem: 'not a checkpoint' };
  for (const jwk of jwks.keys) {
    const raw = Buffer.from(jwk.x, 'base64url');
    const keyHash = noteKeyHash(logName, 1, raw);
    const signature = split.signatures.find((s) => s.name === logName && s.keyHash.equals(keyHash));
    if (!signature) continue;
    if (!verify(null, Buffer.from(split.body), publicKeyFromRaw(raw), signature.payload))
      return { problem: `its signature by key ${jwk.kid} does not verify` };
    if (jwk.not_before && checkpoint.time < jwk.not_before)
      return { problem: `signed by key ${jwk.kid} at ${checkpoint.time}, before its window opens (${jwk.not_before})` };
    if (jwk.not_after && checkpoint.time >= jwk.not_after)
      return { problem: `signed by key ${jwk.kid} at ${checkpoint.time}, after its window closed (${jwk.not_after})` };
    return { checkpoint, kid: jwk.kid, body: split.body, signatures: split.signatures };
  }
  return { problem: 'signed by no key of the key ring' };
}

const cosignedMessage = (body, timestamp) => Buffer.from(`cosignature/v1\ntime ${timestamp}\n${body}`);

export function cosignatureLine(name, privateKey, body, timestamp) {
  const keyHash = noteKeyHash(name, 4, rawOf(createPublicKey(privateKey)));
  const time = Buffer.alloc(8);
  time.writeBigUInt64BE(BigInt(timestamp));
  return `\u2014 ${name} ${Buffer.concat([keyHash, time, sign(null, cosignedMessage(body, timestamp), privateKey)]).toString('base64')}`;
}

/** True when one of the signatures is this witness's valid cosignature (vkey of type 0x04) over body. */
export function hasCosignature(body, signatures, witness) {
  return signatures.some((s) => {
    if (s.name !== witness.name || !s.keyHash.equals(witness.keyHash) || s.payload.length !== 72) return false;
    const timestamp = s.payload.readBigUInt64BE(0);
    return verify(null, cosignedMessage(body, timestamp), witness.key, s.payload.subarray(8));
  });
}

export const fromHex = (list) => list.map((h) => Buffer.from(h, 'hex'));
