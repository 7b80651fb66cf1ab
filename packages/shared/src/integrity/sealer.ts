import { randomUUID } from 'node:crypto';
import type { TenantId } from '../store/tenant-id.js';
import { sealDigest } from './digest.js';
import type { CommitPosition, IntegrityStore } from './port.js';
import type { SigningKey } from './signing-key.js';

export interface SealerOptions {
  store: IntegrityStore;
  key: SigningKey;
  /** Most events in one digest; a tenant with more new events gets several digests in a round. */
  maxEventsPerDigest?: number;
  /** How long a sealer holds a tenant before another may take over (a crashed sealer's lease runs out). */
  leaseMs?: number;
  /** Names this sealer in the lease table; unique per instance. */
  holder?: string;
  now?: () => Date;
  onError?: (error: unknown) => void;
}

export interface SealRound {
  digests: number;
  events: number;
  /** Tenants another sealer was working on, left to it. */
  skipped: number;
}

/**
 * Seals each tenant's events in commit order into signed, chained digests. Any number of
 * sealers may run on one database: a lease per tenant lets one act at a time, and the store's
 * compare-and-append refuses a digest that does not follow the head, so the chain never forks.
 */
export class Sealer {
  private readonly store: IntegrityStore;
  private readonly key: SigningKey;
  private readonly maxEvents: number;
  private readonly leaseMs: number;
  private readonly holder: string;
  private readonly now: () => Date;
  /** Every tenant's events up to here were sealed when last looked at; scans start after it. */
  private watermark: CommitPosition | null | undefined;
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<SealRound> | null = null;

  constructor(private readonly options: SealerOptions) {
    this.store = options.store;
    this.key = options.key;
    this.maxEvents = options.maxEventsPerDigest ?? 10_000;
    this.leaseMs = options.leaseMs ?? 30_000;
    this.holder = options.holder ?? randomUUID();
    this.now = options.now ?? (() => new Date());
  }

  /** Seals every tenant with new events once. Concurrent calls share one round. */
  sealAll(): Promise<SealRound> {
    this.running ??= this.round().finally(() => {
      this.running = null;
    });
    return this.running;
  }

  private async round(): Promise<SealRound> {
    const total: SealRound = { digests: 0, events: 0, skipped: 0 };
    if (this.watermark === undefined) this.watermark = await this.store.loadWatermark();
    const { tenants, through } = await this.store.tenantsWithEventsAfter(this.watermark);
    for (const tenant of tenants) {
      const result = await this.sealTenant(tenant);
      if (result === null) total.skipped++;
      else {
        total.digests += result.digests;
        total.events += result.events;
      }
    }
    // Only move past what every tenant has had sealed, by us or by another sealer.
    if (total.skipped === 0 && through !== null && through !== this.watermark) {
      this.watermark = through;
      await this.store.saveWatermark(through);
    }
    return total;
  }

  /** Seals one tenant's new events; null when another sealer holds the tenant's lease. */
  async sealTenant(tenant: TenantId): Promise<{ digests: number; events: number } | null> {
    if (!(await this.store.acquireLease(tenant, this.holder, this.leaseMs))) return null;
    let digests = 0;
    let events = 0;
    try {
      for (;;) {
        const previous = await this.store.latestDigest(tenant);
        const batch = await this.store.sealable(tenant, previous?.last_position ?? null, this.maxEvents);
        const first = batch[0];
        const last = batch.at(-1);
        if (first === undefined || last === undefined) break;
        const leaves = { ids: batch.map((event) => event.id), hashes: batch.map((event) => event.hash) };
        const digest = sealDigest({
          tenant,
          previous,
          leaves,
          firstPosition: first.position,
          lastPosition: last.position,
          now: this.now(),
          key: this.key,
        });
        // Refused only if our lease lapsed and another sealer appended meanwhile; its digest stands.
        if (!(await this.store.appendDigest(tenant, digest, leaves))) break;
        digests++;
        events += batch.length;
        if (batch.length < this.maxEvents) break;
        // A backlog is sealed a digest at a time with requests served in between.
        await new Promise((resolve) => setImmediate(resolve));
        if (!(await this.store.acquireLease(tenant, this.holder, this.leaseMs))) break;
      }
    } finally {
      await this.store.releaseLease(tenant, this.holder);
    }
    return { digests, events };
  }

  /** Seals every `intervalMs` until stop(); a failed round is reported and the next one tries again. */
  start(intervalMs: number): void {
    const tick = () => {
      this.sealAll()
        .catch((error: unknown) => this.options.onError?.(error))
        .finally(() => {
          if (this.timer !== null) this.timer = setTimeout(tick, intervalMs);
        });
    };
    this.timer = setTimeout(tick, intervalMs);
  }

  /** Stops the timer and waits for a round in progress, so the store can be closed after. */
  async stop(): Promise<void> {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    await this.running?.catch(() => undefined);
  }
}
