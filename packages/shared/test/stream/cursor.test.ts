import { describe, expect, it } from 'vitest';
import { tenantOf } from '../../src/store/tenant-id.js';
import { CURSOR_LENGTH, createCursorCodec, cursorKeyFrom } from '../../src/stream/cursor.js';

const A = tenantOf({ tenant: 'acme' });
const B = tenantOf({ tenant: 'globex' });
const id = '0198a3c2-7f00-7abc-8def-0123456789ab';

describe('stream cursors', () => {
  const codec = createCursorCodec(cursorKeyFrom('a secret of the server'));

  it('round-trips a position and its event id for the tenant it was made for', () => {
    const cursor = codec.encode(A, { position: 123_456_789, id });
    expect(cursor).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(cursor).toHaveLength(CURSOR_LENGTH);
    expect(codec.decode(A, cursor)).toEqual({ position: 123_456_789, id });
    expect(codec.decode(A, codec.encode(A, { position: 0, id: null }))).toEqual({ position: 0, id: null });
    expect(codec.decode(A, codec.encode(A, { position: Number.MAX_SAFE_INTEGER, id }))).toEqual({ position: Number.MAX_SAFE_INTEGER, id });
  });

  it('refuses another tenant’s cursor, one made with another key, and every altered or truncated one', () => {
    const cursor = codec.encode(A, { position: 42, id });
    expect(codec.decode(B, cursor)).toBeNull();
    expect(createCursorCodec(cursorKeyFrom('another secret')).decode(A, cursor)).toBeNull();
    for (let index = 0; index < cursor.length; index++) {
      const flipped = cursor.slice(0, index) + (cursor[index] === 'A' ? 'B' : 'A') + cursor.slice(index + 1);
      expect(codec.decode(A, flipped)).toBeNull();
    }
    for (const broken of [
      '',
      'x',
      cursor.slice(0, -1),
      `${cursor}A`,
      cursor.slice(1),
      '42',
      'null',
      `${cursor.slice(0, -2)}==`,
      '💥'.repeat(35),
    ]) {
      expect(codec.decode(A, broken)).toBeNull();
    }
  });

  it('reveals nothing: one event has one cursor everywhere, and neighbouring positions look unrelated', () => {
    const first = codec.encode(A, { position: 1000, id });
    expect(createCursorCodec(cursorKeyFrom('a secret of the server')).encode(A, { position: 1000, id })).toBe(first);
    expect(codec.encode(B, { position: 1000, id })).not.toBe(first);
    // Cursors of consecutive positions share no prefix beyond chance, so their distance cannot be read off them.
    const near = codec.encode(A, { position: 1001, id });
    expect(Buffer.from(first, 'base64url').subarray(12, 20).equals(Buffer.from(near, 'base64url').subarray(12, 20))).toBe(false);
    expect(first).not.toContain('1000');
  });
});
