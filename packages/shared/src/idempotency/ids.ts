import { randomBytes } from 'node:crypto';

/** The most events one seed can name: rand_a of a UUIDv7 is 12 bits. */
export const MAX_SEEDED_IDS = 4096;

export function newSeed(): string {
  return randomBytes(16).toString('hex');
}

/**
 * The id of the index-th event of a keyed request: a UUIDv7 (RFC 9562) with the first attempt's
 * received_at as its time, the index as rand_a and the seed as rand_b. A retry rebuilds the very
 * same ids from the stored seed, so the store's (tenant, id) uniqueness drops whatever an earlier
 * attempt got into the queue; ids stay time-ordered and in body order within a request.
 */
export function seededId(seed: string, receivedAtMs: number, index: number): string {
  if (!Number.isInteger(index) || index < 0 || index >= MAX_SEEDED_IDS) throw new RangeError(`index ${index} out of range`);
  const bytes = Buffer.alloc(16);
  bytes.writeUIntBE(receivedAtMs, 0, 6);
  bytes.writeUInt16BE(0x7000 | index, 6);
  Buffer.from(seed, 'hex').copy(bytes, 8, 0, 8);
  bytes[8] = ((bytes[8] as number) & 0x3f) | 0x80;
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
