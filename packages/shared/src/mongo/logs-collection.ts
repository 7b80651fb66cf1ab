import { eventHash } from '../integrity/event-hash.js';
import type { LogEvent, Severity } from '../schemas/log-event.js';
import { searchableTexts } from '../store/filter.js';

// The logs collection as every MongoDB adapter reads it (the log store writes it, the change
// stream feed and the integrity store read it): its document shape and the mappers.

/** An event as stored: timestamps as BSON dates so ranges and sorting are date-correct, plus the search texts. */
export interface LogDocument {
  tenant_id: string;
  id: string;
  user_id: string;
  action: string;
  resource_type: string;
  resource_id: string | null;
  timestamp: Date;
  received_at: Date;
  ip_address: string | null;
  user_agent: string | null;
  severity: Severity;
  before: Record<string, unknown> | null;
  after: Record<string, unknown> | null;
  metadata: Record<string, unknown> | null;
  /** The event's integrity hash (RFC 8785 canonical JSON, SHA-256), as it was appended. */
  hash?: string | undefined;
  /** searchableTexts(event): `search` is a substring test over these, never over the raw fields. */
  search_text: string[];
}

export const LOGS_COLLECTION = 'logs';

/** An event as it is stored, with its search texts. */
export function eventToDocument(event: LogEvent): LogDocument {
  return {
    tenant_id: event.tenant_id,
    id: event.id,
    user_id: event.user_id,
    action: event.action,
    resource_type: event.resource_type,
    resource_id: event.resource_id,
    timestamp: new Date(event.timestamp),
    received_at: new Date(event.received_at),
    ip_address: event.ip_address,
    user_agent: event.user_agent,
    severity: event.severity,
    before: event.before,
    after: event.after,
    metadata: event.metadata,
    hash: event.hash,
    search_text: searchableTexts(event),
  };
}

/** A stored document back to the API's event: dates as the same ISO strings that were appended. */
export function documentToEvent(document: Omit<LogDocument, 'search_text'>): LogEvent {
  const event: LogEvent = {
    id: document.id,
    tenant_id: document.tenant_id,
    user_id: document.user_id,
    action: document.action,
    resource_type: document.resource_type,
    resource_id: document.resource_id,
    timestamp: document.timestamp.toISOString(),
    received_at: document.received_at.toISOString(),
    ip_address: document.ip_address,
    user_agent: document.user_agent,
    before: document.before,
    after: document.after,
    metadata: document.metadata,
    severity: document.severity,
  };
  // Documents written before events carried a hash get theirs computed from what is stored.
  return { ...event, hash: document.hash ?? eventHash(event) };
}
