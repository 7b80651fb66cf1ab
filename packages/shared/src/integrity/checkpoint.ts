import { createPublicKey, hash, type KeyObject, sign, verify } from 'node:crypto';

/**
 * Checkpoints as C2SP signed notes (c2sp.org/tlog-checkpoint, c2sp.org/signed-note) and witness
 * cosignatures (c2sp.org/tlog-cosignature), Ed25519 only.
 *
 *   <origin>\n<tree size>\n<base64 root hash>\ntime <ISO 8601>\n
 *   \n
 *   — <key name> <base64(4-byte key hash || 64-byte signature)>\n
 *
 * The `time` extension line is ours: it is what verify holds against a key's validity window.
 * Key hash = SHA-256(name || 0x0A || 0x01 || public key)[:4] for the log, with 0x04 for a
 * cosignature, whose signed message is "cosignature/v1\ntime <unix seconds>\n" + the note body.
 */

const ED25519_TYPE = 0x01;
const COSIGNATURE_TYPE = 0x04;
const DASH = '\u2014';
const SPKI_ED25519_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');

export interface CheckpointBody {
  origin: string;
  treeSize: number;
  /** 32 bytes. */
  rootHash: Buffer;
  /** ISO 8601 time the log signed it at. */
  time: string;
}

export interface NoteSignature {
  name: string;
  keyHash: Buffer;
  /** The bytes after the key hash: the signature (log), or timestamp and signature (cosignature). */
  payload: Buffer;
  line: string;
}

export function rawPublicKey(key: KeyObject): Buffer {
  const der = key.export({ type: 'spki', format: 'der' });
  return Buffer.from(der.subarray(der.length - 32));
}

export function publicKeyFromRaw(raw: Uint8Array): KeyObject {
  return createPublicKey({ key: Buffer.concat([SPKI_ED25519_PREFIX, raw]), format: 'der', type: 'spki' });
}

export function noteKeyHash(name: string, type: number, rawKey: Uint8Array): Buffer {
  return hash('sha256', Buffer.concat([Buffer.from(`${name}\n`), Buffer.from([type]), rawKey]), 'buffer').subarray(0, 4);
}

/** A verifier key string of the signed-note spec: `<name>+<hex key hash>+<base64(type || key)>`. */
export function verifierKey(name: string, rawKey: Uint8Array, type = ED25519_TYPE): string {
  return `${name}+${noteKeyHash(name, type, rawKey).toString('hex')}+${Buffer.concat([Buffer.from([type]), rawKey]).toString('base64')}`;
}

export interface ParsedVerifierKey {
  name: string;
  type: number;
  keyHash: Buffer;
  key: KeyObject;
  raw: Buffer;
}

/** Parses a verifier key string; throws with what is wrong. */
export function parseVerifierKey(text: string): ParsedVerifierKey {
  // The key is base64, which may itself hold '+': only the first two '+' separate.
  const match = /^([^+\s]+)\+([0-9a-f]{8})\+(\S+)$/.exec(text.trim());
  if (!match) throw new Error(`"${text}" is not a verifier key (name+hash+key)`);
  const [, name, hashHex, keyB64] = match as unknown as [string, string, string, string];
  const bytes = Buffer.from(keyB64, 'base64');
  if (bytes.length !== 33 || (bytes[0] !== ED25519_TYPE && bytes[0] !== COSIGNATURE_TYPE))
    throw new Error(`verifier key ${name} is not an Ed25519 key (type 0x01 or 0x04, 32 bytes)`);
  const type = bytes[0] as number;
  const raw = bytes.subarray(1);
  const keyHash = noteKeyHash(name, type, raw);
  if (keyHash.toString('hex') !== hashHex) throw new Error(`verifier key ${name} has the wrong key hash`);
  return { name, type, keyHash, key: publicKeyFromRaw(raw), raw };
}

export function formatCheckpointBody(body: CheckpointBody): string {
  if (body.rootHash.length !== 32) throw new Error('a root hash has 32 bytes');
  return `${body.origin}\n${body.treeSize}\n${body.rootHash.toString('base64')}\ntime ${body.time}\n`;
}

