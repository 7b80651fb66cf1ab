/**
 * Verifies one event's inclusion proof in the browser, with WebCrypto and nothing from the server
 * but the proof and the public key (README "Tamper evidence", proof format version 1):
 *   1. the event's hash: SHA-256 of its RFC 8785 (JCS) JSON without `hash`;
 *   2. the RFC 6962 Merkle path from that hash to the digest's `merkle_root`;
 *   3. the digest's hash: SHA-256 of its JCS JSON without `hash` and `signature`;
 *   4. the key: `key_id` is the first 16 bytes of SHA-256 over the public key's DER;
 *   5. the Ed25519 signature over the digest's JCS bytes.
 * Every step is reported, passed or not, so the screen can show where a proof breaks.
 */
import canonicalize from 'canonicalize';

export interface Proof {
  event: Record<string, unknown> & { id: string; hash?: string; timestamp?: string };
  /** digest-v1 data (sealed before checkpoints). */
  digest?: Record<string, unknown> & { merkle_root: string; hash: string; signature: string; key_id: string; seq: number };
  /** The tenant tree (algorithm RFC9162-SHA256): the C2SP checkpoint the path leads to. */
  checkpoint?: { tree_size: number; root_hash: string; key_id: string; note: string };
  leaf_index: number;
  tree_size: number;
  path: string[];
  algorithm: string;
}

export interface Step {
  name: string;
  ok: boolean;
  detail: string;
}

export interface ProofResult {
  /** intact: every step passed; changed: the event is not what was sealed; invalid: the digest or signature fails. */
  verdict: 'intact' | 'changed' | 'invalid';
  steps: Step[];
}

const encoder = new TextEncoder();

const hex = (bytes: ArrayBuffer | Uint8Array): string =>
  Array.from(bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes), (b) => b.toString(16).padStart(2, '0')).join('');

function fromHex(text: string): Uint8Array {
  if (!/^(?:[0-9a-f]{2})*$/i.test(text)) throw new Error(`not hex: ${text.slice(0, 16)}…`);
  return Uint8Array.from(text.match(/../g) ?? [], (pair) => Number.parseInt(pair, 16));
}

const sha256 = async (data: Uint8Array): Promise<Uint8Array> => new Uint8Array(await crypto.subtle.digest('SHA-256', data as BufferSource));

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

function jcs(value: unknown): string {
  const text = canonicalize(value);
  if (text === undefined) throw new Error('value has no JSON form');
  return text;
}

/** RFC 9162 §2.1.3.2: the root an entry and its audit path lead to, or null when the path is malformed. */
async function rootFromPath(entry: Uint8Array, index: number, size: number, path: Uint8Array[]): Promise<Uint8Array | null> {
  if (index < 0 || index >= size) return null;
  let fn = index;
  let sn = size - 1;
  let r = await sha256(concat(Uint8Array.of(0), entry));
  for (const p of path) {
    if (sn === 0) return null;
    if (fn % 2 === 1 || fn === sn) {
      r = await sha256(concat(Uint8Array.of(1), p, r));
      while (fn % 2 === 0 && fn !== 0) {
        fn >>= 1;
        sn >>= 1;
      }
    } else {
      r = await sha256(concat(Uint8Array.of(1), r, p));
    }
    fn >>= 1;
    sn >>= 1;
  }
  return sn === 0 ? r : null;
}

function pemToDer(pem: string): Uint8Array {
  const body = pem.replace(/-----(BEGIN|END) PUBLIC KEY-----/g, '').replace(/\s+/g, '');
  return Uint8Array.from(atob(body), (c) => c.charCodeAt(0));
}

const short = (text: string) => `${text.slice(0, 16)}…`;

/** The event's hash recomputed from its content (SHA-256 of its JCS JSON), beside the hash it carries, as the first step. */
async function recomputeEventHash(proof: Proof, steps: Step[]): Promise<string> {
  const { hash: storedHash, ...content } = proof.event;
  const eventHash = hex(await sha256(encoder.encode(jcs(content))));
  steps.push({
    name: 'Event hash (SHA-256 of the JCS JSON)',
    ok: eventHash === storedHash,
    detail:
      eventHash === storedHash
        ? `recomputed ${short(eventHash)} = the event's hash`
        : `recomputed ${short(eventHash)}, but the event says ${short(String(storedHash))}: its content was changed after it was written`,
  });
  return eventHash;
}

/**
 * A tree proof (docs/tamper-evidence.md): the leaf is SHA-256(0x00 || JCS {"hash","timestamp"}), the
 * RFC 9162 path leads to the checkpoint's root, and the checkpoint is a C2SP signed note whose
 * signature line carries a 4-byte key hash and the Ed25519 signature over the note's body.
 */
