import { createPublicKey, type KeyObject, verify } from 'node:crypto';
import {
  type ParsedVerifierKey,
  parseCheckpointBody,
  parseVerifierKey,
  publicKeyFromRaw,
  splitNote,
  verifierKey,
  verifyNoteSignature,
} from './checkpoint.js';
import type { Checkpoint } from './port.js';
import { keyIdOf, type SigningKey, type VerifyingKey } from './signing-key.js';

/**
 * The log's public keys over time, each with a validity window and a kid, published as a JWKS
 * (RFC 7517; OKP/Ed25519 keys as RFC 8037 writes them). A checkpoint verifies only under the key
 * its kid names, and only if its signed time is inside that key's window: a retired key that
 * leaks cannot sign a checkpoint that verify accepts (the CloudTrail bug, aws-cli#10073).
 */

export interface Jwk {
  kty: 'OKP';
  crv: 'Ed25519';
  x: string;
  kid: string;
  use: 'sig';
  alg: 'EdDSA';
  /** ISO 8601; null: since before the key ring kept windows. */
  not_before: string | null;
  /** ISO 8601, exclusive; null: still current. */
  not_after: string | null;
  /** The same key as a signed-note verifier key, for checkpoint tools. */
  note_key: string;
}

export interface Jwks {
  keys: Jwk[];
}

export interface RingKey {
  kid: string;
  raw: Buffer;
  key: KeyObject;
  notBefore: string | null;
  notAfter: string | null;
}

const rawOf = (key: KeyObject): Buffer => {
  const der = key.export({ type: 'spki', format: 'der' });
  return Buffer.from(der.subarray(der.length - 32));
};

export class KeyRing {
  constructor(
    /** The key name in every checkpoint's signature line. */
    readonly name: string,
    readonly keys: readonly RingKey[],
  ) {}

  /** One key valid for all time: a deployment that configured only INTEGRITY_PUBLIC_KEY. */
  static single(name: string, publicKeyPem: string): KeyRing {
    const key = createPublicKey(publicKeyPem);
    return new KeyRing(name, [{ kid: keyIdOf(key), raw: rawOf(key), key, notBefore: null, notAfter: null }]);
  }

  /** Reads a JWKS as this ring writes it; throws with what is wrong. */
  static fromJwks(name: string, jwks: unknown): KeyRing {
    const list = (jwks as { keys?: unknown })?.keys;
    if (!Array.isArray(list) || list.length === 0) throw new Error('the key ring is not a JWKS with at least one key');
    return new KeyRing(
      name,
      list.map((jwk: Partial<Jwk>, index) => {
        if (jwk.kty !== 'OKP' || jwk.crv !== 'Ed25519' || typeof jwk.x !== 'string')
          throw new Error(`key ${index} of the key ring is not an OKP Ed25519 JWK`);
        const raw = Buffer.from(jwk.x, 'base64url');
        const key = publicKeyFromRaw(raw);
        const kid = keyIdOf(key);
        if (jwk.kid !== undefined && jwk.kid !== kid)
          throw new Error(`key ${index} of the key ring has kid ${jwk.kid}, but its key gives ${kid}`);
        return { kid, raw, key, notBefore: jwk.not_before ?? null, notAfter: jwk.not_after ?? null };
      }),
    );
  }

  toJwks(): Jwks {
    return {
      keys: this.keys.map((k) => ({
        kty: 'OKP',
        crv: 'Ed25519',
        x: k.raw.toString('base64url'),
        kid: k.kid,
        use: 'sig',
        alg: 'EdDSA',
        not_before: k.notBefore,
        not_after: k.notAfter,
        note_key: verifierKey(this.name, k.raw),
      })),
    };
  }

  byKid(kid: string): RingKey | undefined {
    return this.keys.find((k) => k.kid === kid);
  }

  /** A digest-v1 verifier for the key with this kid (any time: v1 digests predate windows). */
  verifyingKey(kid: string): VerifyingKey | null {
    const found = this.byKid(kid);
    if (!found) return null;
    return {
      keyId: found.kid,
      verify: (data, signature) => {
        try {
          return verify(null, Buffer.from(data), found.key, Buffer.from(signature, 'base64'));
        } catch {
          return false;
        }
      },
    };
  }

