import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import pRetry from 'p-retry';
import type { StreamLog } from '../feed/port.js';
import type { LogEvent } from '../schemas/log-event.js';
import type { AddressPolicy } from './address-policy.js';
import type { StreamSettings } from './config.js';
import { type DestinationRecord, logFilterOf } from './destination.js';
import { type DestinationProgress, initialProgress, type StreamStore } from './port.js';
import type { SecretBox } from './secret-box.js';
import { type Batch, batchId, DeliveryFailed, type Sender } from './sender.js';
import { createSender } from './senders.js';

export interface DelivererOptions {
  store: StreamStore;
  /** The store's commit order per tenant (the one resumed streams and exports replay). */
  streamLog: Pick<StreamLog, 'after' | 'head'>;
  box: SecretBox;
  policy: AddressPolicy;
  settings: StreamSettings;
  /** Names this process in the lease table; unique per instance. */
  holder?: string | undefined;
  onError?: ((error: unknown, destinationId: string) => void) | undefined;
  now?: (() => Date) | undefined;
}

/** What this process knows of a destination it delivers: the metrics read it at scrape time. */
export interface DeliveryStatus {
  destinationId: string;
  tenant: string;
  kind: string;
  progress: DestinationProgress;
  lagPositions: number;
  lagSeconds: number;
  deadLetters: number;
}

/** Context sealed with a destination's secrets: its tenant and id (secret-box.ts). */
export const secretContext = (record: Pick<DestinationRecord, 'tenant' | 'id'>): string =>
  `stream-destination:${record.tenant}:${record.id}`;

/**
 * Delivers every enabled destination this process holds the lease of, each in its own loop, so a
 * destination that hangs or fails holds up nothing but itself: ingest never waits for it (the loops
 * only read the store's commit log, on its own connection), and other destinations go on. At most
 * `maxActive` destinations per process, one batch in flight each, a batch at most batchMaxEvents
 * and batchMaxBytes: the process holds at most maxActive × batchMaxBytes of batches (DESIGN §9).
 */
export class StreamDeliverer {
  private readonly holder: string;
  private readonly now: () => Date;
  private readonly workers = new Map<string, DestinationWorker>();
  private discovery: Promise<void> | null = null;
  private readonly stopping = new AbortController();

  constructor(private readonly options: DelivererOptions) {
    this.holder = options.holder ?? randomUUID();
    this.now = options.now ?? (() => new Date());
  }

  start(): void {
    this.discovery ??= this.discover();
  }

  /** Re-reads the destinations: starts workers for new ones it can lease, stops those removed, disabled or changed. */
  private async discover(): Promise<void> {
    const { signal } = this.stopping;
    while (!signal.aborted) {
      try {
        await this.refresh();
      } catch (error) {
        this.options.onError?.(error, '*');
      }
      await sleep(this.options.settings.intervalMs, undefined, { signal }).catch(() => {});
    }
  }

  async refresh(): Promise<void> {
    const wanted = await this.options.store.enabledDestinations(10_000);
    const byId = new Map(wanted.map((record) => [record.id, record]));
    for (const [id, worker] of this.workers) {
      const record = byId.get(id);
      if (record === undefined || record.updatedAt !== worker.record.updatedAt || worker.finished) {
        this.workers.delete(id);
        await worker.stop();
      }
    }
    for (const record of wanted) {
      if (this.stopping.signal.aborted || this.workers.size >= this.options.settings.maxActive) break;
      if (this.workers.has(record.id)) continue;
      if (!(await this.options.store.acquireLease(record.id, this.holder, this.options.settings.leaseMs))) continue;
      let sender: Sender;
      try {
        const secrets = JSON.parse(this.options.box.open(record.secret, secretContext(record))) as Record<string, unknown>;
        sender = createSender(record.kind, record.settings, secrets, {
          policy: this.options.policy,
          timeoutMs: this.options.settings.requestTimeoutMs,
        });
      } catch (error) {
        // A secret sealed under another STREAM_SECRET_KEY: the destination waits (its state says so) rather than guessing.
        this.options.onError?.(error, record.id);
        await this.options.store.releaseLease(record.id, this.holder);
        continue;
      }
      const worker = new DestinationWorker(record, sender, this.options, this.holder, this.now);
      this.workers.set(record.id, worker);
      worker.start();
    }
  }

  /** Stops every loop (a batch in flight is abandoned, not counted: it is sent again), then releases the leases. */
  async stop(): Promise<void> {
    this.stopping.abort(new Error('stream deliverer stopping'));
    await this.discovery;
    await Promise.all([...this.workers.values()].map((worker) => worker.stop()));
    this.workers.clear();
  }

  statuses(): DeliveryStatus[] {
    return [...this.workers.values()].map((worker) => worker.status());
  }
}

