import type { IdempotencyRecord, ReserveRequest } from './port.js';

export type Decision = 'take' | 'resume' | 'replay' | 'mismatch' | 'in-flight';

/** What a new request with a key does, given what is stored under it: the one rule both stores apply. */
export function decideReservation(existing: IdempotencyRecord | null, request: Pick<ReserveRequest, 'fingerprint' | 'now'>): Decision {
  if (existing === null || existing.expiresAt <= request.now) return 'take';
  if (existing.fingerprint !== request.fingerprint) return 'mismatch';
  if (existing.state === 'done') return 'replay';
  return existing.leaseUntil > request.now ? 'in-flight' : 'resume';
}

export function freshRecord(request: ReserveRequest): IdempotencyRecord {
  return {
    fingerprint: request.fingerprint,
    seed: request.seed,
    receivedAt: request.receivedAt,
    state: 'pending',
    leaseUntil: request.now + request.leaseMs,
    expiresAt: request.now + request.ttlMs,
    owner: request.owner,
  };
}
