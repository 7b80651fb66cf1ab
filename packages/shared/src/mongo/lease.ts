import type { MongoCollection } from './database.js';

/** A named lease: held by `holder` until `expires_at` (ms since the epoch). */
export interface LeaseDocument {
  _id: string;
  holder: string;
  expires_at: number;
}

const DUPLICATE_KEY = 11000;

/** MongoDB's E11000: an insert or upsert refused by a unique index. */
export const isDuplicateKey = (error: unknown): boolean =>
  typeof error === 'object' && error !== null && (error as { code?: unknown }).code === DUPLICATE_KEY;

/**
 * Takes or renews the lease `name` for `holder`. One atomic findOneAndUpdate: it matches the lease
 * only when it is ours or ran out, and otherwise upserts, which the _id index refuses while another
 * holder's unexpired lease exists. Every process sharing the database agrees on who holds it.
 */
export async function takeLease(
  leases: MongoCollection<LeaseDocument>,
  name: string,
  holder: string,
  nowMs: number,
  ttlMs: number,
): Promise<boolean> {
  try {
    await leases.findOneAndUpdate(
      { _id: { $eq: name }, $or: [{ holder: { $eq: holder } }, { expires_at: { $lte: nowMs } }] },
      { $set: { holder, expires_at: nowMs + ttlMs } },
      { upsert: true, returnDocument: 'after', includeResultMetadata: false },
    );
    return true;
  } catch (error) {
    if (isDuplicateKey(error)) return false;
    throw error;
  }
}

/** Lets the lease go at once, if `holder` still has it. */
export async function dropLease(leases: MongoCollection<LeaseDocument>, name: string, holder: string): Promise<void> {
  await leases.updateOne({ _id: { $eq: name }, holder: { $eq: holder } }, { $set: { expires_at: 0 } });
}