/** How long a request already sent may still finish once its loop stops: its answer then counts. */
const STOP_GRACE_MS = 2000;

class DestinationWorker {
  private readonly abort = new AbortController();
  /** Aborts a request in flight: STOP_GRACE_MS after stop(), so an answer on its way is not thrown away. */
  private readonly requests = new AbortController();
  private loop: Promise<void> | null = null;
  private renewal: NodeJS.Timeout | null = null;
  private progress: DestinationProgress | null = null;
  private lagPositions = 0;
  private lagSeconds = 0;
  private deadLetters = 0;
  finished = false;

  constructor(
    readonly record: DestinationRecord,
    private readonly sender: Sender,
    private readonly options: DelivererOptions,
    private readonly holder: string,
    private readonly now: () => Date,
  ) {}

  start(): void {
    const { leaseMs } = this.options.settings;
    // The lease is renewed on its own timer, so a batch retried for longer than the lease keeps it; a
    // renewal refused (another replica took over after a stall) stops this loop.
    this.renewal = setInterval(
      () => {
        this.options.store.acquireLease(this.record.id, this.holder, leaseMs).then(
          (held) => {
            if (!held) this.abort.abort(new Error('lease lost'));
          },
          () => {},
        );
      },
      Math.max(250, Math.floor(leaseMs / 3)),
    );
    this.loop = this.run().finally(() => {
      this.finished = true;
    });
  }

  async stop(): Promise<void> {
    this.abort.abort(new Error('stopped'));
    if (this.renewal) clearInterval(this.renewal);
    const grace = setTimeout(
      () => this.requests.abort(new Error('stopped')),
      Math.min(STOP_GRACE_MS, this.options.settings.requestTimeoutMs),
    );
    await this.loop?.catch(() => {});
    clearTimeout(grace);
    await this.sender.close().catch(() => {});
    await this.options.store.releaseLease(this.record.id, this.holder).catch(() => {});
  }

  status(): DeliveryStatus {
    return {
      destinationId: this.record.id,
      tenant: this.record.tenant,
      kind: this.record.kind,
      progress: this.progress ?? initialProgress(0),
      lagPositions: this.lagPositions,
      lagSeconds: this.lagSeconds,
      deadLetters: this.deadLetters,
    };
  }

  private async run(): Promise<void> {
    const { signal } = this.abort;
    const { store, streamLog, settings } = this.options;
    const filter = logFilterOf(this.record.filter);
    this.progress = await store.progress(this.record.id);
    if (this.progress === null) return;
    this.deadLetters = await store.deadLetterCount(this.record.id);
    while (!signal.aborted) {
      try {
        await this.replayDeadLetters();
        this.deadLetters = await store.deadLetterCount(this.record.id);
        const progress = this.progress;
        const events = await streamLog.after(this.record.tenant, progress.position, filter, settings.batchMaxEvents);
        this.lagPositions = Math.max(0, (await streamLog.head()) - progress.position);
        if (events.length === 0) {
          this.lagSeconds = 0;
          await sleep(settings.intervalMs, undefined, { signal });
          continue;
        }
        this.lagSeconds = Math.max(0, (this.now().getTime() - Date.parse((events[0] as { event: LogEvent }).event.received_at)) / 1000);
        const batch = this.cut(events);
        await this.deliver(batch, progress);
      } catch (error) {
        if (signal.aborted) return;
        // The store (or the secret box) failed, not the destination: try again soon, from the checkpoint.
        this.options.onError?.(error, this.record.id);
        await sleep(Math.max(settings.intervalMs, 1000), undefined, { signal }).catch(() => {});
      }
    }
  }

  /** The longest prefix of the events within batchMaxBytes (at least one event: a single event is bounded by the ingest limits). */
  private cut(events: readonly { event: LogEvent; position: number }[]): Batch {
    let bytes = 0;
    let count = 0;
    for (const { event } of events) {
      bytes += Buffer.byteLength(JSON.stringify(event)) + 1;
      if (count > 0 && bytes > this.options.settings.batchMaxBytes) break;
      count++;
    }
    const kept = events.slice(0, count);
    const first = (kept[0] as { position: number }).position;
    const last = (kept.at(-1) as { position: number }).position;
    return {
      id: batchId(this.record.id, first, last),
      tenant: this.record.tenant,
      destinationId: this.record.id,
      events: kept.map(({ event }) => event),
      firstPosition: first,
      lastPosition: last,
    };
  }

