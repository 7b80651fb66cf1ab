import type { CommittedEvent, LogFeed, StreamLog } from '@logserver/shared/feed/port';
import type { LogEvent } from '@logserver/shared/schemas/log-event';
import { matchesFilter } from '@logserver/shared/store/filter';
import type { LogFilter } from '@logserver/shared/store/port';
import type { TenantId } from '@logserver/shared/store/tenant-id';
import type { CursorCodec, StreamPosition } from '@logserver/shared/stream/cursor';
import { type EventFrame, eventFrame, notice } from './frames.js';

/** Where frames go: a WebSocket or a Server-Sent Events response; each formats them its own way. */
export interface StreamWire {
  /** Bytes accepted but not yet handed to the kernel. */
  readonly bufferedAmount: number;
  /** One event; `done` is called once it left the process's buffers (or failed). */
  sendEvent(frame: EventFrame, done: (error?: Error) => void): void;
  /**
   * One notice (catching_up, live, cursor_expired, closing). A `live` notice carries the cursor to
   * resume from (`cursor`), which an SSE wire also sends as its `id:` so that EventSource keeps it.
   */
  sendNotice(json: string, done: (error?: Error) => void, cursor?: string): void;
}

export interface SubscriptionCounters {
  /** Events sent live, from the feed. */
  sent(count: number): void;
  /** Events sent from the store: a replay after `after=` or a catch-up. */
  replayed(count: number): void;
  /** A client fell behind and is being caught up from the store. */
  catchingUp(): void;
}

export interface SubscriptionOptions {
  tenant: TenantId;
  filter: LogFilter;
  /** The decoded `after=` / Last-Event-ID, or null to start at the head of the store (sent in the first frame). */
  after: StreamPosition | null;
  feed: LogFeed;
  streamLog: StreamLog;
  cursors: CursorCodec;
  wire: StreamWire;
  /** Socket backlog plus live events held while replaying stay at or under this. */
  bufferBytes: number;
  /** Events read from the store per page. */
  pageSize: number;
  /** Frames of live events, built once per event for every subscriber of the tenant. */
  frameOf(event: LogEvent, position: number): EventFrame;
  counters: SubscriptionCounters;
  /** The store could not be read: the caller closes the connection (with the resume cursor). */
  onFailure(error: unknown): void;
}

interface Held {
  frame: EventFrame;
  position: number;
}

/**
 * One client's stream, every matching event exactly once and in commit order, whatever the client's
 * speed. It subscribes to the feed first and then reads the store, so no event falls between the two;
 * anything both deliver is recognised by its position and sent once.
 *
 * Without a cursor it starts at the head of the store: the first frame is `{"type":"live","cursor"}`
 * with the head as cursor, so a client cut before its first event resumes from there. Live events
 * that arrive while the head is read are held, and those after the head sent once it is known.
 *
 * - `live`: feed events go straight to the wire while the backlog has room. When it has none, nothing
 *   more is queued: the connection switches to `store`.
 * - `store`: once the backlog has drained to half the limit, pages are read from the store after the
 *   last position sent. Live events that arrive meanwhile are held, within what the limit leaves;
 *   if they would not fit they are let go (the store still has them) and another page is read. When a
 *   page comes back short and nothing was let go since it was asked for, the held events continue it
 *   seamlessly and the connection is live again.
 */
export class ResumableSubscription {
  private mode: 'live' | 'store';
  /** The last event sent, or where the stream started (the cursor asked for, or the head). */
  private lastSent: StreamPosition;
  /** False until the head is read for a client that connected without a cursor. */
  private started: boolean;
  private held: Held[] = [];
  private heldBytes = 0;
  private letGo = false;
  private pumping = false;
  private behind = false;
  private closed = false;
  private unsubscribe: () => void = () => {};
  /** The head read of a stream without a cursor (null when it failed or there was none to read). */
  private headRead: Promise<number | null> = Promise.resolve(null);
  private readonly drainWaiters: (() => void)[] = [];

