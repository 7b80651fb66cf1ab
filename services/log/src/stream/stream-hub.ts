import { setTimeout as delay } from 'node:timers/promises';
import type { LogFeed, StreamLog } from '@logserver/shared/feed/port';
import type { LogEvent } from '@logserver/shared/schemas/log-event';
import type { LogFilter } from '@logserver/shared/store/port';
import type { TenantId } from '@logserver/shared/store/tenant-id';
import type { CursorCodec, StreamPosition } from '@logserver/shared/stream/cursor';
import { Registry } from 'prom-client';
import { type EventFrame, eventFrame, notice } from './frames.js';
import { CLOSE, REPLAY_PAGE_SIZE, type StreamLimits } from './limits.js';
import { ResumableSubscription, type StreamWire } from './resumable-subscription.js';
import { type CloseReason, registerStreamMetrics, type StreamMetrics } from './stream-metrics.js';
import { TenantConnections } from './tenant-connections.js';
import { atExpiry } from './timers.js';

/** How long a closing connection waits for its head to be read, to give the client a cursor. */
const CLOSE_CURSOR_WAIT_MS = 2000;

export interface StreamRequest {
  tenant: TenantId;
  filter: LogFilter;
  /** The decoded cursor to resume after (`after=` or Last-Event-ID), or null to start from now. */
  after: StreamPosition | null;
  /** The token's exp in seconds since the epoch; undefined for tokens without one. */
  exp: number | undefined;
}

/** One client connection as the hub sees it: a WebSocket or an SSE response. */
export interface StreamConnection {
  wire: StreamWire;
  /** Ends the connection; a WebSocket sends the code and reason in its close frame. */
  close(code: number, reason: string): void;
  /** Keeps the connection alive and finds dead peers; returns the function that stops it. */
  heartbeat(intervalMs: number, onDead: () => void): () => void;
  onClosed(listener: () => void): void;
}

export interface StreamHubDeps {
  feed: LogFeed;
  streamLog: StreamLog;
  cursors: CursorCodec;
}

/**
 * Every live-stream connection of one replica, WebSocket and SSE alike: it enforces the per-tenant
 * and per-process limits, runs each connection's ResumableSubscription, closes connections when
 * their token expires or the server stops, and says in the closing frame and the close reason where
 * to resume.
 */
export class StreamHub {
  private readonly open = new Map<StreamConnection, ResumableSubscription>();
  private readonly tenants: TenantConnections;
  private readonly metrics: StreamMetrics;
  /** A live event's frame, built once however many of its tenant's clients receive it. */
  private readonly frames = new WeakMap<LogEvent, EventFrame>();

  constructor(
    private readonly deps: StreamHubDeps,
    private readonly limits: StreamLimits,
    registry: Registry = new Registry(),
  ) {
    this.tenants = new TenantConnections(limits.maxConnectionsPerTenant);
    this.metrics = registerStreamMetrics(registry, {
      connections: () => this.open.size,
      bufferedBytes: () => [...this.open].map(([connection, subscription]) => connection.wire.bufferedAmount + subscription.heldByteCount),
    });
  }

  get connectionCount(): number {
    return this.open.size;
  }

  serve(connection: StreamConnection, request: StreamRequest): void {
    if (this.open.size >= this.limits.maxConnections) {
      void this.refuse(connection, request, CLOSE.serverLimit(this.limits.maxConnections), 'server_limit');
      return;
    }
    const release = this.tenants.acquire(request.tenant);
    if (!release) {
      void this.refuse(connection, request, CLOSE.tenantLimit(this.limits.maxConnectionsPerTenant), 'tenant_limit');
      return;
    }
    const subscription = new ResumableSubscription({
      tenant: request.tenant,
      filter: request.filter,
      after: request.after,
      feed: this.deps.feed,
      streamLog: this.deps.streamLog,
      cursors: this.deps.cursors,
      wire: connection.wire,
      bufferBytes: this.limits.bufferBytes,
      pageSize: REPLAY_PAGE_SIZE,
      frameOf: (event, position) => this.frameOf(request.tenant, event, position),
      counters: {
        sent: (count) => this.metrics.sent.inc(count),
        replayed: (count) => this.metrics.replayed.inc(count),
        catchingUp: () => this.metrics.catchUps.inc(),
      },
      onFailure: () => void this.closeWith(connection, CLOSE.storeFailed, 'store_failed'),
    });
    this.open.set(connection, subscription);
    let stopExpiry = () => {};
    const stopHeartbeat = connection.heartbeat(this.limits.pingIntervalMs, () => this.metrics.closed.inc({ reason: 'dead_peer' }));
    connection.onClosed(() => {
      subscription.stop();
      stopExpiry();
      stopHeartbeat();
      release();
      this.open.delete(connection);
    });
    // Started before the expiry is armed: a token already expired closes with the head's cursor too.
    subscription.start();
    stopExpiry = atExpiry(request.exp, () => void this.closeWith(connection, CLOSE.tokenExpired, 'token_expired'));
  }

  /** Closes every connection with 1001 and its resume cursor: clients reconnect to another replica. */
  async closeAll(): Promise<void> {
    await Promise.all([...this.open.keys()].map((connection) => this.closeWith(connection, CLOSE.shuttingDown)));
  }

  private frameOf(tenant: TenantId, event: LogEvent, position: number): EventFrame {
    let frame = this.frames.get(event);
    if (frame === undefined) {
      frame = eventFrame(event, this.deps.cursors.encode(tenant, { position, id: event.id }));
      this.frames.set(event, frame);
    }
    return frame;
  }

  /**
   * A last frame and the close reason both carry the cursor to resume from. A connection still reading
   * its head waits for it, at most CLOSE_CURSOR_WAIT_MS; after that (or if the read failed) it closes
   * without a cursor and the client starts from the head again.
   */
  private async closeWith(connection: StreamConnection, close: { code: number; reason: string }, reason?: CloseReason): Promise<void> {
    const subscription = this.open.get(connection);
    if (subscription === undefined) return;
    if (reason) this.metrics.closed.inc({ reason });
    subscription.stop();
    this.open.delete(connection);
    const cursor = await Promise.race([subscription.settledResumeCursor(), delay(CLOSE_CURSOR_WAIT_MS, null, { ref: false })]);
    this.sendClosing(connection, close, cursor);
  }

  /** Refused before it started: the client resumes where it asked to, or from the head when it asked for none. */
  private async refuse(connection: StreamConnection, request: StreamRequest, close: { code: number; reason: string }, reason: CloseReason) {
    this.metrics.closed.inc({ reason });
    let at = request.after;
    if (at === null)
      at = await this.deps.streamLog.head().then(
        (position) => ({ position, id: null }),
        () => null,
      );
    this.sendClosing(connection, close, at === null ? null : this.deps.cursors.encode(request.tenant, at));
  }

  private sendClosing(connection: StreamConnection, close: { code: number; reason: string }, cursor: string | null): void {
    connection.wire.sendNotice(notice({ type: 'closing', code: close.code, reason: close.reason, after: cursor }), () => {});
    connection.close(close.code, cursor === null ? close.reason : `${close.reason}; after=${cursor}`);
  }
}
