import { describe, expect, it } from 'vitest';
import { MAX_SEEDED_IDS, newSeed, seededId } from '../../src/idempotency/ids.js';

describe('seeded ids', () => {
  it('are UUIDv7 with the given time, in index order, the same for the same seed and different for another', () => {
    const seed = newSeed();
    const at = Date.parse('2026-03-04T05:06:07.089Z');
    const ids = Array.from({ length: MAX_SEEDED_IDS }, (_, index) => seededId(seed, at, index));
    for (const id of ids) expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(Number.parseInt(ids[0]?.replaceAll('-', '').slice(0, 12) ?? '', 16)).toBe(at);
    expect([...ids].sort()).toEqual(ids);
    expect(new Set(ids).size).toBe(MAX_SEEDED_IDS);
    expect(seededId(seed, at, 7)).toBe(ids[7]);
    expect(seededId(newSeed(), at, 7)).not.toBe(ids[7]);
    expect(() => seededId(seed, at, MAX_SEEDED_IDS)).toThrow(RangeError);
  });
});
