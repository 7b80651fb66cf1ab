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
