import { ADMINS } from '@logserver/shared/auth/rbac';
import { ok } from '@logserver/shared/http/envelope';
import { signCleanup } from '@logserver/shared/integrity/cleanup-signature';
import { selfAuditEvent } from '@logserver/shared/integrity/self-audit';
import type { SigningKey } from '@logserver/shared/integrity/signing-key';
import type { LogQueue } from '@logserver/shared/queue/port';
import type { EventCopies } from '@logserver/shared/retention/job';
import { CleanupQuery } from '@logserver/shared/schemas/log-query';
import { errorResponses, okEnvelope } from '@logserver/shared/schemas/responses';
import type { LogStore } from '@logserver/shared/store/port';
import { tenantOf } from '@logserver/shared/store/tenant-id';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { callerOf, queryAsGiven } from '../request-caller.js';
import { cleanupCutoff } from '../rules/cleanup.js';

/** What cleanup uses: the store to delete, the queue for its own audit record, ids and times. */
export interface CleanupDeps {
  store: Pick<LogStore, 'deleteOlderThan' | 'stats'>;
  queue: Pick<LogQueue, 'publish'>;
  /** The streams' dead letters: their copies of the deleted events go too. */
  copies?: EventCopies | undefined;
  newId: () => string;
  now: () => Date;
  /** Where this process holds the log's signing key (the all-in-one), cleanups are signed with it. */
  integrity?: { signer?: { key: () => SigningKey } | undefined } | undefined;
}

/** Cleanup (admin): deletes the tenant's older events, then records that it did as a `logs.cleanup` event. */
export function cleanupRoutes(deps: CleanupDeps): FastifyPluginAsyncZod {
  return async (app) => {
    app.delete(
      '/api/v1/logs/cleanup',
      {
        config: { audience: ADMINS },
        schema: {
          tags: ['logs'],
          summary: 'Delete the tenant’s events older than a cut-off (admin)',
          description:
            'Exactly one of before=<ISO date or date-time> (2025-06-27 means its midnight UTC, the same forms as the list filters), older_than_days=<N> or all=true. Events strictly older than the cut-off are deleted; one exactly at it is kept. The cleanup is then recorded as a `logs.cleanup` event with the parameters and the count. dry_run=true deletes nothing and records nothing: it answers the count the same request would delete (would_delete_count).',
          querystring: CleanupQuery,
          response: {
            200: okEnvelope(
              z.object({
                deleted_count: z.number().int(),
                dry_run: z.boolean().optional(),
                would_delete_count: z.number().int().optional(),
                before: z.string().nullable().optional(),
              }),
            ),
            ...errorResponses(401, 403, 422, 503),
          },
        },
      },
      async (request) => {
        const now = deps.now();
        const before = cleanupCutoff(request.query, now);
        if (request.query.dry_run) {
          // The store's counts, with the cut-off as an exclusive `to`: the events deleteOlderThan would take.
          const stats = await deps.store.stats(tenantOf(request.identity), before === null ? {} : { to: before }, { groupBy: 'severity' });
          const would_delete_count = Object.values(stats.totals).reduce((sum, n) => sum + n, 0);
          return ok({ deleted_count: 0, dry_run: true, would_delete_count, before });
        }
        // The audit event's id is known before the delete, so the store's record of what went names it (docs/tamper-evidence.md).
        const auditEventId = deps.newId();
        const tenant = tenantOf(request.identity);
        const deleted_count = await deps.store.deleteOlderThan(tenant, before, { auditEventId });
        // The same cut-off for the copies waiting in the tenant's dead letters (docs/streams.md "Dead letters and retention").
        const cutoff = before === null ? Number.POSITIVE_INFINITY : Date.parse(before);
        await deps.copies?.pruneDeadLetters(tenant, (event) => Date.parse(event.timestamp) < cutoff);
        const caller = callerOf(request);
        const at = deps.now();
        const metadata: Record<string, unknown> = { parameters: queryAsGiven(request.url), before, deleted_count };
        // The server's mark (cleanup-signature.ts): what a writer with only the database cannot make.
        const key = deps.integrity?.signer?.key();
        if (key !== undefined)
          metadata.signature = signCleanup(key, {
            tenant: caller.tenant,
            id: auditEventId,
            timestamp: at.toISOString(),
            before,
            deleted_count,
            by: 'request',
          });
        await deps.queue.publish([selfAuditEvent('logs.cleanup', caller, metadata, auditEventId, at)]);
        return ok({ deleted_count });
      },
    );
  };
}
