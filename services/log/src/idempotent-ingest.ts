import { randomUUID } from 'node:crypto';
import { BadRequest, IdempotencyInFlight, IdempotencyKeyReused, Unavailable } from '@logserver/shared/errors/catalogue';
import { newSeed, seededId } from '@logserver/shared/idempotency/ids';
import type { IdempotencyStore, Reservation, ReserveRequest } from '@logserver/shared/idempotency/port';
import { canonicalJson, sha256Hex } from '@logserver/shared/integrity/event-hash';
import type { LogEvent } from '@logserver/shared/schemas/log-event';
import type { TenantId } from '@logserver/shared/store/tenant-id';

/** IDEMPOTENCY_* settings (README "Idempotent ingest"). */
export interface IdempotencySettings {
  /** How long a key is remembered (IDEMPOTENCY_TTL, seconds; 24 h). */
  ttlSeconds: number;
  /** How long an unanswered attempt holds its key before a retry may resume it (IDEMPOTENCY_LEASE, seconds). */
  leaseSeconds: number;
  /** Most keys kept per tenant (IDEMPOTENCY_MAX_KEYS_PER_TENANT); beyond it the oldest are forgotten early. */
  maxKeysPerTenant: number;
}

export const DEFAULT_IDEMPOTENCY: IdempotencySettings = { ttlSeconds: 86_400, leaseSeconds: 30, maxKeysPerTenant: 100_000 };

export const IDEMPOTENCY_KEY_MAX = 255;
export const REPLAYED_HEADER = 'idempotent-replayed';
/** Tenants whose new-key counts this process remembers; a forgotten one is simply trimmed sooner. */
const TRACKED_TENANTS = 10_000;

/**
 * The Idempotency-Key header's value, or undefined when absent. The draft makes it a structured
 * field string ("…"); a bare token, as most clients send, is taken as it is. Printable ASCII, at
 * most 255 characters, so every store keeps it exactly.
 */
export function idempotencyKeyOf(header: string | string[] | undefined): string | undefined {
  if (header === undefined) return undefined;
  if (Array.isArray(header)) throw new BadRequest('Send one Idempotency-Key header, not several');
  let key = header.trim();
  if (key.length >= 2 && key.startsWith('"') && key.endsWith('"')) key = key.slice(1, -1).replace(/\\(["\\])/g, '$1');
  if (key.length === 0 || key.length > IDEMPOTENCY_KEY_MAX || !/^[\x20-\x7e]+$/.test(key)) {
    throw new BadRequest(`Idempotency-Key must be 1 to ${IDEMPOTENCY_KEY_MAX} printable ASCII characters, e.g. a UUID`);
  }
  return key;
}

/** Two requests are "the same" when route, caller and body (in canonical JSON, so key order does not count) are. */
export function fingerprintOf(route: string, sub: string, body: unknown): string {
  return sha256Hex(canonicalJson({ route, sub, body }));
}

export interface KeyedAttempt {
  events: LogEvent[];
  /** True when the answer is the first attempt's, given again: nothing was published. */
  replayed: boolean;
}

/**
 * Runs a keyed ingest at most once per key and tenant. The events are built from the body with
 * ids derived from the key's seed and the first attempt's received_at, so a replay or a resumed
 * attempt rebuilds exactly the first answer, and a publish that an earlier attempt got through
 * is the same events again, which the store's (tenant, id) uniqueness drops.
 *
 * Bounds (DESIGN §9): per tenant at most maxKeysPerTenant keys plus one trim interval
 * (a tenth of it) per process; per process one counter for at most 10 000 tenants. A record holds
 * no events, only a fingerprint, a seed and times (about 200 bytes), whatever the request's size.
 */
export class IdempotentIngest {
  private readonly sinceTrim = new Map<string, number>();
  private readonly trimEvery: number;

  constructor(
    private readonly store: IdempotencyStore,
    private readonly settings: IdempotencySettings,
    private readonly now: () => Date,
    private readonly onError: (error: unknown) => void,
  ) {
    this.trimEvery = Math.max(1, Math.ceil(settings.maxKeysPerTenant / 10));
  }

  async run(
    tenant: TenantId,
    key: string,
    fingerprint: string,
    build: (idOf: (index: number) => string, receivedAt: Date) => LogEvent[],
    publish: (events: LogEvent[]) => Promise<void>,
  ): Promise<KeyedAttempt> {
    const now = this.now();
    const owner = randomUUID();
    const reservation = await this.reserve(tenant, key, {
      fingerprint,
      seed: newSeed(),
      receivedAt: now.toISOString(),
      owner,
      now: now.getTime(),
      ttlMs: this.settings.ttlSeconds * 1000,
      leaseMs: this.settings.leaseSeconds * 1000,
    });
    if (reservation.outcome === 'mismatch') throw new IdempotencyKeyReused();
    if (reservation.outcome === 'in-flight' || reservation.record === undefined) throw new IdempotencyInFlight();
    const { seed, receivedAt } = reservation.record;
    const receivedAtDate = new Date(receivedAt);
    const events = build((index) => seededId(seed, receivedAtDate.getTime(), index), receivedAtDate);
    if (reservation.outcome === 'replay') return { events, replayed: true };
    if (reservation.outcome === 'new') this.countNewKey(tenant);
    try {
      await publish(events);
    } catch (error) {
      // The publish may still have been accepted (a timeout): a retry resumes with these same ids.
      await this.store.release(tenant, key, owner).catch(this.onError);
      throw error;
    }
    // The events are acknowledged either way; a record left pending is resumed (same ids) by a retry.
    await this.store.complete(tenant, key, owner).catch(this.onError);
    return { events, replayed: false };
  }

  private async reserve(tenant: TenantId, key: string, request: ReserveRequest): Promise<Reservation> {
    try {
      return await this.store.reserve(tenant, key, request);
    } catch (error) {
      this.onError(error);
      throw new Unavailable('idempotency keys cannot be checked right now: retry with the same key');
    }
  }

  private countNewKey(tenant: TenantId): void {
    // A tenant this process has not counted yet is trimmed at once: keys may have piled up before.
    const count = (this.sinceTrim.get(tenant) ?? this.trimEvery) + 1;
    if (count < this.trimEvery) {
      this.sinceTrim.set(tenant, count);
      return;
    }
    this.sinceTrim.delete(tenant);
    // Re-inserted last, so the oldest-counted tenant is the first one forgotten when the map is full.
    this.sinceTrim.set(tenant, 0);
    if (this.sinceTrim.size > TRACKED_TENANTS) this.sinceTrim.delete(this.sinceTrim.keys().next().value as string);
    this.store.trim(tenant, this.settings.maxKeysPerTenant, this.now().getTime()).catch(this.onError);
  }
}
