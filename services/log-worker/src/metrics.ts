import type { WorkerStats } from '@logserver/shared/pipeline/store-handler';
import type { SqsConsumerStats } from '@logserver/shared/sqs/log-queue';
import { Counter, Histogram, type Registry } from 'prom-client';

type Source = () => number;

/** A counter read from the worker's own tallies at scrape time, so /stats and /metrics never disagree. */
function tally(registry: Registry, name: string, help: string, read: Source): void {
  new Counter({
    name,
    help,
    registers: [registry],
    collect() {
      this.reset();
      this.inc(read());
    },
  });
}

/** The worker's Prometheus metrics; returns the histogram the batch handler times itself with. */
export function registerWorkerMetrics(registry: Registry, queue: SqsConsumerStats, worker: WorkerStats): Histogram {
  tally(registry, 'log_worker_messages_received_total', 'SQS messages received', () => queue.messagesReceived);
  tally(registry, 'log_worker_messages_deleted_total', 'SQS messages deleted after their events were stored', () => queue.messagesDeleted);
  tally(
    registry,
    'log_worker_messages_failed_total',
    'SQS messages whose batch could not be stored (delivered again)',
    () => queue.messagesFailed,
  );
  tally(
    registry,
    'log_worker_messages_dead_lettered_total',
    'Unreadable SQS messages sent to the dead-letter queue',
    () => queue.messagesDeadLettered,
  );
  tally(registry, 'log_worker_receive_errors_total', 'ReceiveMessage calls that failed', () => queue.receiveErrors);
  tally(
    registry,
    'log_worker_visibility_lapses_total',
    'SQS messages deleted after their visibility timeout may have run out (SQS may deliver them again: duplicates, not stored twice)',
    () => queue.visibilityLapses,
  );
  tally(registry, 'log_worker_events_stored_total', 'Events newly stored', () => worker.events_stored);
  tally(registry, 'log_worker_events_duplicate_total', 'Redelivered events the store already had', () => worker.events_duplicate);
  return new Histogram({
    name: 'log_worker_batch_duration_seconds',
    help: 'Time to store one received batch, by outcome',
    labelNames: ['outcome'],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });
}
