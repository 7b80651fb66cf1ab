import { eventHash } from '../integrity/event-hash.js';
import type { LogEvent, Severity } from '../schemas/log-event.js';

// The logs table as every SQLite adapter reads it (the log store creates it, the feed and the
// integrity store read it): its columns and the row-to-event mapper.

export const COLUMNS =
  'id, tenant_id, user_id, action, resource_type, resource_id, ts, received_at, ip_address, user_agent, severity, before, after, metadata, hash';

export interface Row {
  id: string;
  tenant_id: string;
  user_id: string;
  action: string;
  resource_type: string;
  resource_id: string | null;
  ts: string;
  received_at: string;
  ip_address: string | null;
  user_agent: string | null;
  severity: Severity;
  before: string | null;
  after: string | null;
  metadata: string | null;
  hash: string | null;
}

/** A row of the logs table back to the API's event. */
export function rowToEvent(row: Row): LogEvent {
  const event: LogEvent = {
    id: row.id,
    tenant_id: row.tenant_id,
    user_id: row.user_id,
    action: row.action,
    resource_type: row.resource_type,
    resource_id: row.resource_id,
    timestamp: row.ts,
    received_at: row.received_at,
    ip_address: row.ip_address,
    user_agent: row.user_agent,
    before: row.before === null ? null : JSON.parse(row.before),
    after: row.after === null ? null : JSON.parse(row.after),
    metadata: row.metadata === null ? null : JSON.parse(row.metadata),
    severity: row.severity,
  };
  // Rows written before events carried a hash get theirs computed from what is stored. Set on the
  // event itself (the last key, as before): a spread copy per row was an export's second object (#15).
  event.hash = row.hash ?? eventHash(event);
  return event;
}

/** A column as a JSON value in SQL: json_quote escapes a string exactly as JSON.stringify does, NULL becomes null. */
const quoted = (column: string) => `json_quote(${column})`;
/** A column that holds JSON text written by JSON.stringify, or NULL. */
const stored = (column: string) => `coalesce(${column}, 'null')`;
const EVENT_JSON_FIELDS: [key: string, sql: string][] = [
  ['id', quoted('id')],
  ['tenant_id', quoted('tenant_id')],
  ['user_id', quoted('user_id')],
  ['action', quoted('action')],
  ['resource_type', quoted('resource_type')],
  ['resource_id', quoted('resource_id')],
  ['timestamp', quoted('ts')],
  ['received_at', quoted('received_at')],
  ['ip_address', quoted('ip_address')],
  ['user_agent', quoted('user_agent')],
  ['before', stored('before')],
  ['after', stored('after')],
  ['metadata', stored('metadata')],
  ['severity', quoted('severity')],
  ['hash', quoted('hash')],
];

/**
 * `JSON.stringify(rowToEvent(row))`, byte for byte, as an SQL expression over a row of the logs
 * table; NULL for a row without a stored hash (rowToEvent computes that one, so it takes the long
 * way). The keys in rowToEvent's order; before, after and metadata are JSON text already, written
 * by JSON.stringify, and stringify(parse(text)) gives that text back (stringify's output is
 * canonical for its value), so they go in as stored. An export built the line in JavaScript from
 * the parsed row: reading fifteen columns into an object per row was most of its cost (#15).
 */
export const EVENT_JSON_SQL = `CASE WHEN hash IS NOT NULL THEN '{' || ${EVENT_JSON_FIELDS.map(
  ([key, sql], index) => `'${index === 0 ? '' : ','}"${key}":' || ${sql}`,
).join(' || ')} || '}' END`;