async function verifyTreeProof(proof: Proof, checkpoint: NonNullable<Proof['checkpoint']>, publicKeyPem: string): Promise<ProofResult> {
  const steps: Step[] = [];
  const eventHash = await recomputeEventHash(proof, steps);
  const entry = encoder.encode(jcs({ hash: eventHash, timestamp: proof.event.timestamp }));
  const root = await rootFromPath(entry, proof.leaf_index, proof.tree_size, proof.path.map(fromHex));
  const rootOk = root !== null && hex(root) === checkpoint.root_hash;
  steps.push({
    name: `Inclusion proof (RFC 9162, leaf ${proof.leaf_index + 1} of ${proof.tree_size}, ${proof.path.length} siblings)`,
    ok: rootOk,
    detail: rootOk
      ? `leads to the checkpoint's root ${short(checkpoint.root_hash)}`
      : `leads to ${root ? short(hex(root)) : 'no root'}, not to the checkpoint's root ${short(checkpoint.root_hash)}: this is not the event that was sealed`,
  });
  const at = checkpoint.note.lastIndexOf('\n\n');
  const body = at < 0 ? '' : checkpoint.note.slice(0, at + 1);
  const [, size, rootLine] = body.split('\n');
  const rootB64 = btoa(String.fromCharCode(...fromHex(checkpoint.root_hash)));
  const noteOk = Number(size) === proof.tree_size && rootLine === rootB64;
  steps.push({
    name: `Checkpoint ${checkpoint.tree_size} (C2SP signed note)`,
    ok: noteOk,
    detail: noteOk ? 'its note states this tree size and root' : 'its note does not state the size and root it is served with',
  });
  const der = pemToDer(publicKeyPem);
  const keyId = hex(await sha256(der)).slice(0, 32);
  steps.push({
    name: 'Signing key',
    ok: keyId === checkpoint.key_id,
    detail:
      keyId === checkpoint.key_id
        ? `key ${short(keyId)} as the checkpoint names`
        : `the checkpoint names key ${checkpoint.key_id}, this key is ${keyId}`,
  });
  let signatureOk = false;
  let signatureDetail = 'the note has no signature line';
  const line = checkpoint.note.slice(at + 2).split('\n')[0] ?? '';
  const encoded = line.split(' ')[2];
  if (encoded) {
    try {
      const key = await crypto.subtle.importKey('spki', der as BufferSource, { name: 'Ed25519' }, false, ['verify']);
      const bytes = Uint8Array.from(atob(encoded), (c) => c.charCodeAt(0));
      signatureOk = await crypto.subtle.verify(
        { name: 'Ed25519' },
        key,
        bytes.slice(4) as BufferSource,
        encoder.encode(body) as BufferSource,
      );
      signatureDetail = signatureOk ? 'Ed25519 signature over the note verifies (WebCrypto)' : 'the Ed25519 signature does not verify';
    } catch (error) {
      signatureDetail = `this browser cannot check Ed25519 signatures (${error instanceof Error ? error.message : String(error)})`;
    }
  }
  steps.push({ name: 'Signature', ok: signatureOk, detail: signatureDetail });
  const checkpointOk = steps.slice(2).every((step) => step.ok);
  const eventOk = steps.slice(0, 2).every((step) => step.ok);
  return { verdict: !checkpointOk ? 'invalid' : eventOk ? 'intact' : 'changed', steps };
}

export async function verifyProof(proof: Proof, publicKeyPem: string): Promise<ProofResult> {
  if (proof.checkpoint) return verifyTreeProof(proof, proof.checkpoint, publicKeyPem);
  if (!proof.digest) throw new Error('the proof has neither a checkpoint nor a digest');
  const digest = proof.digest;
  const steps: Step[] = [];
  const eventHash = await recomputeEventHash(proof, steps);

  const root = await rootFromPath(fromHex(eventHash), proof.leaf_index, proof.tree_size, proof.path.map(fromHex));
  const rootOk = root !== null && hex(root) === digest.merkle_root;
  steps.push({
    name: `Merkle path (RFC 6962, leaf ${proof.leaf_index + 1} of ${proof.tree_size}, ${proof.path.length} siblings)`,
    ok: rootOk,
    detail: rootOk
      ? `leads to the digest's root ${short(digest.merkle_root)}`
      : `leads to ${root ? short(hex(root)) : 'no root'}, not to the sealed root ${short(digest.merkle_root)}: this is not the event that was sealed`,
  });

  const { hash: digestHash, signature, leaves: _leaves, ...body } = digest;
  const bodyBytes = encoder.encode(jcs(body));
  const recomputedDigest = hex(await sha256(bodyBytes));
  steps.push({
    name: `Digest ${digest.seq} hash`,
    ok: recomputedDigest === digestHash,
    detail:
      recomputedDigest === digestHash
        ? `recomputed ${short(recomputedDigest)} = the digest's hash`
        : 'the digest was edited after it was signed',
  });

  const der = pemToDer(publicKeyPem);
  const keyId = hex(await sha256(der)).slice(0, 32);
  steps.push({
    name: 'Signing key',
    ok: keyId === digest.key_id,
    detail:
      keyId === digest.key_id ? `key ${short(keyId)} as the digest names` : `the digest names key ${digest.key_id}, this key is ${keyId}`,
  });

  let signatureOk = false;
  let signatureDetail: string;
  try {
    const key = await crypto.subtle.importKey('spki', der as BufferSource, { name: 'Ed25519' }, false, ['verify']);
    const sig = Uint8Array.from(atob(signature), (c) => c.charCodeAt(0));
    signatureOk = await crypto.subtle.verify({ name: 'Ed25519' }, key, sig as BufferSource, bodyBytes as BufferSource);
    signatureDetail = signatureOk ? 'Ed25519 signature verifies (WebCrypto)' : 'the Ed25519 signature does not verify';
  } catch (error) {
    signatureDetail = `this browser cannot check Ed25519 signatures (${error instanceof Error ? error.message : String(error)})`;
  }
  steps.push({ name: 'Signature', ok: signatureOk, detail: signatureDetail });

  const digestOk = steps.slice(2).every((step) => step.ok);
  const eventOk = steps.slice(0, 2).every((step) => step.ok);
  return { verdict: !digestOk ? 'invalid' : eventOk ? 'intact' : 'changed', steps };
}
