import { Counter, Gauge, type Registry } from 'prom-client';

export type CloseReason = 'tenant_limit' | 'server_limit' | 'token_expired' | 'dead_peer' | 'store_failed';

export interface StreamMetrics {
  sent: Counter;
  replayed: Counter;
  catchUps: Counter;
  closed: Counter<'reason'>;
}

/** What the gauges read at scrape time, so they show the connections' real buffers, not a tally. */
export interface StreamGauges {
  connections(): number;
  /** Per connection: socket backlog plus the live events it holds while catching up. */
  bufferedBytes(): number[];
}

/** The stream's Prometheus series; an operator watches catch-ups and the largest backlog. */
export function registerStreamMetrics(registry: Registry, gauges: StreamGauges): StreamMetrics {
  new Gauge({
    name: 'logserver_stream_connections',
    help: 'Open live-stream connections (WebSocket and SSE) on this replica',
    registers: [registry],
    collect() {
      this.set(gauges.connections());
    },
  });
  new Gauge({
    name: 'logserver_stream_buffered_bytes_max',
    help: 'The largest backlog of any one stream connection (socket plus held live events), in bytes (bounded by STREAM_BUFFER_BYTES)',
    registers: [registry],
    collect() {
      this.set(Math.max(0, ...gauges.bufferedBytes()));
    },
  });
  new Gauge({
    name: 'logserver_stream_buffered_bytes_total',
    help: 'The backlog of all stream connections together, in bytes',
    registers: [registry],
    collect() {
      this.set(gauges.bufferedBytes().reduce((sum, bytes) => sum + bytes, 0));
    },
  });
  return {
    sent: new Counter({ name: 'logserver_stream_events_sent_total', help: 'Events sent live to stream clients', registers: [registry] }),
    replayed: new Counter({
      name: 'logserver_stream_events_replayed_total',
      help: 'Events sent from the store: replays after a cursor and catch-ups of slow clients',
      registers: [registry],
    }),
    catchUps: new Counter({
      name: 'logserver_stream_catch_ups_total',
      help: 'Times a client fell behind and was caught up from the store (nothing is dropped)',
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
