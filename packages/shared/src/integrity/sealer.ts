import { randomUUID } from 'node:crypto';
import type { TenantId } from '../store/tenant-id.js';
import { signCheckpoint } from './checkpoint.js';
import { sealDigest } from './digest.js';
import type { Checkpoint, CommitPosition, IntegrityStore, Tile } from './port.js';
import type { SigningKey } from './signing-key.js';
import { CompactRange, eventLeafHash } from './tree.js';

export const DEFAULT_ORIGIN = 'logserver';

/** A tenant's log origin, the first line of its checkpoints. */
export const originOf = (logName: string, tenant: string): string => `${logName}/${tenant}`;

export interface SealerOptions {
  store: IntegrityStore;
  /** The signing key, or a function asked once per seal, so a rotated key takes effect without a restart. */
  key: SigningKey | (() => SigningKey);
  /** The log name (INTEGRITY_ORIGIN): checkpoint origins are `<name>/<tenant>`, and it is the signature's key name. */
  logName?: string;
  /**
   * `checkpoint` (the default) appends to the tenant's one tree and signs a C2SP checkpoint;
   * `digest-v1` writes the chained per-batch digests of the first version, kept so tests can make
   * data as an older server left it.
   */
  format?: 'checkpoint' | 'digest-v1';
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
  private readonly key: () => SigningKey;
  private readonly logName: string;
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
    const key = options.key;
    this.key = typeof key === 'function' ? key : () => key;
    this.logName = options.logName ?? DEFAULT_ORIGIN;
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
      if (this.options.format !== 'digest-v1') return await this.checkpointTenant(tenant);
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
          key: this.key(),
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

  /**
   * Appends the tenant's new events to its tree and signs one checkpoint per batch: hashing the new
   * leaves into the stored compact range, then one signature, so a seal costs O(new events).
   * The tree starts after the last digest-v1 digest, if any (the version boundary).
   */
  private async checkpointTenant(tenant: TenantId): Promise<{ digests: number; events: number }> {
    let checkpoints = 0;
    let events = 0;
    for (;;) {
      const head = await this.store.latestCheckpoint(tenant);
      const after = head?.last_position ?? (await this.store.latestDigest(tenant))?.last_position ?? null;
      const batch = await this.store.sealable(tenant, after, this.maxEvents);
      const first = batch[0];
      const last = batch.at(-1);
      if (first === undefined || last === undefined) break;
      const range = head ? CompactRange.from(head.tree_size, head.frontier) : CompactRange.empty();
      const tiles: Tile[] = [];
      const hashes = batch.map((event) => {
        const leaf = eventLeafHash(event.hash, event.timestamp);
        range.append(leaf, (tile, hash) => tiles.push({ tile, hash }));
        return leaf.toString('hex');
      });
      const key = this.key();
      const root = range.root();
      // Checkpoint times never go back, also when two sealers' clocks disagree.
      const now = this.now().toISOString();
      const time = head !== null && head.time > now ? head.time : now;
      const origin = originOf(this.logName, tenant);
      const note = signCheckpoint(
        { name: this.logName, rawPublicKey: key.rawPublicKey, sign: (data) => key.signBytes(data) },
        { origin, treeSize: range.treeSize, rootHash: root, time },
      );
      const checkpoint: Checkpoint = {
        tenant_id: tenant,
        origin,
        tree_size: range.treeSize,
        root_hash: root.toString('hex'),
        time,
        key_id: key.keyId,
        note,
        count: batch.length,
        first_event_id: first.id,
        last_event_id: last.id,
        first_position: first.position,
        last_position: last.position,
        frontier: range.toJSON(),
      };
      if (!(await this.store.appendCheckpoint(tenant, checkpoint, { ids: batch.map((event) => event.id), hashes }, tiles))) break;
      checkpoints++;
      events += batch.length;
      if (batch.length < this.maxEvents) break;
      await new Promise((resolve) => setImmediate(resolve));
      if (!(await this.store.acquireLease(tenant, this.holder, this.leaseMs))) break;
    }
    return { digests: checkpoints, events };
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
