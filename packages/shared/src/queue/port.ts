import type { LogEvent } from '../schemas/log-event.js';

/** Stores a delivered batch; throwing leaves the batch to be delivered again. */
export type BatchHandler = (events: LogEvent[]) => Promise<void>;

export interface LogQueue {
  /**
   * Resolves only once the events are durable (accepted by SQS, or committed to the store).
   * Rejects with Unavailable (503) when that cannot happen; nothing is acknowledged then.
   */
  publish(events: LogEvent[]): Promise<void>;
  /** Delivers batches to the handler; a batch is acknowledged only after the handler resolves. */
  consume(handler: BatchHandler): Promise<void>;
  /** Throws when the queue cannot accept work; /readyz calls it. */
  ping(): Promise<void>;
  /** Stops consuming, finishing in-flight batches first. */
  close(): Promise<void>;
}
