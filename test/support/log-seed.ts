import type { LogEvent } from '@logserver/shared/schemas/log-event';
import { makeEvent } from '@logserver/testing/events';
import { call } from './all-in-one.js';

/** A client's event body made from the shared test generator: the server's own fields (hash included) and nulls left out. */
export function clientEvent(random: () => number, overrides: Partial<LogEvent> = {}): Record<string, unknown> {
  const {
    id: _id,
    tenant_id: _tenant,
    user_id: _user,
    received_at: _received,
    hash: _hash,
    ...fields
  } = makeEvent('unused', overrides, random);
  return Object.fromEntries(Object.entries(fields).filter(([, value]) => value !== null));
}

/** POSTs events through the bulk route in chunks of at most 1000; returns what the server stored. */
export async function postBulk(url: string, token: string, bodies: readonly unknown[]): Promise<LogEvent[]> {
  const stored: LogEvent[] = [];
  for (let start = 0; start < bodies.length; start += 1000) {
    const response = await call(`${url}/api/v1/logs/bulk`, { token, body: bodies.slice(start, start + 1000) });
    if (response.status !== 200) throw new Error(`bulk POST answered ${response.status}: ${response.text.slice(0, 500)}`);
    stored.push(...(response.body.data as LogEvent[]));
  }
  return stored;
}

/** (timestamp, id) order, newest first when desc: the order every list and export promises. */
export function ordered(events: readonly LogEvent[], sort: 'asc' | 'desc'): LogEvent[] {
  const rows = [...events].sort((a, b) => (a.timestamp === b.timestamp ? (a.id < b.id ? -1 : 1) : a.timestamp < b.timestamp ? -1 : 1));
  return sort === 'desc' ? rows.reverse() : rows;
}

const TEXT_FIELDS = ['action', 'resource_type', 'resource_id', 'user_id', 'ip_address', 'user_agent', 'severity'] as const;
const JSON_FIELDS = ['before', 'after', 'metadata'] as const;

/**
 * The filters of DESIGN §3 written out again from the query string, independently of the server's
 * filter code, so a test's expected answer never comes from the code under test.
 */
export function matchesQuery(event: LogEvent, params: URLSearchParams): boolean {
  for (const [key, value] of params) {
    switch (key) {
      case 'action':
      case 'resource_type':
      case 'resource_id':
      case 'user_id':
      case 'ip_address':
        if (event[key] !== value) return false;
        break;
      case 'severity':
        if (!value.toUpperCase().split(',').includes(event.severity)) return false;
        break;
      case 'user_agent':
        if (!(event.user_agent ?? '').toLowerCase().includes(value.toLowerCase())) return false;
        break;
      case 'from':
        if (Date.parse(event.timestamp) < Date.parse(value)) return false;
        break;
      case 'to':
        if (Date.parse(event.timestamp) >= Date.parse(value)) return false;
        break;
      case 'timestamp':
        if (event.timestamp.slice(0, 10) !== value) return false;
        break;
      case 'search': {
        const needle = value.toLowerCase();
        const inText = TEXT_FIELDS.some((field) => (event[field] ?? '').toLowerCase().includes(needle));
        const inJson = JSON_FIELDS.some((field) => event[field] !== null && JSON.stringify(event[field]).toLowerCase().includes(needle));
        if (!inText && !inJson) return false;
        break;
      }
      default:
        break;
    }
  }
  return true;
}
