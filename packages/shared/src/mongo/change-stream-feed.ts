import type { ChangeStreamDocument } from 'mongodb';
import pRetry from 'p-retry';
import type { Logger } from 'pino';
import type { FeedListener, LogFeed } from '../feed/port.js';
import { InProcessLogFeed } from '../in-process/log-feed.js';
import type { TenantId } from '../store/tenant-id.js';
import type { MongoChangeStream, MongoCollection, MongoDatabase } from './database.js';
import { documentToEvent, LOGS_COLLECTION, type LogDocument } from './logs-collection.js';

export interface MongoFeedOptions {
  log: Pick<Logger, 'info' | 'warn'>;
  /** Fallback on a server without change streams: how often the subscribed tenants are polled. */
  pollIntervalMs: number;
  /**
   * Fallback: how far behind the newest id a poll looks again, for events whose id was assigned
   * before an event already seen but that were stored after it (several writers, queue delays).
   */
  lookbackMs: number;
  /** Backoff between reopening a failed change stream. */
  reopenMinMs?: number;
  reopenMaxMs?: number;
}

type LogChange = ChangeStreamDocument<LogDocument>;

const HISTORY_LOST = 286;
const NOT_A_REPLICA_SET = 40573;
/** Only inserts reach clients: an audit log is append-only, and cleanup is not an event to stream. */
const PIPELINE = [{ $match: { operationType: 'insert' } }];

const codeOf = (error: unknown): unknown => (typeof error === 'object' && error !== null ? (error as { code?: unknown }).code : undefined);

function isNotReplicaSet(error: unknown): boolean {
  return codeOf(error) === NOT_A_REPLICA_SET || (error instanceof Error && /only supported on replica sets/i.test(error.message));
}

