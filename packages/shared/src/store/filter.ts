import type { LogEvent } from '../schemas/log-event.js';
import type { LogFilter } from './port.js';

const SEARCHED_TEXT = ['action', 'resource_type', 'resource_id', 'user_id', 'ip_address', 'user_agent', 'severity'] as const;
const SEARCHED_JSON = ['before', 'after', 'metadata'] as const;

/**
 * The filter semantics in one plain function: the stream applies it to live events, and the
 * conformance suite uses it as the independent answer every store's query must agree with.
 * Searched JSON is matched against its JSON text, as the stores index it.
 */
export function matchesFilter(event: LogEvent, filter: LogFilter): boolean {
  if (filter.action !== undefined && event.action !== filter.action) return false;
  if (filter.resource_type !== undefined && event.resource_type !== filter.resource_type) return false;
  if (filter.resource_id !== undefined && event.resource_id !== filter.resource_id) return false;
  if (filter.user_id !== undefined && event.user_id !== filter.user_id) return false;
  if (filter.ip_address !== undefined && event.ip_address !== filter.ip_address) return false;
  if (filter.severity !== undefined && !filter.severity.includes(event.severity)) return false;
  if (filter.user_agent !== undefined && !(event.user_agent ?? '').toLowerCase().includes(filter.user_agent.toLowerCase())) {
    return false;
  }
  if (filter.from !== undefined && event.timestamp < filter.from) return false;
  if (filter.to !== undefined && event.timestamp >= filter.to) return false;
  if (filter.search !== undefined) {
    const needle = filter.search.toLowerCase();
    if (!searchableTexts(event).some((text) => text.includes(needle))) return false;
  }
  return true;
}

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
