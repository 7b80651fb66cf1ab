import { withHash } from '@logserver/shared/integrity/event-hash';
import { LIMITS } from '@logserver/shared/schemas/limits';
import type { LogEvent, Severity } from '@logserver/shared/schemas/log-event';

export interface Caller {
  tenant: string;
  sub: string;
  ip: string | null;
  userAgent: string | null;
}

/**
 * The audit event a reader or cleaner leaves behind: audit systems audit their own readers, so
 * every export and every cleanup is recorded in the tenant it touched, by the caller who did it.
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