/** The smallest UUIDv7 of that millisecond: every id assigned at or after it sorts after it as text. */
export function uuidv7Floor(epochMs: number): string {
  const hex = Math.max(0, Math.floor(epochMs)).toString(16).padStart(12, '0');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-0000-0000-000000000000`;
}

interface PolledTenant {
  /** Ids already handed out (or stored before the first subscriber came), within the look-back window. */
  seen: Set<string>;
  ready: Promise<void>;
}

/** Inserts are heard before any position is given to them: MongoCommitFeed reads the positions. */
export const NO_POSITION = 0;

/**
 * Hears of inserts into `logs` by any process; MongoCommitFeed uses it as its wake-up and reads
 * the events, with their positions, itself (listeners here get position NO_POSITION).
 * Each log-service replica watches inserts into `logs` and fans them out to its own stream
 * clients, so every replica's clients see every stored event. On a standalone server (no change
 * streams) it says so once and polls each subscribed tenant by (tenant_id, id) instead.
 */
export class MongoChangeStreamFeed implements LogFeed {
  private readonly fanOut = new InProcessLogFeed();
  private readonly logs: MongoCollection<LogDocument>;
  private readonly abort = new AbortController();
  private starting: Promise<void> | null = null;
  private following: Promise<void> | null = null;
  private stream: MongoChangeStream<LogChange> | null = null;
  private resumeToken: unknown = null;
  private mode: 'change-stream' | 'polling' | 'stopped' = 'stopped';
  private readonly polled = new Map<string, PolledTenant>();
  private pollTimer: NodeJS.Timeout | null = null;
  private polling: Promise<void> | null = null;

  constructor(
    db: MongoDatabase,
    private readonly options: MongoFeedOptions,
  ) {
    this.logs = db.collection<LogDocument>(LOGS_COLLECTION);
  }

  /** 'change-stream' or 'polling' once started; tests and /readyz-minded operators read it. */
  get deliveryMode(): 'change-stream' | 'polling' | 'stopped' {
    return this.mode;
  }

  subscribe(tenant: TenantId, listener: FeedListener): () => void {
    const first = this.mode === 'polling' && !this.polled.has(tenant);
    const stop = this.fanOut.subscribe(tenant, listener);
    if (first) this.prime(tenant);
    return stop;
  }

  /** Opens the change stream before resolving, so every event stored afterwards reaches subscribers. */
  start(): Promise<void> {
    this.starting ??= this.open();
    return this.starting;
  }

  async close(): Promise<void> {
    this.mode = 'stopped';
    this.abort.abort();
    if (this.pollTimer) clearTimeout(this.pollTimer);
    await this.stream?.close().catch(() => {});
    await Promise.allSettled([this.following, this.polling]);
    await this.fanOut.close();
  }

  private async open(): Promise<void> {
    const stream = this.logs.watch(PIPELINE);
    try {
      // The driver sends the aggregate that opens the stream on the first read.
      const change = await stream.tryNext();
      this.remember(stream, change);
      if (change) this.deliver(change);
    } catch (error) {
      await stream.close().catch(() => {});
      if (!isNotReplicaSet(error)) throw error;
      this.options.log.warn(
        'MongoDB is not a replica set, so it has no change streams: the live stream polls each subscribed tenant instead. Run MongoDB as a replica set (a single-node one will do) for push delivery.',
      );
      this.mode = 'polling';
      for (const tenant of this.fanOut.tenants()) this.prime(tenant as TenantId);
      this.schedulePoll();
      return;
    }
    this.mode = 'change-stream';
    this.following = this.follow(stream);
  }

  /**
   * Reads changes until closed. A failure that the driver could not resume itself reopens the
   * stream after the last token seen; a lost history (the oplog moved past that token) reopens
   * from now instead of retrying a token that can never work again.
   */
  private async follow(initial: MongoChangeStream<LogChange>): Promise<void> {
    let next: MongoChangeStream<LogChange> | null = initial;
    await pRetry(
      async () => {
        const stream = next ?? this.logs.watch(PIPELINE, this.resumeToken === null ? {} : { resumeAfter: this.resumeToken });
        next = null;
        this.stream = stream;
        try {
          for (;;) {
            const change = await stream.next();
            this.remember(stream, change);
            this.deliver(change);
          }
        } finally {
          await stream.close().catch(() => {});
        }
      },
      {
        retries: Number.POSITIVE_INFINITY,
        minTimeout: this.options.reopenMinMs ?? 100,
        maxTimeout: this.options.reopenMaxMs ?? 5_000,
        signal: this.abort.signal,
        shouldRetry: () => !this.abort.signal.aborted,
        onFailedAttempt: ({ error, attemptNumber }) => {
          if (this.abort.signal.aborted) return;
          if (codeOf(error) === HISTORY_LOST) {
            this.resumeToken = null;
            this.options.log.warn(
              { code: HISTORY_LOST },
              'change stream history lost (the oplog moved past the resume token): reopening from now; events stored in the gap are not streamed',
            );
            return;
          }
          this.options.log.warn({ err: error, attempt: attemptNumber }, 'change stream failed: resuming after the last event seen');
        },
      },
    ).catch((error: unknown) => {
      if (!this.abort.signal.aborted) this.options.log.warn({ err: error }, 'change stream stopped');
    });
  }

  private remember(stream: MongoChangeStream<LogChange>, change: LogChange | null): void {
    // The stream's token also moves on empty batches, so a resume skips nothing it already read.
    this.resumeToken = stream.resumeToken ?? change?._id ?? this.resumeToken;
  }

  private deliver(change: LogChange): void {
    if (change.operationType !== 'insert') return;
    this.fanOut.publish([{ event: documentToEvent(change.fullDocument), position: NO_POSITION }]);
  }

  /**
   * Marks what the tenant already has as seen, without delivering it: a new subscriber gets what
   * is stored from now on, as with a change stream. Started at subscribe time, so the snapshot
   * is taken before anything the subscriber's own later requests store.
   */
  private prime(tenant: TenantId): void {
    const state: PolledTenant = { seen: new Set(), ready: Promise.resolve() };
    state.ready = this.idsInWindow(tenant)
      .then((ids) => {
        for (const id of ids) state.seen.add(id);
      })
      .catch((error: unknown) => {
        this.options.log.warn({ err: error }, 'could not read the tenant’s recent events; they may be streamed once');
      });
    this.polled.set(tenant, state);
  }

  private idsInWindow(tenant: TenantId): Promise<string[]> {
    const floor = uuidv7Floor(Date.now() - this.options.lookbackMs);
    return this.logs
      .find({ tenant_id: { $eq: tenant }, id: { $gt: floor } }, { projection: { _id: 0, id: 1 }, sort: { id: 1 } })
      .toArray()
      .then((documents) => documents.map((document) => document.id));
  }

  private schedulePoll(): void {
    if (this.mode !== 'polling') return;
    this.pollTimer = setTimeout(() => {
      this.polling = this.pollOnce()
        .catch((error: unknown) => this.options.log.warn({ err: error }, 'polling for new events failed; trying again'))
        .finally(() => this.schedulePoll());
    }, this.options.pollIntervalMs);
  }

  private async pollOnce(): Promise<void> {
    const subscribed = new Set(this.fanOut.tenants());
    for (const tenant of this.polled.keys()) if (!subscribed.has(tenant)) this.polled.delete(tenant);
    for (const tenant of subscribed) {
      const state = this.polled.get(tenant);
      if (!state) continue;
      await state.ready;
      const fresh = (await this.idsInWindow(tenant as TenantId)).filter((id) => !state.seen.has(id));
      // Forget ids that fell out of the window: no later poll can return them again.
      const floor = uuidv7Floor(Date.now() - this.options.lookbackMs);
      for (const id of state.seen) if (id <= floor) state.seen.delete(id);
      if (fresh.length === 0) continue;
      const documents = await this.logs
        .find({ tenant_id: { $eq: tenant }, id: { $in: fresh } }, { projection: { _id: 0, search_text: 0 }, sort: { id: 1 } })
        .toArray();
      for (const document of documents) state.seen.add(document.id);
      if (this.mode === 'polling')
        this.fanOut.publish(documents.map((document) => ({ event: documentToEvent(document), position: NO_POSITION })));
    }
  }
}
