import { Gauge, type Registry } from 'prom-client';
import type { DeliveryStatus, StreamDeliverer } from './deliverer.js';

const LABELS = ['tenant', 'destination', 'kind'] as const;

/**
 * Each destination this process delivers, read from the deliverer at scrape time. Labelled by
 * tenant and destination id: at most STREAM_MAX_ACTIVE series each, the destinations this replica
 * holds (another replica reports the ones it holds). Counters are the destination's totals as
 * stored, so they continue across restarts and lease moves.
 */
export function registerStreamMetrics(registry: Registry, deliverer: StreamDeliverer): void {
  const series = (name: string, help: string, read: (status: DeliveryStatus) => number) =>
    new Gauge({
      name,
      help,
      labelNames: LABELS,
      registers: [registry],
      collect() {
        this.reset();
        for (const status of deliverer.statuses()) {
          this.set({ tenant: status.tenant, destination: status.destinationId, kind: status.kind }, read(status));
        }
      },
    });
  series('stream_destination_delivered_events', 'Events a log-stream destination accepted (its stored total)', (s) => s.progress.delivered);
  series(
    'stream_destination_failed_attempts',
    'Delivery attempts to a log-stream destination that failed (each retry counts)',
    (s) => s.progress.failedAttempts,
  );
  series(
    'stream_destination_dead_lettered_events',
    'Events moved to a destination’s dead-letter list (its stored total)',
    (s) => s.progress.deadLettered,
  );
  series('stream_destination_dead_letters', 'Batches in a destination’s dead-letter list now', (s) => s.deadLetters);
  series(
    'stream_destination_lag_positions',
    'Commit positions between the store’s head and what the destination has',
    (s) => s.lagPositions,
  );
  series(
    'stream_destination_lag_seconds',
    'Seconds since the oldest event not yet delivered was received (0 when caught up)',
    (s) => s.lagSeconds,
  );
}
