import { randomUUID } from 'node:crypto';
import { selfAuditEvent } from '@logserver/shared/integrity/self-audit';
import { tenantOf } from '@logserver/shared/store/tenant-id';
import type { RunningServer } from './all-in-one.js';

/**
 * What a writer with the database but not the signing key can do: delete a tenant's events older
 * than `before` through the store, with the cleanup record and tombstones a real cleanup writes, and
 * store a `logs.cleanup` audit event that says the same, without the server's signature (the API
 * refuses `logs.*` actions; the store does not). Returns how many events it deleted.
 */
export async function forgeUnsignedCleanup(server: RunningServer, tenant: string, before: string): Promise<number> {
  const { logs } = server.app.stores;
  const auditEventId = randomUUID();
  const deleted = await logs.deleteOlderThan(tenantOf({ tenant }), before, { auditEventId });
  await logs.append(tenantOf({ tenant }), [
    selfAuditEvent(
      'logs.cleanup',
      { tenant, sub: 'admin', ip: null, userAgent: null },
      { parameters: { before }, before, deleted_count: deleted },
      auditEventId,
      new Date(),
    ),
  ]);
  return deleted;
}

/** 20 events: 10 recent, and between them 10 from 2020-01-01 to 10, so a cleanup's tombstones sit among kept leaves. */
export const interleavedOldAndRecent = () =>
  Array.from({ length: 20 }, (_, index) =>
    index % 2 === 0
      ? { action: 'recent', resource_type: 'r' }
      : { action: 'old', resource_type: 'r', timestamp: `2020-01-${String(1 + (index - 1) / 2).padStart(2, '0')}T00:00:00Z` },
  );
