import { Counter, Gauge, type Registry } from 'prom-client';

export type CloseReason = 'tenant_limit' | 'token_expired' | 'dead_peer';

export interface StreamMetrics {
  sent: Counter;
  dropped: Counter;
  closed: Counter<'reason'>;
}

/** What the gauges read at scrape time, so they show the sockets' real buffers, not a tally. */
export interface StreamGauges {
  connections(): number;
  bufferedBytes(): number[];
}

/** The stream's Prometheus series; an operator watches dropped events and the largest backlog. */
export function registerStreamMetrics(registry: Registry, gauges: StreamGauges): StreamMetrics {
  new Gauge({
    name: 'logserver_stream_connections',
    help: 'Open live-stream connections on this replica',
    registers: [registry],
    collect() {
      this.set(gauges.connections());
    },
  });
  new Gauge({
    name: 'logserver_stream_buffered_bytes_max',
    help: 'The largest send backlog of any one stream connection, in bytes (bounded by STREAM_BUFFER_BYTES)',
    registers: [registry],
    collect() {
      this.set(Math.max(0, ...gauges.bufferedBytes()));
    },
  });
  new Gauge({
    name: 'logserver_stream_buffered_bytes_total',
    help: 'The send backlog of all stream connections together, in bytes',
    registers: [registry],
    collect() {
      this.set(gauges.bufferedBytes().reduce((sum, bytes) => sum + bytes, 0));
    },
  });
  return {
    sent: new Counter({ name: 'logserver_stream_events_sent_total', help: 'Events sent to stream clients', registers: [registry] }),
    dropped: new Counter({
      name: 'logserver_stream_events_dropped_total',
      help: 'Events not sent because the client was too far behind (each client is told the count)',
      registers: [registry],
    }),
    closed: new Counter({
      name: 'logserver_stream_closed_total',
      help: 'Stream connections the server closed, by reason',
      labelNames: ['reason'],
      registers: [registry],
    }),
  };
}
