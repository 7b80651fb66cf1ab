import type { CommitPosition } from '../integrity/port.js';
import type { LogEvent } from '../schemas/log-event.js';
import type { LogFilter } from '../store/port.js';
import type { TenantId } from '../store/tenant-id.js';

/** Every event field a stats answer can be grouped on (DESIGN §8: "any event field"). */
export const GROUPABLE_FIELDS = ['severity', 'action', 'resource_type', 'resource_id', 'user_id', 'ip_address', 'user_agent'] as const;
export type GroupableField = (typeof GROUPABLE_FIELDS)[number];

export const ANALYTICS_INTERVALS = ['minute', 'hour', 'day', 'week', 'month'] as const;
export type AnalyticsInterval = (typeof ANALYTICS_INTERVALS)[number];

export interface AnalyticsStatsRequest {
  /** One or two fields; a missing value (no resource_id, ip_address or user_agent) groups as "". */
  groupBy: readonly [GroupableField] | readonly [GroupableField, GroupableField];
  interval?: AnalyticsInterval | undefined;
  /** Keep only the N values of the first field with the most events (ties by value). */
  top?: number | undefined;
  /** The most groups (pairs, with two fields) an answer may hold; more is a TooManyGroups error. */
  maxGroups: number;
  /** The most (group, bucket) counts an answer may hold; more is a 422 too. */
  maxCells: number;
}

/** One count: the group's values in groupBy order, and the bucket start (ISO) with an interval. */
export interface AnalyticsCount {
  keys: string[];
  bucket: string | null;
  n: number;
}

export interface AnalyticsStatsResult {
  counts: AnalyticsCount[];
  /** Events in groups that top=N left out. */
  others: number;
}

/** Where the sink has copied the primary store to, kept in the analytics store itself. */
export interface SinkCheckpoint {
  /** The last commit position copied; null before the first event. */
  position: CommitPosition | null;
  /** The last cleanup whose deletions were applied (0: none). */
  cleanupId: number;
  /** When the sink last read the primary store to its end: every event committed before is counted. */
  caughtUpAt: string | null;
}

export interface PositionedEvent {
  position: CommitPosition;
  event: LogEvent;
}

/**
 * The analytics copy of the events: a column store fed by the sink, read by stats. Writes are
 * idempotent (a redelivered event counts once) and reads are exact, never "eventually deduplicated".
 * Every read takes the tenant first.
 */
export interface AnalyticsStore {
  /** Creates the database and tables when missing. */
  migrate(): Promise<void>;
  /** Writes the events; writing an event again (same tenant, id, position) changes no count. */
  insert(events: readonly PositionedEvent[]): Promise<void>;
  /** Removes the tenant's events with these ids; ids not present are ignored. */
  deleteIds(tenant: TenantId, ids: readonly string[]): Promise<void>;
  loadCheckpoint(): Promise<SinkCheckpoint>;
  /** Saves the checkpoint; the position never moves back, even when two sinks race. */
  saveCheckpoint(checkpoint: SinkCheckpoint): Promise<void>;
  /** Counts the tenant's matching events, exactly. Throws TooManyGroups past request.maxGroups. */
  stats(tenant: TenantId, filter: LogFilter, request: AnalyticsStatsRequest): Promise<AnalyticsStatsResult>;
  /** Matching events of the tenant (the conformance suite's check of what is stored). */
  count(tenant: TenantId, filter: LogFilter): Promise<number>;
  /** Throws when the store cannot serve. */
  ping(): Promise<void>;
  close(): Promise<void>;
}

/** A cleanup as the sink replays it: which tenant, and whether it has finished deleting. */
export interface CleanupEntry {
  cleanupId: number;
  tenant: TenantId;
  deletedAt: string;
  finished: boolean;
}

/**
 * The primary store's commit order, as the sink follows it (SQLite: the logs row seq; MongoDB: the
 * position the integrity store gives each event once it sees it committed).
 */
export interface CommitLog {
  /** Up to `limit` events of every tenant committed after `after` (null: from the first), in commit order. */
  committedAfter(after: CommitPosition | null, limit: number): Promise<PositionedEvent[]>;
  /** The last commit position, or null when nothing is stored. */
  head(): Promise<CommitPosition | null>;
  /** Up to `limit` cleanups after `afterId`, in order. */
  cleanupsAfter(afterId: number, limit: number): Promise<CleanupEntry[]>;
  /** Up to `limit` of the ids one cleanup deleted, above `afterId` in id order. */
  deletedIds(cleanupId: number, afterId: string, limit: number): Promise<string[]>;
  close(): Promise<void>;
}
