import type { LogEvent, Severity } from '../schemas/log-event.js';
import type { LogFilter } from '../schemas/log-query.js';
import type { TenantId } from './tenant-id.js';

/** Filters shared by list, export, stats and the stream: derived from the query schema, where each field is described. */
export type { LogFilter } from '../schemas/log-query.js';

export type SortOrder = 'asc' | 'desc';

/** A position in (timestamp, id) order; opaque to clients. */
export interface Position {
  timestamp: string;
  id: string;
}

export type PageRequest =
  | { kind: 'offset'; page: number; size: number; sort: SortOrder }
  | { kind: 'cursor'; after: Position | null; size: number; sort: SortOrder };

export interface LogPage {
  items: LogEvent[];
  /** Matching events in all; only counted for offset paging, where the Python meta needs it. */
  total: number | null;
  /** Where the next page starts, or null when this is the last one. */
  next: Position | null;
}

export type StatsGroup = 'severity' | 'action' | 'resource_type' | 'user_id';

export interface StatsRequest {
  groupBy: StatsGroup;
  interval?: 'hour' | 'day' | undefined;
}

/**
 * Counts by group: only groups with events appear (no zeros). With an interval, `buckets` lists the
 * UTC hours or days that have events, ascending by `start` (ISO, e.g. 2025-06-26T13:00:00.000Z or
 * 2025-06-26T00:00:00.000Z), each with its non-zero counts; the route zero-fills the gaps.
 */
export interface StatsResult {
  totals: Record<string, number>;
  /** How the store counted: from rollups kept at append, or an indexed query over the events. */
  source?: 'rollups' | 'index' | undefined;
  buckets?: { start: string; counts: Record<string, number> }[] | undefined;
}

export interface AppendResult {
  inserted: LogEvent[];
  duplicates: number;
}

/** Why a cleanup ran: the audit event that records it, when the caller wrote one. */
export interface DeleteCause {
  auditEventId?: string | undefined;
  /** Who decided: a request (DELETE /api/v1/logs/cleanup, the default) or the tenant's retention policy. */
  by?: CleanupBy | undefined;
}

export type CleanupBy = 'request' | 'policy';

/** Which of the events before the cut-off a cleanup takes (the retention job's narrower cleanups). */
export interface DeleteScope {
  /** Only events of these severities; every severity when absent. */
  severities?: readonly Severity[] | undefined;
  /** Leaves events with this action (the retention job keeps the `logs.cleanup` records). */
  keepAction?: string | undefined;
  /** Deletes at most this many; the rest waits for the next call. */
  limit?: number | undefined;
}

/** An exported event as JSON text (an NDJSON line without its newline), with its id. */
export interface EventText {
  id: string;
  json: string;
}

/** A LogPage with each event as its JSON text. */
export interface TextPage extends Omit<LogPage, 'items'> {
  items: EventText[];
}

export interface LogStore {
  /**
   * Stores events for one tenant, all or none. Idempotent by (tenant, id): an event already
   * stored is counted as a duplicate and left as it was. Throws if the batch cannot be committed.
   */
  append(tenant: TenantId, events: readonly LogEvent[]): Promise<AppendResult>;
  /** The event with that id in that tenant, or null: another tenant's id is simply not found. */
  get(tenant: TenantId, id: string): Promise<LogEvent | null>;
  /** One page of matching events in (timestamp, id) order. */
  query(tenant: TenantId, filter: LogFilter, page: PageRequest): Promise<LogPage>;
  /** Every matching event in order, read in batches so memory stays flat. */
  export(tenant: TenantId, filter: LogFilter, sort: SortOrder): AsyncIterable<LogEvent>;
  /**
   * The same events as `export`, each as its JSON text: exactly `JSON.stringify` of the event
   * `export` yields, in pages (arrays in order, each what the store read in one go), so a caller
   * handles a page per step instead of an event. Optional: a store that keeps events as JSON text
   * (SQLite) builds it without parsing; without it the caller stringifies `export`'s events.
   */
  exportText?(tenant: TenantId, filter: LogFilter, sort: SortOrder): AsyncIterable<readonly EventText[]>;
  /**
   * query's page with each event as `JSON.stringify(event)`, byte for byte. Optional, as exportText:
   * the list writes its answer from these texts, without parsing a stored event to write it again.
   */
  queryText?(tenant: TenantId, filter: LogFilter, page: PageRequest): Promise<TextPage>;
  /**
   * Counts the tenant's matching events. Must not need a scan of the tenant's events for the
   * grouped fields, severity and whole-hour bounds (keep rollups as events are appended and deleted);
   * other filters may use an indexed query. Counts never include a duplicate append.
   */
  stats(tenant: TenantId, filter: LogFilter, request: StatsRequest): Promise<StatsResult>;
  /**
   * Deletes the tenant's events with timestamp strictly before `before` (one exactly at it stays),
   * or all of them when null, keeping stats consistent; returns how many. Records which events a
   * cleanup deleted, so integrity verify reports them as cleanup, not tampering: the one thing of
   * integrity a log store knows, because the record must commit with the deletion or a crash between them reads as tampering.
   */
  deleteOlderThan(tenant: TenantId, before: string | null, cause?: DeleteCause, scope?: DeleteScope): Promise<number>;
  /** Throws when the store cannot serve; /readyz calls it. */
  ping(): Promise<void>;
  close(): Promise<void>;
}
