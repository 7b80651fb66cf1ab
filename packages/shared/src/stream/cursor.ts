import { createCipheriv, createDecipheriv, createHmac, hkdfSync, randomBytes } from 'node:crypto';
import type { TenantId } from '../store/tenant-id.js';

/**
 * A stream cursor: the tenant's commit position of one event (SQLite `seq`, MongoDB `position`),
 * and that event's id, sealed with AES-256-GCM under a key derived from the server's secret and with
 * the tenant as associated data. The nonce is an HMAC of tenant and payload (a synthetic IV), so one
 * event always has the same cursor on every replica, and two different payloads never share a nonce. The client sees 70 opaque characters: it cannot read the position
 * (which counts every tenant's events, so it would reveal other tenants' volume), cannot forge or
 * alter one, and a cursor of another tenant fails authentication exactly like a forged one.
 */
export interface StreamPosition {
  /** Commit position: every event committed later has a higher one. 0 is "before everything". */
  position: number;
  /** The event at that position, or null for a position that names no event (the head at connect time). Lower-case UUID. */
  id: string | null;
}

const NONCE = 12;
const TAG = 16;
const PAYLOAD = 8 + 16;
/** base64url of nonce + payload + tag. */
export const CURSOR_LENGTH = Math.ceil(((NONCE + PAYLOAD + TAG) * 4) / 3);
const NO_ID = Buffer.alloc(16);
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export interface CursorCodec {
  encode(tenant: TenantId, at: StreamPosition): string;
  /** The position, or null when the text is not a cursor this server made for this tenant. Never throws. */
  decode(tenant: TenantId, text: string): StreamPosition | null;
}

/** 64 bytes from the configured secret (cipher key, nonce key); other uses of the secret never share them. */
export function cursorKeyFrom(secret: string): Buffer {
  return Buffer.from(hkdfSync('sha256', secret, 'logserver', 'logserver stream cursor v1', 64));
}

export function createCursorCodec(keys: Buffer = randomBytes(64)): CursorCodec {
  if (keys.length !== 64) throw new Error('cursor keys have 64 bytes');
  const key = keys.subarray(0, 32);
  const nonceKey = keys.subarray(32);
  return {
    encode(tenant, at) {
      const payload = Buffer.alloc(PAYLOAD);
      payload.writeBigUInt64BE(BigInt(at.position), 0);
      // An id that is not a UUID (none the server makes) is left out: the cursor then only names the position.
      (at.id !== null && UUID.test(at.id) ? Buffer.from(at.id.replaceAll('-', ''), 'hex') : NO_ID).copy(payload, 8);
      const nonce = createHmac('sha256', nonceKey).update(tenant).update('\0').update(payload).digest().subarray(0, NONCE);
      const cipher = createCipheriv('aes-256-gcm', key, nonce);
      cipher.setAAD(Buffer.from(tenant, 'utf8'));
      const sealed = Buffer.concat([nonce, cipher.update(payload), cipher.final(), cipher.getAuthTag()]);
      return sealed.toString('base64url');
    },
    decode(tenant, text) {
      if (typeof text !== 'string' || text.length !== CURSOR_LENGTH || !/^[A-Za-z0-9_-]+$/.test(text)) return null;
      const sealed = Buffer.from(text, 'base64url');
      // The last character carries unused bits: only the one spelling the encoder makes is a cursor.
      if (sealed.length !== NONCE + PAYLOAD + TAG || sealed.toString('base64url') !== text) return null;
      try {
        const decipher = createDecipheriv('aes-256-gcm', key, sealed.subarray(0, NONCE));
        decipher.setAAD(Buffer.from(tenant, 'utf8'));
        decipher.setAuthTag(sealed.subarray(NONCE + PAYLOAD));
        const payload = Buffer.concat([decipher.update(sealed.subarray(NONCE, NONCE + PAYLOAD)), decipher.final()]);
        const position = Number(payload.readBigUInt64BE(0));
        if (!Number.isSafeInteger(position)) return null;
        const raw = payload.subarray(8);
        if (raw.equals(NO_ID)) return { position, id: null };
        const hex = raw.toString('hex');
        const id = `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
        return UUID.test(id) ? { position, id } : null;
      } catch {
        return null;
      }
    },
  };
}