  /** Why the key with this kid may not sign at this time, or null when it may. */
  windowProblem(kid: string, time: string): string | null {
    const found = this.byKid(kid);
    if (!found) return `it names key ${kid}, which is not in the key ring`;
    if (found.notBefore !== null && time < found.notBefore)
      return `it is signed by key ${kid} at ${time}, before that key's window opens (${found.notBefore})`;
    if (found.notAfter !== null && time >= found.notAfter)
      return `it is signed by key ${kid} at ${time}, after that key's window closed (${found.notAfter})`;
    return null;
  }

  /**
   * Why a checkpoint does not hold up on its own (its note, its signature, its key's window, that
   * the note says what the record says), or null when it does.
   */
  checkCheckpoint(checkpoint: Checkpoint, origin: string): string | null {
    const note = splitNote(checkpoint.note);
    if (!note) return 'its note is not a signed note';
    const body = parseCheckpointBody(note.body);
    if (!body) return 'its note is not a checkpoint';
    if (body.origin !== origin) return `its origin is ${body.origin}, not ${origin}`;
    if (body.treeSize !== checkpoint.tree_size || body.rootHash.toString('hex') !== checkpoint.root_hash || body.time !== checkpoint.time)
      return 'its note does not say the size, root or time it is stored with';
    const window = this.windowProblem(checkpoint.key_id, body.time);
    if (window !== null) return window;
    const key = this.byKid(checkpoint.key_id) as RingKey;
    if (!verifyNoteSignature(note.body, note.signatures, this.name, key.key)) return `its signature does not verify under key ${key.kid}`;
    return null;
  }
}

/**
 * The key ring after a rotation at `now`: the new key's window opens now, the current key's closes
 * `graceMs` later, so a seal already signing with it when the files change still verifies.
 */
export function rotateJwks(name: string, current: Jwks | null, currentKey: SigningKey, next: SigningKey, now: Date, graceMs = 5_000): Jwks {
  const at = now.toISOString();
  const closes = new Date(now.getTime() + graceMs).toISOString();
  const ring = current ?? KeyRing.single(name, currentKey.publicKeyPem).toJwks();
  const keys = ring.keys.map((jwk) => (jwk.kid === currentKey.keyId && jwk.not_after === null ? { ...jwk, not_after: closes } : jwk));
  if (!keys.some((jwk) => jwk.kid === currentKey.keyId)) throw new Error(`the current key ${currentKey.keyId} is not in the key ring`);
  const added = KeyRing.single(name, next.publicKeyPem).toJwks().keys[0] as Jwk;
  return { keys: [...keys, { ...added, not_before: at, not_after: null }] };
}

/**
 * The key ring a service verifies with: INTEGRITY_KEYRING (a JWKS, inline JSON) when set, else the
 * one key it was given, valid for all time. Throws with the variable's name when it does not parse.
 */
export function keyRingFromConfig(
  config: { INTEGRITY_ORIGIN: string; INTEGRITY_KEYRING?: string | undefined },
  publicKeyPem: string,
): KeyRing {
  if (!config.INTEGRITY_KEYRING) return KeyRing.single(config.INTEGRITY_ORIGIN, publicKeyPem);
  let parsed: unknown;
  try {
    parsed = JSON.parse(config.INTEGRITY_KEYRING);
  } catch {
    throw new Error('INTEGRITY_KEYRING is not JSON: give the JWKS that make rotate-signing-key writes (integrity-keyring.json)');
  }
  return KeyRing.fromJwks(config.INTEGRITY_ORIGIN, parsed);
}

/** INTEGRITY_WITNESS_KEYS: comma- or space-separated signed-note verifier keys of type 0x04 (cosignature). */
export function witnessKeysFrom(text: string | undefined): ParsedVerifierKey[] {
  if (!text) return [];
  return text
    .split(/[\s,]+/)
    .filter((part) => part !== '')
    .map((part) => {
      const key = parseVerifierKey(part);
      if (key.type !== 0x04) throw new Error(`INTEGRITY_WITNESS_KEYS: ${key.name} is not a cosignature key (type 0x04)`);
      return key;
    });
}
