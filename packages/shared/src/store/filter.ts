import type { LogEvent } from '../schemas/log-event.js';
import { LOG_FILTER_FIELDS } from '../schemas/log-query.js';
import type { LogFilter } from './port.js';

/**
 * How one filter builder handles every field of LogFilter, one entry per field: adding a field to
 * the query schema fails to compile until the in-memory filter and each store's builder say what it means.
 */
export type FilterHandlers<Context, Result = void> = {
  readonly [Field in keyof LogFilter]-?: (value: NonNullable<LogFilter[Field]>, context: Context) => Result;
};

/** Runs the handler of each field the filter sets, in schema order; false from one stops and answers false. */
export function applyFilterHandlers<Context>(filter: LogFilter, handlers: FilterHandlers<Context, unknown>, context: Context): boolean {
  for (const field of LOG_FILTER_FIELDS) {
    const value = filter[field];
    if (value === undefined) continue;
    const handle = handlers[field] as (value: unknown, context: Context) => unknown;
    if (handle(value, context) === false) return false;
  }
  return true;
}

/**
 * Filters no index serves: `search` and `user_agent` are substring tests, so a store reads every
 * event of the tenant's time range for them (bounded by its query timeout, and by the route's caps).
 */
export const needsScan = (filter: LogFilter): boolean => filter.search !== undefined || filter.user_agent !== undefined;

const SEARCHED_TEXT = ['action', 'resource_type', 'resource_id', 'user_id', 'ip_address', 'user_agent', 'severity'] as const;
const SEARCHED_JSON = ['before', 'after', 'metadata'] as const;
/** The columns `search` looks in, for the stores that query them: each text column and each JSON column's text. */
export const SEARCHED_COLUMNS: readonly string[] = [...SEARCHED_TEXT, ...SEARCHED_JSON];

/**
 * The filter semantics in one plain function: the stream applies it to live events, and the
 * conformance suite uses it as the independent answer every store's query must agree with.
 * Searched JSON is matched against its JSON text, as the stores index it.
 */
export function matchesFilter(event: LogEvent, filter: LogFilter): boolean {
  return applyFilterHandlers(filter, EVENT_MATCHES, event);
}

const EVENT_MATCHES: FilterHandlers<LogEvent, boolean> = {
  action: (value, event) => event.action === value,
  resource_type: (value, event) => event.resource_type === value,
  resource_id: (value, event) => event.resource_id === value,
  user_id: (value, event) => event.user_id === value,
  ip_address: (value, event) => event.ip_address === value,
  severity: (value, event) => value.includes(event.severity),
  user_agent: (value, event) => (event.user_agent ?? '').toLowerCase().includes(value.toLowerCase()),
  from: (value, event) => event.timestamp >= value,
  to: (value, event) => event.timestamp < value,
  search: (value, event) => {
    const needle = value.toLowerCase();
    return searchableTexts(event).some((text) => text.includes(needle));
  },
};

/**
 * What `search` looks in, lower-cased: each text field, and each JSON object as its JSON text.
 * A store that cannot run the substring test itself keeps this list beside the event.
 */
export function searchableTexts(event: LogEvent): string[] {
  const texts: string[] = [];
  for (const field of SEARCHED_TEXT) {
    const value = event[field];
    if (value !== null) texts.push(value.toLowerCase());
  }
  for (const field of SEARCHED_JSON) {
    const value = event[field];
    if (value !== null) texts.push(JSON.stringify(value).toLowerCase());
  }
  return texts;
}

/** Orders events as every store pages them: by timestamp, then id. */
export function compareEvents(a: LogEvent, b: LogEvent): number {
  if (a.timestamp !== b.timestamp) return a.timestamp < b.timestamp ? -1 : 1;
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}
