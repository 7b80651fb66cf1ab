import type { LogEvent } from '../schemas/log-event.js';
import type { LogFilter } from '../store/port.js';
import type { TenantId } from '../store/tenant-id.js';

/** An event with its commit position: every event committed after it has a higher position. */
export interface CommittedEvent {
  event: LogEvent;
  position: number;
}

export type FeedListener = (event: LogEvent, position: number) => void;

export interface LogFeed {
  /**
   * Calls the listener with each of the tenant's events after it is stored, with its commit
   * position, in commit (position) order, on every replica. Returns the function that stops it.
   */
  subscribe(tenant: TenantId, listener: FeedListener): () => void;
  /** Starts whatever the feed watches; idempotent. */
  start(): Promise<void>;
  close(): Promise<void>;
}

/** A feed that the code which stored events can tell to look now, instead of at its next poll. */
export interface LocalLogFeed extends LogFeed {
  /** Says that these events were just committed; the feed reads them, with their positions, from the store. */
  committed(events: readonly LogEvent[]): void;
}

/**
 * The tenant's events in commit order, read from the store: what a resumed stream or export
 * replays. Positions are those the feed hands out (SQLite `seq`; MongoDB `position`). (Not the
 * analytics sink's CommitLog in analytics/port.ts, which reads every tenant's commits and cleanups.)
 */
export interface StreamLog {
  /** The tenant's events that match the filter and were committed after `position`, in commit order, at most `limit`. */
  after(tenant: TenantId, position: number, filter: LogFilter, limit: number): Promise<CommittedEvent[]>;
  /** The highest position given to any event so far (0 when none): a starting point that names no event. */
  head(): Promise<number>;
  /** Whether the tenant still stores the event with that id (a cleanup may have deleted it). */
  holds(tenant: TenantId, id: string): Promise<boolean>;
  close(): Promise<void>;
}