  /** Sends with backoff until it is accepted, runs out of retries (dead letter) or the loop stops. */
  private async deliver(batch: Batch, progress: DestinationProgress): Promise<void> {
    const { store, settings } = this.options;
    const { signal } = this.abort;
    try {
      await this.sendWithRetries(batch, progress);
      progress.position = batch.lastPosition;
      progress.delivered += batch.events.length;
      progress.status = 'ok';
      progress.lastDeliveredAt = this.now().toISOString();
      await store.saveProgress(this.record.id, progress);
      return;
    } catch (error) {
      if (signal.aborted) throw error;
      const reason = error instanceof Error ? error.message : String(error);
      const added = await store.addDeadLetter(
        this.record.id,
        {
          firstPosition: batch.firstPosition,
          lastPosition: batch.lastPosition,
          events: [...batch.events],
          error: reason,
          failedAt: this.now().toISOString(),
          attempts: settings.retries + 1,
          replayRequested: false,
        },
        settings.dlqMaxBatches,
      );
      if (added) {
        this.deadLetters++;
        progress.position = batch.lastPosition;
        progress.deadLettered += batch.events.length;
        progress.status = 'ok';
        progress.lastError = reason;
        await store.saveProgress(this.record.id, progress);
        return;
      }
      // The dead-letter list is full: nothing is dropped. The batch stays where it is and is tried
      // again after the longest backoff, until a replay or a removal makes room.
      progress.status = 'blocked';
      progress.lastError = `dead-letter list full (${settings.dlqMaxBatches} batches): ${reason}`;
      await store.saveProgress(this.record.id, progress);
      await this.waitWhileBlocked();
    }
  }

  /** The longest backoff, cut short when the admin asks for a replay (which makes room in the list). */
  private async waitWhileBlocked(): Promise<void> {
    const { settings, store } = this.options;
    const until = Date.now() + settings.retryMaxMs;
    while (Date.now() < until) {
      await sleep(Math.min(settings.intervalMs, Math.max(0, until - Date.now())), undefined, { signal: this.abort.signal });
      if ((await store.replayable(this.record.id, 1)).length > 0) return;
    }
  }

  /**
   * Resolves once the destination accepted the batch. Stopping ends the backoff at once, but a
   * request already sent gets its grace: if it is accepted then, the batch counts as delivered (else
   * the next holder would send it again for nothing).
   */
  private async sendWithRetries(batch: Batch, progress: DestinationProgress, retries = this.options.settings.retries): Promise<void> {
    let inFlight: Promise<void> | null = null;
    let accepted = false;
    try {
      await this.retrying(batch, progress, retries, (sent) => {
        inFlight = sent.then(() => {
          accepted = true;
        });
        return inFlight;
      });
    } catch (error) {
      if (this.abort.signal.aborted && inFlight !== null) await (inFlight as Promise<void>).catch(() => {});
      if (!accepted) throw error;
    }
  }

  private retrying(
    batch: Batch,
    progress: DestinationProgress,
    retries: number,
    track: (sent: Promise<void>) => Promise<void>,
  ): Promise<void> {
    const { settings, store } = this.options;
    const { signal } = this.abort;
    return pRetry(
      async () => {
        progress.lastAttemptAt = this.now().toISOString();
        await track(this.sender.send(batch, this.requests.signal));
      },
      {
        retries,
        factor: 2,
        minTimeout: settings.retryMinMs,
        maxTimeout: settings.retryMaxMs,
        randomize: true,
        signal,
        shouldRetry: ({ error }) => !(error instanceof DeliveryFailed && error.permanent),
        onFailedAttempt: async ({ error }) => {
          progress.failedAttempts++;
          progress.status = 'retrying';
          progress.lastError = error.message;
          await store.saveProgress(this.record.id, progress).catch(() => {});
        },
      },
    );
  }

  /** Dead letters the admin asked to replay: each sent as it was, with the same retries; delivered ones leave the list. */
  private async replayDeadLetters(): Promise<void> {
    const { store } = this.options;
    const progress = this.progress as DestinationProgress;
    for (const letter of await store.replayable(this.record.id, 10)) {
      const batch: Batch = {
        id: batchId(this.record.id, letter.firstPosition, letter.lastPosition),
        tenant: this.record.tenant,
        destinationId: this.record.id,
        events: letter.events,
        firstPosition: letter.firstPosition,
        lastPosition: letter.lastPosition,
      };
      try {
        await this.sendWithRetries(batch, progress);
        await store.removeDeadLetter(this.record.id, letter.id);
        this.deadLetters = Math.max(0, this.deadLetters - 1);
        progress.delivered += batch.events.length;
        progress.status = 'ok';
        progress.lastDeliveredAt = this.now().toISOString();
        await store.saveProgress(this.record.id, progress);
      } catch (error) {
        if (this.abort.signal.aborted) throw error;
        await store.replayFailed(
          this.record.id,
          letter.id,
          error instanceof Error ? error.message : String(error),
          this.now().toISOString(),
        );
      }
    }
  }
}
