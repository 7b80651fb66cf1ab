import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject, sign, verify } from 'node:crypto';
import { sha256Hex } from './event-hash.js';

/** The digest signer: an Ed25519 key pair, with a short id that digests carry so a verifier knows which key to use. */
export interface SigningKey {
  keyId: string;
  publicKeyPem: string;
  /** The 32-byte Ed25519 public key (JWKS `x`, signed-note key). */
  rawPublicKey: Buffer;
  sign(data: string): string;
  signBytes(data: Buffer): Buffer;
}

/** A public key as a verifier holds it. */
export interface VerifyingKey {
  keyId: string;
  verify(data: string, signature: string): boolean;
}

/** The key id: the first 16 bytes of SHA-256 over the public key's DER, as hex. */
export function keyIdOf(publicKey: KeyObject): string {
  return sha256Hex(publicKey.export({ type: 'spki', format: 'der' })).slice(0, 32);
}

/**
 * Reads INTEGRITY_SIGNING_KEY: a PKCS#8 PEM private key (newlines may be written as `\n`, as
 * env files often do). Throws with the fix when it is not an Ed25519 key.
 */
export function signingKeyFromPem(pem: string): SigningKey {
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey(pem.replace(/\\n/g, '\n'));
  } catch {
    throw new Error('INTEGRITY_SIGNING_KEY is not a PEM private key: make one with `openssl genpkey -algorithm ed25519`');
  }
  if (privateKey.asymmetricKeyType !== 'ed25519') {
    throw new Error(
      `INTEGRITY_SIGNING_KEY is a ${privateKey.asymmetricKeyType} key: digests are signed with Ed25519 (openssl genpkey -algorithm ed25519)`,
    );
  }
  const publicKey = createPublicKey(privateKey);
  const der = publicKey.export({ type: 'spki', format: 'der' });
  return {
    keyId: keyIdOf(publicKey),
    publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    rawPublicKey: Buffer.from(der.subarray(der.length - 32)),
    sign: (data) => sign(null, Buffer.from(data), privateKey).toString('base64'),
    signBytes: (data) => sign(null, data, privateKey),
  };
}

/** A fresh Ed25519 private key as PKCS#8 PEM. */
export function generateSigningKeyPem(): string {
  return generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
}

export function verifyingKeyFromPem(publicKeyPem: string): VerifyingKey {
  const publicKey = createPublicKey(publicKeyPem);
  return {
    keyId: keyIdOf(publicKey),
    verify: (data, signature) => {
      try {
        return verify(null, Buffer.from(data), publicKey, Buffer.from(signature, 'base64'));
      } catch {
        return false;
      }
    },
  };
}
