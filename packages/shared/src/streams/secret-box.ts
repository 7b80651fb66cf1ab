import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

const VERSION = 'v1';

/** STREAM_SECRET_KEY as 32 bytes, or null when it is neither 32 bytes of base64 nor 64 hex digits. */
export function parseSecretKey(value: string): Buffer | null {
  const text = value.trim();
  if (/^[0-9a-fA-F]{64}$/.test(text)) return Buffer.from(text, 'hex');
  if (/^[A-Za-z0-9+/_-]{43}=?$/.test(text)) {
    const key = Buffer.from(text, 'base64');
    return key.length === 32 ? key : null;
  }
  return null;
}

/** STREAM_SECRET_KEY_PREVIOUS as keys, or null when any of its comma-separated entries is not a key. */
export function parseSecretKeys(value: string): Buffer[] | null {
  const keys = value
    .split(/[\s,]+/)
    .filter(Boolean)
    .map(parseSecretKey);
  return keys.every((key): key is Buffer => key !== null) ? keys : null;
}

/**
 * Destination secrets at rest: AES-256-GCM with a fresh 96-bit nonce each time, bound to the
 * destination (its tenant and id are the additional data), so a ciphertext copied onto another
 * tenant's destination does not open. The key never leaves the process; the API never returns a secret.
 * Previous keys (a rotation, docs/streams.md "Rotating the key") still open what they sealed; only
 * the current key seals.
 */
export class SecretBox {
  private readonly key: Buffer;
  private readonly previous: readonly Buffer[];

  constructor(key: Buffer, previous: readonly Buffer[] = []) {
    if (key.length !== 32 || previous.some((old) => old.length !== 32)) throw new Error('STREAM_SECRET_KEY must be 32 bytes');
    this.key = key;
    this.previous = previous.filter((old) => !old.equals(key));
  }

  /** Whether previous keys are configured, i.e. a rotation may have left secrets to seal again. */
  get rotating(): boolean {
    return this.previous.length > 0;
  }

  seal(plain: string, context: string): string {
    const nonce = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.key, nonce);
    cipher.setAAD(Buffer.from(context, 'utf8'));
    const body = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()]);
    return [VERSION, nonce.toString('base64url'), cipher.getAuthTag().toString('base64url'), body.toString('base64url')].join('.');
  }

  /** Throws when no key of this box sealed the text for this context (another key, another destination, altered). */
  open(sealed: string, context: string): string {
    return this.openWith(sealed, context).plain;
  }

  /** The plain text, and whether the current key sealed it (false: a previous one did, so it wants sealing again). */
  openWith(sealed: string, context: string): { plain: string; current: boolean } {
    for (const [index, key] of [this.key, ...this.previous].entries()) {
      const plain = openUnder(key, sealed, context);
      if (plain !== null) return { plain, current: index === 0 };
    }
    throw new Error('the secret does not open under STREAM_SECRET_KEY or STREAM_SECRET_KEY_PREVIOUS');
  }
}

function openUnder(key: Buffer, sealed: string, context: string): string | null {
  const [version, nonce, tag, body] = sealed.split('.');
  if (version !== VERSION || nonce === undefined || tag === undefined || body === undefined) throw new Error('not a sealed secret');
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(nonce, 'base64url'));
    decipher.setAAD(Buffer.from(context, 'utf8'));
    decipher.setAuthTag(Buffer.from(tag, 'base64url'));
    return Buffer.concat([decipher.update(Buffer.from(body, 'base64url')), decipher.final()]).toString('utf8');
  } catch {
    return null;
  }
}
