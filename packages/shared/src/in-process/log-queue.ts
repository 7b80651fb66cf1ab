import DataLoader from 'dataloader';
import { Unavailable } from '../errors/catalogue.js';
import type { BatchHandler, LogQueue } from '../queue/port.js';
import type { LogEvent } from '../schemas/log-event.js';

/** Most events one store transaction takes: the bulk limit, so a bulk request is never split. */
const MAX_BATCH = 1000;

/**
 * The all-in-one queue: write-through to the consumer (the worker, which appends to the store),
 * so publish resolves exactly when the events are committed. Publishes made in the same tick are
 * gathered into one call (group commit), which turns many small transactions into one.
 */
export class InProcessLogQueue implements LogQueue {
  private handler: BatchHandler | null = null;
  private closed = false;
  /** The batch being stored: the next one gathers until it is done (one commit in flight). */
  private inFlight: Promise<unknown> = Promise.resolve();
  private readonly loader = new DataLoader<LogEvent, true>(
    async (events) => {
      if (!this.handler) throw new Unavailable('no consumer is attached to the queue');
      const stored = this.handler([...events]);
      this.inFlight = stored.catch(() => {});
      await stored;
      return events.map(() => true as const);
    },
    // setImmediate gathers every request parsed in the same I/O phase, not just one tick's; while
    // a commit is being made durable (in the append thread), what arrives gathers into the next.
    { cache: false, maxBatchSize: MAX_BATCH, batchScheduleFn: (flush) => void this.inFlight.then(() => setImmediate(flush)) },
  );

  async publish(events: LogEvent[]): Promise<void> {
    if (this.closed) throw new Unavailable('the queue is closed');
    if (!this.handler) throw new Unavailable('no consumer is attached to the queue');
    await this.loader.loadMany(events).then((results) => {
      const failed = results.find((result) => result instanceof Error);
      if (failed) throw failed;
    });
  }

  async consume(handler: BatchHandler): Promise<void> {
    this.handler = handler;
  }

  async ping(): Promise<void> {
    if (this.closed) throw new Unavailable('the queue is closed');
  }

  async close(): Promise<void> {
    this.closed = true;
  }
}
