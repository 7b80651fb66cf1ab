import { LIMITS } from '../schemas/limits.js';
import type { LogEvent, Severity } from '../schemas/log-event.js';
import { withHash } from './event-hash.js';

export interface Caller {
  tenant: string;
  sub: string;
  ip: string | null;
  userAgent: string | null;
}

/**
 * The audit event a reader or cleaner leaves behind: audit systems audit their own readers, so
 * every export and every cleanup is recorded in the tenant it touched, by the caller who did it
 * (a request's caller, or the retention policy: `RETENTION_ACTOR` with no address).
 */
export function selfAuditEvent(
  action: 'logs.export' | 'logs.cleanup',
  caller: Caller,
  metadata: Record<string, unknown>,
  id: string,
  now: Date,
): LogEvent {
  const at = now.toISOString();
  const severity: Severity = action === 'logs.cleanup' ? 'WARNING' : 'INFO';
  return withHash({
    id,
    tenant_id: caller.tenant,
    user_id: caller.sub,
    action,
    resource_type: 'logs',
    resource_id: null,
    timestamp: at,
    received_at: at,
    ip_address: caller.ip,
    user_agent: caller.userAgent === null ? null : caller.userAgent.slice(0, LIMITS.userAgent),
    before: null,
    after: null,
    metadata,
    severity,
  });
}
