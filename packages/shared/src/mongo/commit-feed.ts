import type { FeedListener, LocalLogFeed, LogFeed } from '../feed/port.js';
import { InProcessLogFeed } from '../in-process/log-feed.js';
import type { LogEvent } from '../schemas/log-event.js';
import type { TenantId } from '../store/tenant-id.js';
import type { MongoCollection, MongoDatabase } from './database.js';
import type { MongoIntegrityStore } from './integrity-store.js';
import { documentToEvent, LOGS_COLLECTION, type LogDocument } from './logs-collection.js';

type PositionedLog = LogDocument & { position?: number };

export interface MongoCommitFeedOptions {
  /** How often the subscribed tenants' newly positioned events are read when nothing woke the feed. */
  pollMs: number;
  /** Most documents read per round; the next round continues where it stopped. */
  batchSize?: number;
  /** Hears of inserts by any process (the change stream, or its polling fallback); each one wakes the feed. */
  wakeUp?: LogFeed | undefined;
  onError?: (error: unknown) => void;
}

/**
 * The stream's feed on MongoDB: events in `position` order (MongoCommitLog says why that is commit
 * order), so every replica streams the same order and each event carries the position its cursor
 * names. Documents get their position when some process first sees them (this feed assigns them
 * too, under the integrity store's lease); the change stream only says when to look.
 */
export class MongoCommitFeed implements LocalLogFeed {
  private readonly fanOut = new InProcessLogFeed();
  private readonly logs: MongoCollection<PositionedLog>;
  private readonly wakers = new Map<string, () => void>();
  private lastPosition = 0;
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private again = false;
  private started = false;
  private readonly batchSize: number;

  constructor(
    db: MongoDatabase,
    private readonly positions: Pick<MongoIntegrityStore, 'assignPositions'>,
    private readonly options: MongoCommitFeedOptions,
  ) {
    this.logs = db.collection<PositionedLog>(LOGS_COLLECTION);
    this.batchSize = options.batchSize ?? 1000;
  }

  subscribe(tenant: TenantId, listener: FeedListener): () => void {
    const stop = this.fanOut.subscribe(tenant, listener);
    if (this.options.wakeUp && !this.wakers.has(tenant))
      this.wakers.set(
        tenant,
        this.options.wakeUp.subscribe(tenant, () => this.wake()),
      );
    return () => {
      stop();
      if (!this.fanOut.tenants().includes(tenant)) {
        this.wakers.get(tenant)?.();
        this.wakers.delete(tenant);
      }
    };
  }

  async start(): Promise<void> {
    if (this.started) return;
    this.started = true;
    await this.options.wakeUp?.start();
    await this.positions.assignPositions();
    this.lastPosition = await this.maxPosition();
    this.timer = setInterval(() => this.wake(), this.options.pollMs);
    this.timer.unref();
  }

  committed(_events: readonly LogEvent[]): void {
    this.wake();
  }

  /** Runs one read round now, or right after the one in progress: rounds never overlap. */
  private wake(): void {
    if (!this.started || this.timer === null) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = this.round()
      .catch((error: unknown) => this.options.onError?.(error))
      .finally(() => {
        this.running = null;
        if (this.again) {
          this.again = false;
          this.wake();
        }
      });
  }

  private async round(): Promise<void> {
    // With nobody subscribed only the point moves on: handing out positions costs a write per
    // document, and the sealer does it on its own schedule anyway.
    if (this.fanOut.tenants().length === 0) {
      this.lastPosition = await this.maxPosition();
      return;
    }
    await this.positions.assignPositions();
    for (;;) {
      const tenants = this.fanOut.tenants();
      const upTo = await this.maxPosition();
      if (tenants.length === 0) {
        this.lastPosition = upTo;
        return;
      }
      // Positions are handed out in increasing order, so everything up to the highest one seen is
      // already written: rows of unwatched tenants up to it can be passed over.
      const documents = await this.logs
        .find(
          { tenant_id: { $in: tenants }, position: { $gt: this.lastPosition, $lte: upTo } },
          { projection: { _id: 0, search_text: 0 }, sort: { position: 1 }, limit: this.batchSize },
        )
        .toArray();
      const full = documents.length === this.batchSize;
      this.lastPosition = full ? (documents.at(-1)?.position as number) : upTo;
      this.fanOut.publish(
        documents.map(({ position, ...document }) => ({ event: documentToEvent(document), position: position as number })),
      );
      if (!full) return;
    }
  }

  private async maxPosition(): Promise<number> {
    const [last] = await this.logs
      .find({ position: { $exists: true } }, { projection: { _id: 0, position: 1 }, sort: { position: -1 }, limit: 1 })
      .toArray();
    return last?.position ?? 0;
  }

  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.running;
    for (const stop of this.wakers.values()) stop();
    this.wakers.clear();
    await this.options.wakeUp?.close();
    await this.fanOut.close();
  }
}
