import type { LogEvent } from '../schemas/log-event.js';
import type { TenantId } from '../store/tenant-id.js';

export type FeedListener = (event: LogEvent) => void;

export interface LogFeed {
  /**
   * Calls the listener with each of the tenant's events after it is stored, in the order stored,
   * on every replica. Returns the function that stops it.
   */
  subscribe(tenant: TenantId, listener: FeedListener): () => void;
  /** Starts whatever the feed watches; idempotent. */
  start(): Promise<void>;
  close(): Promise<void>;
}

/** A feed told about stores by the code that made them (one process). */
export interface LocalLogFeed extends LogFeed {
  /** Announces events that were just committed; only newly inserted ones, never duplicates. */
  publish(events: readonly LogEvent[]): void;
}