/** Parses a note body as a checkpoint; null when it is not one. */
export function parseCheckpointBody(text: string): CheckpointBody | null {
  const lines = text.split('\n');
  if (lines.at(-1) !== '' || lines.length < 4) return null;
  const [origin, size, root, ...extensions] = lines.slice(0, -1) as [string, string, string, ...string[]];
  if (origin === '' || !/^(0|[1-9][0-9]*)$/.test(size)) return null;
  const rootHash = Buffer.from(root, 'base64');
  if (rootHash.length !== 32 || rootHash.toString('base64') !== root) return null;
  const time = extensions.find((line) => line.startsWith('time '))?.slice(5);
  if (time === undefined || Number.isNaN(Date.parse(time))) return null;
  return { origin, treeSize: Number(size), rootHash, time };
}

/** Splits a signed note into its body and signature lines; null when it is not a signed note. */
export function splitNote(note: string): { body: string; signatures: NoteSignature[] } | null {
  const at = note.lastIndexOf('\n\n');
  if (at < 0 || !note.endsWith('\n')) return null;
  const body = note.slice(0, at + 1);
  const signatures: NoteSignature[] = [];
  for (const line of note.slice(at + 2, -1).split('\n')) {
    const match = /^\u2014 (\S+) (\S+)$/.exec(line);
    if (!match) return null;
    const bytes = Buffer.from(match[2] as string, 'base64');
    if (bytes.length < 5) return null;
    signatures.push({ name: match[1] as string, keyHash: bytes.subarray(0, 4), payload: bytes.subarray(4), line });
  }
  return signatures.length === 0 ? null : { body, signatures };
}

export interface NoteSigner {
  name: string;
  rawPublicKey: Buffer;
  sign(data: Buffer): Buffer;
}

export function signatureLine(signer: NoteSigner, body: string): string {
  const signature = signer.sign(Buffer.from(body));
  const keyHash = noteKeyHash(signer.name, ED25519_TYPE, signer.rawPublicKey);
  return `${DASH} ${signer.name} ${Buffer.concat([keyHash, signature]).toString('base64')}`;
}

export function signCheckpoint(signer: NoteSigner, body: CheckpointBody): string {
  const text = formatCheckpointBody(body);
  return `${text}\n${signatureLine(signer, text)}\n`;
}

/** True when one of the note's signatures is this key's, over this body. */
export function verifyNoteSignature(body: string, signatures: readonly NoteSignature[], name: string, key: KeyObject): boolean {
  const keyHash = noteKeyHash(name, ED25519_TYPE, rawPublicKey(key));
  return signatures.some(
    (s) => s.name === name && s.keyHash.equals(keyHash) && s.payload.length === 64 && verify(null, Buffer.from(body), key, s.payload),
  );
}

const cosignedMessage = (body: string, timestamp: bigint): Buffer => Buffer.from(`cosignature/v1\ntime ${timestamp}\n${body}`);

/** A witness's cosignature line over a checkpoint body (its private key in hand: tests and scripts/witness). */
export function cosignatureLine(name: string, privateKey: KeyObject, body: string, timestamp: bigint): string {
  const raw = rawPublicKey(createPublicKey(privateKey));
  const keyHash = noteKeyHash(name, COSIGNATURE_TYPE, raw);
  const time = Buffer.alloc(8);
  time.writeBigUInt64BE(timestamp);
  const signature = sign(null, cosignedMessage(body, timestamp), privateKey);
  return `${DASH} ${name} ${Buffer.concat([keyHash, time, signature]).toString('base64')}`;
}

/** The cosignature's timestamp when the line is this witness's valid cosignature of the body, else null. */
export function verifyCosignature(body: string, line: string, witness: ParsedVerifierKey): bigint | null {
  const parsed = splitNote(`x\n\n${line}\n`)?.signatures[0];
  if (!parsed || parsed.name !== witness.name || !parsed.keyHash.equals(witness.keyHash) || parsed.payload.length !== 72) return null;
  const timestamp = parsed.payload.readBigUInt64BE(0);
  return verify(null, cosignedMessage(body, timestamp), witness.key, parsed.payload.subarray(8)) ? timestamp : null;
}
