import { randomUUID } from 'node:crypto';
import type { TenantId } from '../store/tenant-id.js';
import { signCheckpoint } from './checkpoint.js';
import { sealDigest } from './digest.js';
import type { Checkpoint, CommitPosition, IntegrityStore, SealableEvent, Tile } from './port.js';
import type { SigningKey } from './signing-key.js';
import { CompactRange, eventLeafHash } from './tree.js';

export const DEFAULT_ORIGIN = 'logserver';

/** Events read and hashed between two turns of the event loop while sealing (about 10 µs each). */
export const SEAL_SLICE = 500;

/** The share of SEAL_INTERVAL between the starts of two rounds (see Sealer.start). */
export const SEAL_PERIOD_SHARE = 0.9;

const yieldToEventLoop = () => new Promise<void>((resolve) => setImmediate(resolve));

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

/** What runs the seals: a Sealer on this event loop, or a ThreadSealer (sealer-thread.ts) that runs one off it. */
export interface SealRunner {
  /** Seals every tenant with new events once. Concurrent calls share one round. */
  sealAll(): Promise<SealRound>;
  /** Seals on a fixed rate until stop(). */
  start(intervalMs: number): void;
  /** Stops the timer and waits for a round in progress. */
  stop(): Promise<void>;
}

/**
 * Starts a round on a fixed rate: every SEAL_PERIOD_SHARE × intervalMs counted from the start of
 * the one before (at once when a round took longer). An event acknowledged just after a round read
 * the tenant's last slice is in the next round, which ends about one period plus the difference
 * between the two rounds' durations later; the 10 % is the room for that difference, so every
 * acknowledged event is covered within intervalMs (SEAL_INTERVAL) while rounds stay short.
 * A failed round is reported and the next one tries again.
 */
export class SealTimer {
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly seal: () => Promise<unknown>,
    private readonly onError?: (error: unknown) => void,
  ) {}

  start(intervalMs: number): void {
    const period = intervalMs * SEAL_PERIOD_SHARE;
    const tick = () => {
      const started = performance.now();
      this.seal()
        .catch((error: unknown) => this.onError?.(error))
        .finally(() => {
          if (this.timer !== null) this.timer = setTimeout(tick, Math.max(0, period - (performance.now() - started)));
        });
    };
    this.timer = setTimeout(tick, period);
  }

  stop(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
  }
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
export class Sealer implements SealRunner {
  private readonly store: IntegrityStore;
  private readonly key: () => SigningKey;
  private readonly logName: string;
  private readonly maxEvents: number;
  private readonly leaseMs: number;
  private readonly holder: string;
  private readonly now: () => Date;
  /** Every tenant's events up to here were sealed when last looked at; scans start after it. */
  private watermark: CommitPosition | null | undefined;
  private readonly timer: SealTimer;
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
    this.timer = new SealTimer(() => this.sealAll(), options.onError);
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
        await yieldToEventLoop();
        if (!(await this.store.acquireLease(tenant, this.holder, this.leaseMs))) break;
      }
    } finally {
      await this.store.releaseLease(tenant, this.holder);
    }
    return { digests, events };
  }

  /**
   * Appends the tenant's new events to its tree and signs one checkpoint per batch (at most
   * maxEventsPerDigest events): the new leaves are hashed into the stored compact range, then one
   * signature, so a seal costs O(new events) and rereads nothing sealed. The events are read and
   * hashed SEAL_SLICE at a time with the event loop let run in between, so a seal holds the loop
   * for one slice (a few milliseconds), not for a whole second's worth of events.
   * The tree starts after the last digest-v1 digest, if any (the version boundary).
   */
  private async checkpointTenant(tenant: TenantId): Promise<{ digests: number; events: number }> {
    let checkpoints = 0;
    let events = 0;
    for (;;) {
      const head = await this.store.latestCheckpoint(tenant);
      let after = head?.last_position ?? (await this.store.latestDigest(tenant))?.last_position ?? null;
      const range = head ? CompactRange.from(head.tree_size, head.frontier) : CompactRange.empty();
      const tiles: Tile[] = [];
      const ids: string[] = [];
      const hashes: string[] = [];
      let first: SealableEvent | undefined;
      let last: SealableEvent | undefined;
      while (ids.length < this.maxEvents) {
        const limit = Math.min(SEAL_SLICE, this.maxEvents - ids.length);
        const slice = await this.store.sealable(tenant, after, limit);
        for (const event of slice) {
          const leaf = eventLeafHash(event.hash, event.timestamp);
          range.append(leaf, (tile, hash) => tiles.push({ tile, hash }));
          ids.push(event.id);
          hashes.push(leaf.toString('hex'));
        }
        first ??= slice[0];
        last = slice.at(-1) ?? last;
        if (slice.length < limit || last === undefined) break;
        after = last.position;
        await yieldToEventLoop();
      }
      if (first === undefined || last === undefined) break;
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
        count: ids.length,
        first_event_id: first.id,
        last_event_id: last.id,
        first_position: first.position,
        last_position: last.position,
        frontier: range.toJSON(),
      };
      // Refused only if our lease lapsed and another sealer appended meanwhile; its checkpoint stands.
      if (!(await this.store.appendCheckpoint(tenant, checkpoint, { ids, hashes }, tiles))) break;
      checkpoints++;
      events += ids.length;
      if (ids.length < this.maxEvents) break;
      await yieldToEventLoop();
      if (!(await this.store.acquireLease(tenant, this.holder, this.leaseMs))) break;
    }
    return { digests: checkpoints, events };
  }

  /** Seals on a fixed rate until stop() (see SealTimer). */
  start(intervalMs: number): void {
    this.timer.start(intervalMs);
  }

  /** Stops the timer and waits for a round in progress, so the store can be closed after. */
  async stop(): Promise<void> {
    this.timer.stop();
    await this.running?.catch(() => undefined);
  }
}
