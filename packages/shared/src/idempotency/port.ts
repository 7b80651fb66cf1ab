import type { TenantId } from '../store/tenant-id.js';

/**
 * What is kept of the first request made with an Idempotency-Key: enough to answer it again
 * byte for byte (the body is the same, so the events are rebuilt from it with the same ids and
 * received_at), never the events themselves, so every record has the same small size.
 */
export interface IdempotencyRecord {
  /** SHA-256 over the route, the caller and the canonical body: a different request has another. */
  fingerprint: string;
  /** 16 random bytes as hex; the events' ids derive from it (idempotency/ids.ts). */
  seed: string;
  /** The first attempt's received_at, ISO. */
  receivedAt: string;
  state: 'pending' | 'done';
  /** Epoch ms: until then a pending record belongs to the attempt that holds it. */
  leaseUntil: number;
  /** Epoch ms: after it the key is forgotten and may be used again (IDEMPOTENCY_TTL). */
  expiresAt: number;
  /** Which attempt holds the lease; complete and release by another attempt change nothing. */
  owner: string;
}

export interface ReserveRequest {
  fingerprint: string;
  seed: string;
  receivedAt: string;
  owner: string;
  now: number;
  ttlMs: number;
  leaseMs: number;
}

/**
 * - `new`: nobody holds the key (or it had expired); the caller now does, with its own seed.
 * - `resumed`: an earlier attempt with this body stopped without an answer (failed, or its process
 *   died and its lease ran out); the caller now holds the key with that attempt's seed and
 *   received_at, so what the earlier attempt may already have published is the very same events.
 * - `replay`: the first attempt was answered; answer the same again and store nothing.
 * - `mismatch`: the key was used for a different request.
 * - `in-flight`: another attempt with this key holds its lease right now.
 */
export type Reservation =
  | { outcome: 'new' | 'resumed' | 'replay'; record: IdempotencyRecord }
  | { outcome: 'mismatch' | 'in-flight'; record?: undefined };

export interface IdempotencyStore {
  /** Looks the key up and, when the caller may go ahead, takes it, in one atomic step. Throws if the store cannot answer. */
  reserve(tenant: TenantId, key: string, request: ReserveRequest): Promise<Reservation>;
  /** Marks the attempt answered; later requests with the key replay it until it expires. */
  complete(tenant: TenantId, key: string, owner: string): Promise<void>;
  /**
   * Ends the attempt without an answer (the publish failed, and may still have been accepted):
   * the next request with the key resumes it with the same ids at once.
   */
  release(tenant: TenantId, key: string, owner: string): Promise<void>;
  /** Deletes the tenant's expired records, then the oldest beyond the newest `maxKeys`; returns how many went. */
  trim(tenant: TenantId, maxKeys: number, now: number): Promise<number>;
  /** The tenant's records that have not expired. */
  count(tenant: TenantId, now: number): Promise<number>;
  ping(): Promise<void>;
  close(): Promise<void>;
}