  constructor(private readonly options: SubscriptionOptions) {
    this.mode = 'store';
    this.lastSent = options.after ?? { position: 0, id: null };
    this.started = options.after !== null;
  }

  start(): void {
    this.subscribe();
    if (this.options.after !== null) {
      void this.pump(true);
      return;
    }
    // Subscribed first, then the head read: an event committed after the head gets a higher position
    // and the feed hands it out after it was positioned, so after this subscription; it is held until
    // the head is known. What the feed hands out at or below the head is left out, as the cursor says.
    this.headRead = this.options.streamLog.head().then(
      (head) => {
        void this.open(head);
        return head;
      },
      (error: unknown) => {
        if (!this.closed) this.options.onFailure(error);
        return null;
      },
    );
  }

  /** A stream without a cursor: the head frame, then the live events held meanwhile, then live. */
  private async open(head: number): Promise<void> {
    if (this.closed) return;
    this.lastSent = { position: head, id: null };
    this.started = true;
    this.sendNotice({ type: 'live', cursor: this.cursorOf(this.lastSent) }, true);
    this.pumping = true;
    try {
      if (!this.letGo && (await this.sendHeld()) && !this.letGo) {
        this.mode = 'live';
        return;
      }
    } finally {
      this.pumping = false;
    }
    // More arrived while the head was read than the limit lets this connection hold: read the store.
    if (!this.closed) void this.pump(false, true);
  }

  private subscribe(): void {
    this.unsubscribe = this.options.feed.subscribe(this.options.tenant, (event, position) => this.onFeed(event, position));
  }

  private cursorOf(at: StreamPosition): string {
    return this.options.cursors.encode(this.options.tenant, at);
  }

  /** Where a client resumes from: the last event sent, or where it started. Null until the head is read. */
  resumePosition(): StreamPosition | null {
    return this.started ? this.lastSent : null;
  }

  resumeCursor(): string | null {
    const at = this.resumePosition();
    return at === null ? null : this.cursorOf(at);
  }

  /**
   * The resume cursor once the stream's start is known: a connection closed while its head is still
   * being read resumes from that head (nothing after it was sent). Null if the head read failed.
   */
  async settledResumeCursor(): Promise<string | null> {
    if (this.started) return this.resumeCursor();
    const head = await this.headRead;
    if (this.started) return this.resumeCursor();
    return head === null ? null : this.cursorOf({ position: head, id: null });
  }

  /** How much this connection holds besides the socket: the live events kept while replaying. */
  get heldByteCount(): number {
    return this.heldBytes;
  }

  stop(): void {
    if (this.closed) return;
    this.closed = true;
    this.unsubscribe();
    this.held = [];
    this.heldBytes = 0;
    for (const wake of this.drainWaiters.splice(0)) wake();
  }

  private onFeed(event: LogEvent, position: number): void {
    if (this.closed || position <= this.lastSent.position || !matchesFilter(event, this.options.filter)) return;
    const frame = this.options.frameOf(event, position);
    if (this.mode === 'live') {
      if (this.fits(frame.bytes)) {
        this.send(frame, position, event.id);
        this.options.counters.sent(1);
        return;
      }
      // Behind: stop queueing; the store has every event from here on.
      this.mode = 'store';
      this.behind = true;
      this.letGo = true;
      this.options.counters.catchingUp();
      void this.pump(false);
      return;
    }
    if (this.letGo) return;
    if (this.heldBytes + frame.bytes + this.options.wire.bufferedAmount > this.options.bufferBytes) {
      this.letGo = true;
      this.held = [];
      this.heldBytes = 0;
      return;
    }
    this.held.push({ frame, position });
    this.heldBytes += frame.bytes;
  }

  private fits(bytes: number): boolean {
    const buffered = this.options.wire.bufferedAmount;
    return buffered === 0 || buffered + bytes <= this.options.bufferBytes;
  }

