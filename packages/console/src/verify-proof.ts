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
  event: Record<string, unknown> & { id: string; hash?: string };
  digest: Record<string, unknown> & { merkle_root: string; hash: string; signature: string; key_id: string; seq: number };
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

export async function verifyProof(proof: Proof, publicKeyPem: string): Promise<ProofResult> {
  const steps: Step[] = [];
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

  const root = await rootFromPath(fromHex(eventHash), proof.leaf_index, proof.tree_size, proof.path.map(fromHex));
  const rootOk = root !== null && hex(root) === proof.digest.merkle_root;
  steps.push({
    name: `Merkle path (RFC 6962, leaf ${proof.leaf_index + 1} of ${proof.tree_size}, ${proof.path.length} siblings)`,
    ok: rootOk,
    detail: rootOk
      ? `leads to the digest's root ${short(proof.digest.merkle_root)}`
      : `leads to ${root ? short(hex(root)) : 'no root'}, not to the sealed root ${short(proof.digest.merkle_root)}: this is not the event that was sealed`,
  });

  const { hash: digestHash, signature, leaves: _leaves, ...body } = proof.digest;
  const bodyBytes = encoder.encode(jcs(body));
  const recomputedDigest = hex(await sha256(bodyBytes));
  steps.push({
    name: `Digest ${proof.digest.seq} hash`,
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
    ok: keyId === proof.digest.key_id,
    detail:
      keyId === proof.digest.key_id
        ? `key ${short(keyId)} as the digest names`
        : `the digest names key ${proof.digest.key_id}, this key is ${keyId}`,
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
