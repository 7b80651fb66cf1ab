import type { CommitPosition } from '../integrity/port.js';
import type { AnalyticsStore, CommitLog, SinkCheckpoint } from './port.js';

export interface SinkOptions {
  commitLog: CommitLog;
  analytics: AnalyticsStore;
  /** Events read and written at a time: what the sink holds in memory (DESIGN §9). */
  batchSize: number;
  /** Pause between rounds once caught up. */
  intervalMs: number;
  onError?: ((error: unknown) => void) | undefined;
  now?: (() => Date) | undefined;
  /**
   * When a round copies nothing, the checkpoint (its caughtUpAt, the stats API's meta.as_of) is
   * saved only if the last save is at least this old: an idle sink writes one small row every few
   * seconds, not one a round (each insert is a part in the analytics store that merges must fold).
   */
  idleSaveMs?: number | undefined;
}

/** Default of SinkOptions.idleSaveMs: meta.as_of of an idle tier is at most this far behind. */
export const IDLE_SAVE_MS = 5000;

export interface SinkStatus {
  /** The last commit position copied (null: none yet). */
  position: CommitPosition | null;
  /** The primary store's last commit position. */
  head: CommitPosition | null;
  /** Commit positions not yet copied (events committed since, less any a cleanup removed meanwhile). */
  lagEvents: number;
  /** Seconds since the sink last had every committed event (since it started, before it first did). */
  lagSeconds: number;
  /** When the sink last read the primary to its end: every event committed before is in analytics. */
  caughtUpAt: string | null;
  eventsCopied: number;
  deletionsApplied: number;
  errors: number;
  lastError: string | null;
}

const IDS_PAGE = 10_000;
/** Batches written in one round before the event loop gets a turn; the next round starts at once. */
const BATCHES_PER_ROUND = 20;

/**
 * Copies every stored event to the analytics store in commit order, and every cleanup's deletions,
 * following the primary store's commit position. The checkpoint lives in the analytics store and is
 * saved after what it covers is written: a crash replays at most one batch, which the analytics
 * store counts once (same event, same position). It only reads the primary store, on its own
 * connection, so ingest never waits for it; when analytics is down it retries each round and
 * catches up from its checkpoint.
 */
export class AnalyticsSink {
  private readonly now: () => Date;
  private checkpoint: SinkCheckpoint | null = null;
  private head: CommitPosition | null = null;
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private started = false;
  private migrated = false;
  /** When this sink last saved its checkpoint (ms since the epoch; 0: not yet). */
  private savedAt = 0;
  private readonly startedAt: Date;
  private readonly counters = { eventsCopied: 0, deletionsApplied: 0, errors: 0, lastError: null as string | null };

  constructor(private readonly options: SinkOptions) {
    this.now = options.now ?? (() => new Date());
    this.startedAt = this.now();
  }

  /** One round: deletions first, then events until caught up (or BATCHES_PER_ROUND). True when caught up. */
  async runOnce(): Promise<boolean> {
    const run = this.round();
    this.running = run.then(
      () => undefined,
      () => undefined,
    );
    return run;
  }

  private async round(): Promise<boolean> {
    const { analytics, commitLog, batchSize } = this.options;
    if (!this.migrated) {
      await analytics.migrate();
      this.migrated = true;
    }
    this.checkpoint ??= await analytics.loadCheckpoint();
    const checkpoint = this.checkpoint;
    // Deletions before events: an event stored again after a cleanup removed it is then written after
    // the deletion, as it was in the primary store.
    for (const cleanup of await commitLog.cleanupsAfter(checkpoint.cleanupId, 100)) {
      let after = '';
      for (;;) {
        const ids = await commitLog.deletedIds(cleanup.cleanupId, after, IDS_PAGE);
        if (ids.length === 0) break;
        await analytics.deleteIds(cleanup.tenant, ids);
        this.counters.deletionsApplied += ids.length;
        after = ids.at(-1) as string;
        if (ids.length < IDS_PAGE) break;
      }
      // A cleanup still deleting is replayed next round (deleting an id twice changes nothing).
      if (!cleanup.finished) break;
      checkpoint.cleanupId = cleanup.cleanupId;
      await this.save(checkpoint);
    }
    for (let batch = 0; batch < BATCHES_PER_ROUND; batch++) {
      const readAt = this.now().toISOString();
      const events = await commitLog.committedAfter(checkpoint.position, batchSize);
      this.head = await commitLog.head();
      if (events.length > 0) {
        await analytics.insert(events);
        this.counters.eventsCopied += events.length;
        checkpoint.position = (events.at(-1) as { position: string }).position;
      }
      const caughtUp = events.length < batchSize;
      if (caughtUp) checkpoint.caughtUpAt = readAt;
      const idleSaveMs = this.options.idleSaveMs ?? IDLE_SAVE_MS;
      if (events.length > 0 || (caughtUp && this.now().getTime() - this.savedAt >= idleSaveMs)) await this.save(checkpoint);
      if (caughtUp) return true;
    }
    return false;
  }

  private async save(checkpoint: SinkCheckpoint): Promise<void> {
    await this.options.analytics.saveCheckpoint(checkpoint);
    this.savedAt = this.now().getTime();
  }

  /** Runs rounds until stop(): at once while behind, every intervalMs once caught up; a failed round is retried. */
  start(): void {
    this.started = true;
    const tick = () => {
      this.runOnce()
        .then(
          (caughtUp) => (caughtUp ? this.options.intervalMs : 0),
          (error: unknown) => {
            this.counters.errors++;
            this.counters.lastError = error instanceof Error ? error.message : String(error);
            this.options.onError?.(error);
            return Math.max(this.options.intervalMs, 1000);
          },
        )
        .then((delay) => {
          if (this.started) this.timer = setTimeout(tick, delay);
        });
    };
    this.timer = setTimeout(tick, 0);
  }

  async stop(): Promise<void> {
    this.started = false;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    await this.running;
  }

  status(): SinkStatus {
    const position = this.checkpoint?.position ?? null;
    const caughtUpAt = this.checkpoint?.caughtUpAt ?? null;
    const since = caughtUpAt === null ? this.startedAt.getTime() : Date.parse(caughtUpAt);
    const lagEvents = Math.max(0, Number(this.head ?? 0) - Number(position ?? 0));
    return {
      position,
      head: this.head,
      lagEvents,
      lagSeconds: Math.max(0, (this.now().getTime() - since) / 1000),
      caughtUpAt,
      ...this.counters,
    };
  }
}