  private send(frame: EventFrame, position: number, id: string): void {
    this.lastSent = { position, id };
    this.options.wire.sendEvent(frame, () => this.wakeIfDrained());
  }

  /** `withCursor`: the notice's `cursor` is also the SSE `id:` (the `live` notice). */
  private sendNotice(body: { type: string } & Record<string, unknown>, withCursor = false): void {
    const cursor = withCursor && typeof body.cursor === 'string' ? body.cursor : undefined;
    this.options.wire.sendNotice(notice(body), () => this.wakeIfDrained(), cursor);
  }

  private wakeIfDrained(): void {
    if (this.options.wire.bufferedAmount > this.options.bufferBytes / 2) return;
    for (const wake of this.drainWaiters.splice(0)) wake();
  }

  /** Resolves once the backlog is at or under half the limit (or the subscription stopped). */
  private drained(): Promise<void> {
    if (this.closed || this.options.wire.bufferedAmount <= this.options.bufferBytes / 2) return Promise.resolve();
    return new Promise((resolve) => this.drainWaiters.push(resolve));
  }

  /**
   * Reads the store until the client has everything committed, then hands over to the feed and says
   * `live` with the cursor to resume from (not again when `opening`: the first frame said it).
   */
  private async pump(resuming: boolean, opening = false): Promise<void> {
    if (this.pumping) return;
    this.pumping = true;
    const { streamLog, tenant, filter, pageSize, counters } = this.options;
    try {
      if (resuming && this.lastSent.id !== null && !(await streamLog.holds(tenant, this.lastSent.id))) {
        // The cursor's event was deleted by a cleanup: what followed it may be gone too.
        this.sendNotice({
          type: 'cursor_expired',
          message: 'the event this cursor names is no longer retained; resuming at the oldest retained event after it',
        });
      }
      if (this.behind) {
        await this.drained();
        if (this.closed) return;
        this.sendNotice({ type: 'catching_up', after: this.cursorOf(this.lastSent) });
      }
      for (;;) {
        if (this.closed) return;
        // Live events held so far were committed before this read starts, so the read covers them.
        this.held = [];
        this.heldBytes = 0;
        this.letGo = false;
        const page = await streamLog.after(tenant, this.lastSent.position, filter, pageSize);
        if (!(await this.sendPage(page))) return;
        counters.replayed(page.length);
        // A store read and a fast client's sends never yield on their own; other connections and
        // requests get their turn between pages.
        await new Promise((resolve) => setImmediate(resolve));
        if (page.length === pageSize || this.letGo) continue;
        if (!(await this.sendHeld())) return;
        if (this.letGo) continue;
        this.mode = 'live';
        this.behind = false;
        if (!opening) this.sendNotice({ type: 'live', cursor: this.cursorOf(this.lastSent) }, true);
        return;
      }
    } catch (error) {
      if (!this.closed) this.options.onFailure(error);
    } finally {
      this.pumping = false;
    }
  }

  /** Sends a page from the store, waiting for the client whenever the backlog is full. False once stopped. */
  private async sendPage(page: readonly CommittedEvent[]): Promise<boolean> {
    for (const { event, position } of page) {
      if (this.closed) return false;
      if (position <= this.lastSent.position) continue;
      const frame = eventFrame(event, this.cursorOf({ position, id: event.id }));
      if (!this.fits(frame.bytes)) await this.drained();
      if (this.closed) return false;
      this.send(frame, position, event.id);
    }
    return true;
  }

  /** Sends the held live events that follow the last one sent. False once stopped. */
  private async sendHeld(): Promise<boolean> {
    while (this.held.length > 0) {
      const next = this.held.shift() as Held;
      this.heldBytes -= next.frame.bytes;
      if (next.position <= this.lastSent.position) continue;
      if (!this.fits(next.frame.bytes)) await this.drained();
      if (this.closed) return false;
      if (this.letGo) return true;
      this.send(next.frame, next.position, next.frame.id);
      this.options.counters.sent(1);
    }
    return true;
  }
}
