import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { describeIdempotencyStoreContract } from '../../src/idempotency/idempotency-store.contract.js';
import { MAX_SEEDED_IDS, newSeed, seededId } from '../../src/idempotency/ids.js';
import { MongoIdempotencyStore } from '../../src/idempotency/mongo-idempotency-store.js';
import { SqliteIdempotencyStore } from '../../src/idempotency/sqlite-idempotency-store.js';
import { MingoMongoDatabase } from '../../src/testing/mingo-mongo-database.js';

const freshFile = () => join(mkdtempSync(join(tmpdir(), 'idempotency-')), 'logserver.db');

describeIdempotencyStoreContract('SqliteIdempotencyStore (file on disk)', async () => SqliteIdempotencyStore.open(freshFile()));
describeIdempotencyStoreContract('MongoIdempotencyStore (mingo collection double)', () =>
  MongoIdempotencyStore.open(new MingoMongoDatabase()),
);

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
