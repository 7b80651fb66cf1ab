import type { LogFeed } from '@logserver/shared/feed/port';
import { matchesFilter } from '@logserver/shared/store/filter';
import type { LogFilter } from '@logserver/shared/store/port';
import type { TenantId } from '@logserver/shared/store/tenant-id';
import { Registry } from 'prom-client';
import { WebSocket } from 'ws';
import { BoundedSender } from './bounded-sender.js';
import { CLOSE, type StreamLimits } from './limits.js';
import { registerStreamMetrics, type StreamMetrics } from './stream-metrics.js';
import { TenantConnections } from './tenant-connections.js';
import { atExpiry, keepAlive } from './timers.js';

export interface StreamRequest {
  tenant: TenantId;
  filter: LogFilter;
  /** The token's exp in seconds since the epoch; undefined for tokens without one. */
  exp: number | undefined;
}

/**
 * Every live-stream connection of one replica: it enforces the per-tenant limit, feeds each
 * socket its tenant's matching events through a bounded sender, answers text pings, drops dead
 * peers and closes each connection when its token expires.
 */
export class StreamHub {
  private readonly sockets = new Set<WebSocket>();
  private readonly tenants: TenantConnections;
  private readonly metrics: StreamMetrics;

  constructor(
    private readonly feed: LogFeed,
    private readonly limits: StreamLimits,
    registry: Registry = new Registry(),
  ) {
    this.tenants = new TenantConnections(limits.maxConnectionsPerTenant);
    this.metrics = registerStreamMetrics(registry, {
      connections: () => this.sockets.size,
      bufferedBytes: () => [...this.sockets].map((socket) => socket.bufferedAmount),
    });
  }

  serve(socket: WebSocket, request: StreamRequest): void {
    const release = this.tenants.acquire(request.tenant);
    if (!release) {
      const { code, reason } = CLOSE.tenantLimit(this.limits.maxConnectionsPerTenant);
      this.metrics.closed.inc({ reason: 'tenant_limit' });
      socket.close(code, reason);
      return;
    }
    this.sockets.add(socket);
    const sender = new BoundedSender(socket, this.limits.bufferBytes, (count) => this.metrics.dropped.inc(count));
    const unsubscribe = this.feed.subscribe(request.tenant, (event) => {
      if (socket.readyState !== WebSocket.OPEN || !matchesFilter(event, request.filter)) return;
      if (sender.send(JSON.stringify(event))) this.metrics.sent.inc();
    });
    socket.on('message', (data, isBinary) => {
      // A client that sends pings without reading would otherwise grow its backlog without bound,
      // so a client that is already at its limit gets no answer until it catches up.
      if (!isBinary && data.toString() === 'ping' && socket.bufferedAmount < this.limits.bufferBytes) socket.send('pong');
    });
    const stopExpiry = atExpiry(request.exp, () => {
      this.metrics.closed.inc({ reason: 'token_expired' });
      socket.close(CLOSE.tokenExpired.code, CLOSE.tokenExpired.reason);
    });
    const stopHeartbeat = keepAlive(socket, this.limits.pingIntervalMs, () => this.metrics.closed.inc({ reason: 'dead_peer' }));
    socket.on('close', () => {
      unsubscribe();
      stopExpiry();
      stopHeartbeat();
      release();
      this.sockets.delete(socket);
    });
  }
}
